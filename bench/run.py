"""Side-by-side throughput benchmark: plain Presidio vs this pipeline, same data, one run.

    make bench            # N=20000 records
    make bench N=2000     # smaller

The data: N chat messages of the chat mix (redactors/testing/synth_chat.py: repeated short
replies, short work messages, short messages with personal data, multi-sentence write-ups).
Times, on the same generated export, the same spaCy model and the same entity set:
1. presidio_loop: AnalyzerEngine.analyze + AnonymizerEngine.anonymize per record;
2. presidio_batch: BatchAnalyzerEngine + BatchAnonymizerEngine;
3. spacy_floor: spaCy nlp.pipe with the components Presidio's analysis uses (all but the
   parser: tokens, lemmas, entities); spacy_ner_only, for reference: the NER component alone;
   presidio_batch_numpy_blas / spacy_floor_numpy_blas, for the record: 2. and 3. with the
   model on numpy's BLAS with one BLAS thread, as the pipeline's workers run it;
4. pipeline: `redact run` (the default runner: one worker thread), and at 10x N for peak
   memory; pipeline_processes_2: `--runner processes --workers 2` (one per core here);
   dask_1 / dask_2: `redact run --runner dask` on a local cluster of 1 and 2 workers that
   each run starts (worker start-up, imports and model load included);
   dask_1_warm / dask_2_warm: `--dask-address` of a long-lived local cluster (as in
   production, its workers configured as configs/dask/ says), after one untimed run has
   started its workers and loaded their engines.
Then, as a second data set, the sample's templates (personal data in 55% of messages, no long
ones; the data of earlier results): presidio_batch, spacy_floor, pipeline, processes x2.
Every figure is the median of --reps repetitions. Pipeline docs/s counts the records the run
read over the flow's own plan + process + finalize time (Prefect start-up excluded, given
separately as wall time). Peak RSS is that of the measured process (Dask workers excluded).
Prints a table and writes bench/results.json.
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

import polars as pl
import yaml

REPO = Path(__file__).resolve().parent.parent
REDACT = str(Path(sys.executable).parent / "redact")
SECRET = "bench-secret-not-for-real-data-0000"


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
    analyzer = build_presidio_baseline(config.detection, numpy_blas)
    entities = [
        e
        for e in config.detection.entities
        if e in analyzer.get_supported_entities(config.detection.language)
    ]
    anonymizer = AnonymizerEngine()

    def loop() -> float:
        started = time.perf_counter()
        for text in texts:
            found = analyzer.analyze(text=text, language="en", entities=entities)
            anonymizer.anonymize(text=text, analyzer_results=found)
        return time.perf_counter() - started

    batch_analyzer, batch_anonymizer = BatchAnalyzerEngine(analyzer), BatchAnonymizerEngine()

    def batch() -> float:
        started = time.perf_counter()
        found = batch_analyzer.analyze_iterator(
            texts, language="en", batch_size=256, entities=entities
        )
        batch_anonymizer.anonymize_list(texts, found)
        return time.perf_counter() - started

    nlp = analyzer.nlp_engine.nlp["en"]  # type: ignore[attr-defined]
    nlp.disable_pipe("parser")  # only what detection needs: tokens, lemmas, entities

    def floor() -> float:
        started = time.perf_counter()
        for _ in nlp.pipe(texts, batch_size=256):
            pass
        return time.perf_counter() - started

    def ner_only() -> float:  # a reference: the NER component alone on every text
        started = time.perf_counter()
        for _ in nlp.pipe(texts, batch_size=256, disable=[n for n in nlp.pipe_names if n != "ner"]):
            pass
        return time.perf_counter() - started

    size_mb = sum(len(t.encode()) for t in texts) / 1e6
    results = {}
    named = {
        "loop": ("presidio_loop", loop),
        "batch": ("presidio_batch", batch),
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
    env = {**os.environ, "REDACT_SECRET": SECRET, "PREFECT_HOME": str(output.parent / "ph")}
    log = output.parent / f"{output.name}.log"  # a file, not a pipe: logs never block
    output.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with log.open("wb") as sink:
        child = subprocess.Popen(
            [REDACT, "run", "--config", str(config_path), "--output", str(output), *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )
        _, status, usage = os.wait4(child.pid, 0)
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
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
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


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def bench_pipeline(config_path: Path, work: Path, reps: int, *args: str) -> dict[str, float]:
    return medians([run_pipeline(config_path, work / f"out-{i}", *args) for i in range(reps)])


def print_table(title: str, results: dict[str, dict[str, float]]) -> None:
    floor, batch = results["spacy_floor"], results["presidio_batch"]
    print(f"\n{title}")
    print(f"{'':<24}{'docs/s':>10}{'MB/s':>9}{'RSS MB':>9}{'vs batch':>10}{'time/floor':>12}")
    for name, item in results.items():
        rss = item.get("peak_rss_mb", "")
        print(
            f"{name:<24}{item['docs_per_s']:>10}{item['mb_per_s']:>9}{rss!s:>9}"
            f"{item['docs_per_s'] / batch['docs_per_s']:>10.2f}"
            f"{item['seconds'] / floor['seconds']:>12.2f}"
        )


def bench_core(args: argparse.Namespace) -> None:
    """One process against one process on the chat mix: the pipeline (one worker thread,
    the model on numpy's BLAS with one thread) against Presidio's batch engines on thinc's
    default BLAS and on the same numpy BLAS, same model, same data, same run."""
    default = REPO / "bench" / "results.json"
    out = REPO / "bench" / "results_core.json" if args.out == default else args.out
    with tempfile.TemporaryDirectory(prefix="redact-bench-") as tmp:
        work = Path(tmp)
        config = make_export(work / "n", args.n)
        results = bench_presidio(config, args.reps, rows=("batch", "floor"))
        results["pipeline"] = bench_pipeline(config, work / "p", args.reps)
        results |= bench_presidio(config, args.reps, rows=("batch", "floor"), numpy_blas=True)
    pipeline = results["pipeline"]["docs_per_s"]
    ratios = {
        "pipeline_vs_presidio_batch": round(pipeline / results["presidio_batch"]["docs_per_s"], 3),
        "pipeline_vs_presidio_batch_numpy_blas": round(
            pipeline / results["presidio_batch_numpy_blas"]["docs_per_s"], 3
        ),
        "pipeline_time_vs_floor_numpy_blas": round(
            results["pipeline"]["seconds"] / results["spacy_floor_numpy_blas"]["seconds"], 3
        ),
    }
    payload = {
        "n_records": args.n,
        "reps": args.reps,
        "cpus": os.cpu_count(),
        "model": yaml.safe_load((REPO / "configs" / "sample.yaml").read_text())["detection"][
            "spacy_model"
        ],
        "versions": {
            name: importlib.metadata.version(name)
            for name in ("spacy", "thinc", "presidio-analyzer", "phonenumbers", "numpy")
        },
        "data": "chat mix (redactors/testing/synth_chat.py)",
        "results": results,
        "ratios": ratios,
    }
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print_table("chat mix, one process", results)
    print(json.dumps(ratios))
    print(f"wrote {out}  (N={args.n}, medians of {args.reps})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results.json")
    parser.add_argument(
        "--core",
        action="store_true",
        help="only the one-process rows on the chat mix (Presidio batch on both BLAS "
        "settings, the spaCy floor, the pipeline with one worker), into bench/results_core.json",
    )
    args = parser.parse_args()
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no telemetry call
    if args.core:
        bench_core(args)
        return
    with tempfile.TemporaryDirectory(prefix="redact-bench-") as tmp:
        work = Path(tmp)
        config = make_export(work / "n", args.n)
        config_10x = make_export(work / "n10", args.n * 10)
        # The sample's templates: personal data in 55% of messages, no long ones. Kept as a
        # second data set (the one earlier results.json files measured).
        dense = make_export(work / "dense", args.n, mix="templates")
        pii_dense = bench_presidio(dense, args.reps, rows=("batch", "floor"))
        pii_dense["pipeline"] = bench_pipeline(dense, work / "dp", args.reps)
        pii_dense["pipeline_processes_2"] = bench_pipeline(
            dense, work / "dpp", args.reps, "--runner", "processes", "--workers", "2"
        )
        results = bench_presidio(config, args.reps)
        # For the record: the same two with the model on numpy's BLAS, as the pipeline's
        # workers run it (one BLAS thread from here on, in this process only).
        results |= bench_presidio(config, args.reps, rows=("batch", "floor"), numpy_blas=True)
        results["pipeline"] = bench_pipeline(config, work / "p", args.reps)
        # The nightly case with nothing new: the same run again into an existing output
        # (every unit reused from its state store after checksum checks).
        results["pipeline_rerun_unchanged"] = medians(
            [run_pipeline(config, work / "p" / "out-0") for _ in range(args.reps)]
        )
        results["pipeline_processes_2"] = bench_pipeline(
            config, work / "pp", args.reps, "--runner", "processes", "--workers", "2"
        )
        # A median like every other row (one 10x run alone was 1.203x, its median 1.18x).
        results["pipeline_10x"] = bench_pipeline(config_10x, work / "p10", args.reps)
        results["dask_1"] = bench_pipeline(
            config, work / "d1", args.reps, "--runner", "dask", "--workers", "1"
        )
        results["dask_2"] = bench_pipeline(
            config, work / "d2", args.reps, "--runner", "dask", "--workers", "2"
        )
        results["dask_1_warm"] = bench_warm_dask(config, work / "w1", args.reps, 1)
        results["dask_2_warm"] = bench_warm_dask(config, work / "w2", args.reps, 2)
    floor, batch = results["spacy_floor"], results["presidio_batch"]
    pipeline = results["pipeline"]
    ratios = {
        "pipeline_vs_presidio_batch": round(pipeline["docs_per_s"] / batch["docs_per_s"], 3),
        "pipeline_time_vs_floor": round(pipeline["seconds"] / floor["seconds"], 3),
        "rss_10x_vs_1x": round(results["pipeline_10x"]["peak_rss_mb"] / pipeline["peak_rss_mb"], 3),
        "dask_2_vs_1": round(results["dask_2"]["docs_per_s"] / results["dask_1"]["docs_per_s"], 3),
        "dask_2_vs_1_warm": round(
            results["dask_2_warm"]["docs_per_s"] / results["dask_1_warm"]["docs_per_s"], 3
        ),
        # both cores: throughput against Presidio's batch engines (one core), and the time
        # of the two processes together against the floor (one process). The pipeline runs
        # its defaults (NER prefilter on: NER where a name is possible), Presidio and the
        # floor run the model on every text; README gives the recall of both.
        "processes_2_vs_presidio_batch": round(
            results["pipeline_processes_2"]["docs_per_s"] / batch["docs_per_s"], 3
        ),
        "processes_2_time_x2_vs_floor": round(
            2 * results["pipeline_processes_2"]["seconds"] / floor["seconds"], 3
        ),
        # the headline: both cores, as production runs (a long-lived cluster)
        "dask_2_warm_vs_presidio_batch": round(
            results["dask_2_warm"]["docs_per_s"] / batch["docs_per_s"], 3
        ),
        # how much of it is the BLAS choice alone: against Presidio on numpy's BLAS too
        "dask_2_warm_vs_presidio_batch_numpy_blas": round(
            results["dask_2_warm"]["docs_per_s"]
            / results["presidio_batch_numpy_blas"]["docs_per_s"],
            3,
        ),
        "pipeline_time_vs_floor_numpy_blas": round(
            pipeline["seconds"] / results["spacy_floor_numpy_blas"]["seconds"], 3
        ),
        "pii_dense_pipeline_vs_presidio_batch": round(
            pii_dense["pipeline"]["docs_per_s"] / pii_dense["presidio_batch"]["docs_per_s"], 3
        ),
        "pii_dense_processes_2_vs_presidio_batch": round(
            pii_dense["pipeline_processes_2"]["docs_per_s"]
            / pii_dense["presidio_batch"]["docs_per_s"],
            3,
        ),
    }
    payload = {
        "n_records": args.n,
        "reps": args.reps,
        "cpus": os.cpu_count(),
        # What the speed depends on most (README, Detection: spaCy 3.8.8+ is about 2x slower at NER)
        "versions": {
            name: importlib.metadata.version(name)
            for name in ("spacy", "thinc", "presidio-analyzer", "phonenumbers", "numpy")
        },
        "data": "chat mix (redactors/testing/synth_chat.py); pii_dense: the sample's templates",
        "results": results,
        "pii_dense": pii_dense,
        "ratios": ratios,
    }
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    for title, table in (("chat mix", results), ("pii_dense (templates)", pii_dense)):
        print_table(title, table)
    print(json.dumps(ratios))
    print(f"wrote {args.out}  (N={args.n}, medians of {args.reps})")


if __name__ == "__main__":
    main()
