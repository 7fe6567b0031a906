"""Side-by-side throughput benchmark: plain Presidio vs this pipeline, same data, one run.

    make bench                          # every section, N=20000 records
    make bench N=2000                   # smaller
    .venv/bin/python bench/run.py --only fixed_cost,pii_dense   # some sections

Sections (each compares within itself, on the same generated export, the same spaCy model,
the same entity set, in one run; each keeps its own date in bench/results.json):
- fixed_cost: whole processes on 20 messages: plain Presidio (bench/presidio_process.py),
  `redact run` with its temporary Prefect server, `redact run` against a running server,
  and plain Presidio's job as the one task of a Prefect flow (bench/prefect_presidio.py).
- chat, pii_dense: one data set each (the chat mix: acks, work chat, some PII; the PII-dense
  mix: a name and other personal data in every message). Rows:
  presidio_batch: BatchAnalyzerEngine + BatchAnonymizerEngine, the model on thinc's default
  BLAS (blis); *_numpy_blas: the same with the model on numpy's BLAS with one thread, as the
  pipeline's workers run it; presidio_batch_n_process_2: Presidio's own scale-out (spaCy's
  pipe in two processes); spacy_floor: nlp.pipe with the components Presidio's analysis uses
  (all but the parser); presidio_process: plain Presidio as a whole process; pipeline:
  `redact run` (one worker thread); pipeline_processes_2: `--runner processes --workers 2`.
  The ratios that lead are equal-resource ones (same cores, same model, same BLAS).
- memory: peak RSS of `redact run` at N and 10 x N, and a rerun with nothing new.
- dask: `--runner dask` on clusters the run starts and on a long-lived one, 1 and 2 workers.
Every figure is the median of --reps repetitions, each on texts its engines have not seen:
Presidio's and spaCy's rows build a fresh analyzer or model per repetition (untimed), as
the pipeline's rows are each a new process. Pipeline docs/s counts the records the run
read over the flow's own plan + process + finalize time (Prefect start-up excluded, given
separately as wall_s, the whole process). Peak RSS is that of the measured process.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import yaml

REPO = Path(__file__).resolve().parent.parent
REDACT = str(Path(sys.executable).parent / "redact")
SECRET = "bench-secret-not-for-real-data-0000"


# --model: another spaCy model than the sample config's, for every row of the run.
MODEL_OVERRIDE: list[str] = []


def make_export(directory: Path, n: int, mix: str = "chat", seed: int = 11) -> Path:
    """n messages of a mix (redactors.testing.synth_chat), every user opted in, and a config
    pointing at them. Returns the config path."""
    from redactors.testing.synth import generate_sample

    sample = generate_sample(seed=seed, n_users=500, n_messages=n, n_posts=0, message_mix=mix)
    directory.mkdir(parents=True, exist_ok=True)
    # As exports come: the writer's default row groups (one for N up to 262,144), which the
    # plan splits into units of unit_rows.
    sample.messages.write_parquet(directory / "messages.parquet")
    registry = pl.DataFrame(
        {
            "user_id": [u.user_id for u in sample.users],
            "status": ["opted_in"] * len(sample.users),
            "region": ["US"] * len(sample.users),
            "updated_at": [datetime(2026, 1, 1, tzinfo=UTC)] * len(sample.users),
        }
    )
    registry.write_parquet(directory / "consent.parquet")
    config = yaml.safe_load((REPO / "configs" / "sample.yaml").read_text())
    if MODEL_OVERRIDE:
        config["detection"]["spacy_model"] = MODEL_OVERRIDE[0]
    config["run_name"] = "bench"
    config["sources"] = [{**config["sources"][0], "path": str(directory / "messages.parquet")}]
    config["consent"]["registry"] = str(directory / "consent.parquet")
    # Every record consented at the user level only: the sample's workspace registry and
    # tombstones are about the sample's ids (and their relative paths would not resolve here).
    for key in ("org_registry", "deletions"):
        config["consent"].pop(key, None)
    config["sources"][0].pop("org_column", None)
    # README's sizing: about N / (4 x workers) rows, so the last units end together.
    config["runner"]["unit_rows"] = max(2000, n // 8)
    config["output"]["shard_max_rows"] = max(2000, n // 8)
    path = directory / "bench.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def texts_of(config_path: Path) -> list[str]:
    config = yaml.safe_load(config_path.read_text())
    return pl.read_parquet(config["sources"][0]["path"])["text"].to_list()


def median_of(reps: int, run: Callable[[], float]) -> float:
    return statistics.median(run() for _ in range(reps))


def bench_presidio(
    config_path: Path,
    reps: int,
    rows: tuple[str, ...] = ("loop", "batch", "floor", "ner_only"),
    numpy_blas: bool = False,
) -> dict[str, dict[str, float]]:
    from presidio_analyzer import BatchAnalyzerEngine
    from presidio_anonymizer import AnonymizerEngine, BatchAnonymizerEngine

    from redactors.config import load_config
    from redactors.detector import build_presidio_baseline
    from redactors.nlp import one_blas_thread

    config = load_config(config_path)
    texts = texts_of(config_path)
    if numpy_blas:
        one_blas_thread()
    # A fresh analyzer (and model) for every repetition, built before the clock starts: run
    # on the same texts again, one would reuse the vocabulary and tokenizer cache its first
    # pass built (~6% faster on the chat mix), which no real run gets, and which the
    # pipeline's rows, each a new process, do not get either.
    analyzer = build_presidio_baseline(config.detection, numpy_blas)
    entities = [
        e
        for e in config.detection.entities
        if e in analyzer.get_supported_entities(config.detection.language)
    ]
    # What is built once per process (lazy imports, compiled patterns, phone metadata) is
    # warm before the first repetition, as the pipeline's canaries warm it before its run.
    list(BatchAnalyzerEngine(analyzer).analyze_iterator(texts[:100], "en", entities=entities))

    def fresh() -> Any:
        return build_presidio_baseline(config.detection, numpy_blas)

    def fresh_nlp() -> Any:
        nlp = fresh().nlp_engine.nlp["en"]
        nlp.disable_pipe("parser")  # only what detection needs: tokens, lemmas, entities
        return nlp

    def loop() -> float:
        analyzer, anonymizer = fresh(), AnonymizerEngine()
        started = time.perf_counter()
        for text in texts:
            found = analyzer.analyze(text=text, language="en", entities=entities)
            anonymizer.anonymize(text=text, analyzer_results=found)
        return time.perf_counter() - started

    def batch(n_process: int = 1) -> float:
        batch_analyzer = BatchAnalyzerEngine(fresh())
        batch_anonymizer = BatchAnonymizerEngine()
        started = time.perf_counter()
        found = batch_analyzer.analyze_iterator(
            texts, language="en", batch_size=256, entities=entities, n_process=n_process
        )
        batch_anonymizer.anonymize_list(texts, found)
        return time.perf_counter() - started

    def batch_2() -> float:  # Presidio's own scale-out: spaCy's pipe in two processes
        return batch(n_process=2)

    def floor() -> float:
        nlp = fresh_nlp()
        started = time.perf_counter()
        for _ in nlp.pipe(texts, batch_size=256):
            pass
        return time.perf_counter() - started

    def ner_only() -> float:  # a reference: the NER component alone on every text
        nlp = fresh_nlp()
        started = time.perf_counter()
        for _ in nlp.pipe(texts, batch_size=256, disable=[n for n in nlp.pipe_names if n != "ner"]):
            pass
        return time.perf_counter() - started

    size_mb = sum(len(t.encode()) for t in texts) / 1e6
    results = {}
    named = {
        "loop": ("presidio_loop", loop),
        "batch": ("presidio_batch", batch),
        "batch_2": ("presidio_batch_n_process_2", batch_2),
        "floor": ("spacy_floor", floor),
        "ner_only": ("spacy_ner_only", ner_only),
    }
    suffix = "_numpy_blas" if numpy_blas else ""
    for name, run in (named[row] for row in rows):
        seconds = median_of(reps, run)
        results[name + suffix] = {
            "seconds": round(seconds, 3),
            "docs_per_s": round(len(texts) / seconds, 1),
            "mb_per_s": round(size_mb / seconds, 3),
        }
    return results


def run_pipeline(config_path: Path, output: Path, *args: str) -> dict[str, float]:
    """One `redact run` in a child process: flow time from its report, wall time, peak RSS."""
    env = {**os.environ, "REDACT_SECRET": SECRET}  # one PREFECT_HOME for the bench (main)
    log = output.parent / f"{output.name}.log"  # a file, not a pipe: logs never block
    output.parent.mkdir(parents=True, exist_ok=True)
    peak = output.parent / f"{output.name}.peak"
    command = [REDACT, "run", "--config", str(config_path), "--output", str(output), *args]
    started = time.perf_counter()
    with log.open("wb") as sink:
        # Through peak_rss.py: its peak RSS is the run's own, not this process's (see there).
        status = subprocess.call(
            [sys.executable, str(REPO / "bench" / "peak_rss.py"), str(peak), *command],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )
    wall = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"redact run failed: {log.read_text()[-2000:]}")
    from redactors.report import Report

    report = Report.read(output / "report.json")
    # The flow's whole work: preflight, engines + canaries + units (process_s), finalize (not
    # the Prefect server's start-up or the interpreter's imports: those are in wall_s).
    flow_seconds = sum(report.timings[name] or 0 for name in ("plan_s", "process_s", "finalize_s"))
    records = report.totals.records_in
    size_mb = sum(f["bytes"] for f in report.inputs) / 1e6
    return {
        "seconds": round(flow_seconds, 3),
        "wall_s": round(wall, 3),
        "docs_per_s": round(records / flow_seconds, 1),
        "mb_per_s": round(size_mb / flow_seconds, 3),
        "peak_rss_mb": float(peak.read_text()),
    }


def bench_warm_dask(config_path: Path, work: Path, reps: int, workers: int) -> dict[str, float]:
    """`redact run --dask-address` against a cluster that outlives the runs, with one Prefect
    API server for the runs and the workers (as README's multi-node setup)."""
    from prefect.server.api.server import SubprocessASGIServer

    from pipelines.redact import local_dask_cluster  # workers as configs/dask/ starts them

    server = SubprocessASGIServer()
    server.start(timeout=120)
    saved = {name: os.environ.get(name) for name in ("PREFECT_API_URL", "REDACT_SECRET")}
    os.environ["PREFECT_API_URL"] = server.api_url  # the workers inherit it
    os.environ["REDACT_SECRET"] = SECRET
    try:
        with local_dask_cluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster:
            args = ("--runner", "dask", "--dask-address", cluster.scheduler_address)
            run_pipeline(config_path, work / "warm-up", *args)  # start-up, not timed
            return bench_pipeline(config_path, work, reps, *args)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.stop()


def bench_fixed_cost(work: Path, reps: int) -> dict[str, dict[str, float]]:
    """Whole processes on 20 messages, taken in turn: plain Presidio (bench/presidio_process.py,
    same model), `redact run` with its temporary Prefect server, `redact run` against a
    running server (PREFECT_API_URL, as scheduled flows have), and plain Presidio's job as
    the one task of a Prefect flow against that server (bench/prefect_presidio.py: the floor
    of any Prefect flow). Wall seconds, medians."""
    from prefect.server.api.server import SubprocessASGIServer

    config = make_export(work / "small", 20)
    os.environ.pop("PREFECT_API_URL", None)
    server = SubprocessASGIServer()
    server.start(timeout=120)
    times: dict[str, list[float]] = {"presidio_process": [], "temporary_server": []}
    times["running_server"] = []
    times["presidio_in_prefect_flow"] = []
    try:
        for i in range(reps):
            presidio = presidio_process(config, work / "small" / "presidio.parquet", False)
            times["presidio_process"].append(presidio)
            times["temporary_server"].append(run_pipeline(config, work / "fc" / f"t-{i}")["wall_s"])
            os.environ["PREFECT_API_URL"] = server.api_url
            try:
                run = run_pipeline(config, work / "fc" / f"r-{i}")
                # The floor of any Prefect flow: plain Presidio's job as its one task.
                in_flow = presidio_process(
                    config, work / "small" / "presidio-flow.parquet", False, "prefect_presidio.py"
                )
            finally:
                os.environ.pop("PREFECT_API_URL")
            times["running_server"].append(run["wall_s"])
            times["presidio_in_prefect_flow"].append(in_flow)
    finally:
        server.stop()
    base = statistics.median(times["presidio_process"])
    return {
        name: {
            "wall_s": round(statistics.median(values), 3),
            "wall_min_s": round(min(values), 3),
            "wall_max_s": round(max(values), 3),
            "vs_presidio_process": round(statistics.median(values) / base, 2),
        }
        for name, values in times.items()
    }


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def bench_pipeline(config_path: Path, work: Path, reps: int, *args: str) -> dict[str, float]:
    return medians([run_pipeline(config_path, work / f"out-{i}", *args) for i in range(reps)])


def presidio_process(
    config_path: Path, out: Path, numpy_blas: bool = True, script: str = "presidio_process.py"
) -> float:
    """Wall seconds of plain Presidio as one whole process on the export (bench/presidio_process.py:
    imports, model load, batch analyze + anonymize, Parquet write); ``numpy_blas``: the model
    on numpy's BLAS with one thread, as the pipeline's workers run it; ``script``
    prefect_presidio.py: the same job as the one task of a Prefect flow."""
    from redactors.config import load_config
    from redactors.nlp import model_location

    export = yaml.safe_load(config_path.read_text())["sources"][0]["path"]
    model = model_location(load_config(config_path).detection.spacy_model)
    command = [sys.executable, str(REPO / "bench" / script), export, str(out)]
    started = time.perf_counter()
    command += ["--model", model] + (["--numpy-blas"] if numpy_blas else [])
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def bench_mix(config: Path, work: Path, reps: int) -> dict[str, Any]:
    """One data set: Presidio's batch engines (default BLAS, then numpy's BLAS with one
    thread, as the pipeline runs; one process and n_process=2), the spaCy floor, plain
    Presidio as a whole process, the pipeline with one worker and with two processes.
    Repetitions are interleaved: each round runs every row once, so a machine that slows
    down or speeds up during the section (this VM does, by 20-30% between hours) moves all
    rows alike instead of the rows that happened to run late."""
    rounds: list[dict[str, dict[str, float]]] = []
    for i in range(reps):
        row = bench_presidio(config, 1, rows=("batch", "floor"))
        row |= bench_presidio(config, 1, rows=("batch", "batch_2", "floor"), numpy_blas=True)
        wall = presidio_process(config, work / f"presidio-{i}.parquet")
        row["presidio_process_numpy_blas"] = {"wall_s": round(wall, 3)}
        row["pipeline"] = run_pipeline(config, work / "p" / f"out-{i}")
        row["pipeline_processes_2"] = run_pipeline(
            config, work / "pp" / f"out-{i}", "--runner", "processes", "--workers", "2"
        )
        rounds.append(row)
    results = {name: medians([row[name] for row in rounds]) for name in rounds[0]}
    same_blas = results["presidio_batch_numpy_blas"]["docs_per_s"]
    pipeline = results["pipeline"]
    ratios = {
        # Equal resources: one process, one core's worth of work, the same model, the
        # same BLAS (numpy's, one thread) on both sides.
        "one_process_vs_presidio_batch": round(pipeline["docs_per_s"] / same_blas, 3),
        # Equal resources: two processes on the same two cores, against Presidio's own
        # scale-out (BatchAnalyzerEngine n_process=2), same BLAS.
        "two_processes_vs_presidio_batch_n_process_2": round(
            results["pipeline_processes_2"]["docs_per_s"]
            / results["presidio_batch_n_process_2_numpy_blas"]["docs_per_s"],
            3,
        ),
        # Whole processes (start-up, model load, writes): plain Presidio's wall time over ours.
        "whole_process_vs_presidio_process": round(
            results["presidio_process_numpy_blas"]["wall_s"] / pipeline["wall_s"], 3
        ),
        # Processing throughput against the model alone (all components Presidio uses).
        "processing_vs_spacy_floor": round(
            pipeline["docs_per_s"] / results["spacy_floor_numpy_blas"]["docs_per_s"], 3
        ),
        # For the record, not equal resources: Presidio on thinc's default BLAS (blis).
        "one_process_vs_presidio_batch_default_blas": round(
            pipeline["docs_per_s"] / results["presidio_batch"]["docs_per_s"], 3
        ),
    }
    return {"results": results, "ratios": ratios}


def bench_memory(config: Path, config_10x: Path, work: Path, reps: int) -> dict[str, Any]:
    """Peak memory at N and 10 x N records: bounded memory means about the same."""
    results = {
        "pipeline": bench_pipeline(config, work / "m1", reps),
        "pipeline_10x": bench_pipeline(config_10x, work / "m10", reps),
        # The nightly case with nothing new: the same run again into an existing output.
        "pipeline_rerun_unchanged": medians(
            [run_pipeline(config, work / "m1" / "out-0") for _ in range(reps)]
        ),
    }
    ratio = results["pipeline_10x"]["peak_rss_mb"] / results["pipeline"]["peak_rss_mb"]
    return {"results": results, "ratios": {"rss_10x_vs_1x": round(ratio, 3)}}


def bench_dask(config: Path, work: Path, reps: int) -> dict[str, Any]:
    """`redact run --runner dask` on clusters it starts (worker start-up and model load
    included) and on a long-lived cluster (as production runs), 1 and 2 workers."""
    results = {
        "dask_1": bench_pipeline(config, work / "d1", reps, "--runner", "dask", "--workers", "1"),
        "dask_2": bench_pipeline(config, work / "d2", reps, "--runner", "dask", "--workers", "2"),
        "dask_1_warm": bench_warm_dask(config, work / "w1", reps, 1),
        "dask_2_warm": bench_warm_dask(config, work / "w2", reps, 2),
    }

    def speedup(two: str, one: str) -> float:
        return round(results[two]["docs_per_s"] / results[one]["docs_per_s"], 3)

    return {
        "results": results,
        "ratios": {
            "dask_2_vs_1": speedup("dask_2", "dask_1"),
            "dask_2_vs_1_warm": speedup("dask_2_warm", "dask_1_warm"),
        },
    }


SECTIONS = ("fixed_cost", "chat", "pii_dense", "memory", "dask")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results.json")
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run ({', '.join(SECTIONS)}; default all); the "
        "others keep their earlier results in --out, each with its own date",
    )
    parser.add_argument("--model", help="spaCy model for every row (default: the sample config's)")
    args = parser.parse_args()
    if args.model:
        MODEL_OVERRIDE.append(args.model)
    sections = [name.strip() for name in args.only.split(",") if name.strip()]
    if unknown := sorted(set(sections) - set(SECTIONS)):
        parser.error(f"unknown section(s) {unknown}: choose from {', '.join(SECTIONS)}")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no telemetry call
    payload: dict[str, Any] = json.loads(args.out.read_text()) if args.out.is_file() else {}
    if "sections" not in payload:  # a file of the earlier layout: start afresh
        payload = {"sections": {}}
    model = (
        args.model
        or yaml.safe_load((REPO / "configs" / "sample.yaml").read_text())["detection"][
            "spacy_model"
        ]
    )
    with tempfile.TemporaryDirectory(prefix="redact-bench-") as tmp:
        work = Path(tmp)
        # One Prefect home for every run, its database created before anything is timed
        # (a first run ever takes ~10 s more; a user's home persists between runs).
        os.environ["PREFECT_HOME"] = str(work / "prefect-home")
        from prefect.server.api.server import SubprocessASGIServer

        server = SubprocessASGIServer()
        server.start(timeout=120)
        server.stop()
        for name in sections:
            started = time.perf_counter()
            if name == "fixed_cost":
                section: dict[str, Any] = {"results": bench_fixed_cost(work / name, args.reps)}
                n = 20
            elif name in ("chat", "pii_dense"):
                config = make_export(work / name, args.n, mix=name)
                section, n = bench_mix(config, work / name, args.reps), args.n
            elif name == "memory":
                config = make_export(work / "m", args.n)
                config_10x = make_export(work / "m10", args.n * 10)
                section, n = bench_memory(config, config_10x, work / name, args.reps), args.n
            else:
                section, n = (
                    bench_dask(make_export(work / "d", args.n), work / name, args.reps),
                    args.n,
                )
            section["meta"] = {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "n_records": n,
                "data": MIXES.get(name, MIXES["chat"]),
                "reps": args.reps,
                "cpus": os.cpu_count(),
                "model": model,
                "versions": {
                    package: importlib.metadata.version(package)
                    for package in ("spacy", "thinc", "presidio-analyzer", "prefect", "numpy")
                },
                "minutes": round((time.perf_counter() - started) / 60, 1),
            }
            payload["sections"][name] = section
            args.out.write_text(json.dumps(payload, indent=2) + "\n")
            print_section(name, section)
    print(f"wrote {args.out}  (medians of {args.reps})")


MIXES = {
    "chat": "chat mix (redactors/testing/synth_chat.py): acks, work chat, 20% short PII "
    "messages, 10% long write-ups",
    "pii_dense": "PII-dense chat (synth_chat.pii_dense_message): a name and other personal "
    "data in every message",
    "fixed_cost": "20 messages of the chat mix",
}


def print_section(name: str, section: dict[str, Any]) -> None:
    print(f"\n{name}")
    for row, item in section["results"].items():
        figures = "  ".join(f"{key} {value}" for key, value in item.items())
        print(f"  {row:<40}{figures}")
    for ratio, value in section.get("ratios", {}).items():
        print(f"  {ratio:<52}{value}")


if __name__ == "__main__":
    main()
