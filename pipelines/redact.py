"""The `redact-run` Prefect flow: preflight -> one task per work unit -> finalize + commit.

Tasks receive a work unit (file + row range) and the config, and return small stats
and shard paths; no DataFrame crosses a task boundary. Heavy engines (spaCy, Presidio, the
consent lookup) are built once per worker thread and reused for every unit it runs. Before
a worker's engines redact anything in a run, they pass the canaries on that worker (once
per run), and its units bring the result back for the report. So every worker's engines
are checked, not one worker's as a stand-in for all, and no worker waits for another's
check. The flow's own process never loads a model.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError
from prefect.futures import as_completed
from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner

from redactors.config import RunConfig, load_config
from redactors.errors import CanaryError, ConfigError, is_transient
from redactors.io import WorkUnit
from redactors.report import render_markdown, summary_table
from redactors.runner import (
    Engines,
    UnitResult,
    build_engines,
    check_canaries,
    discard_staging,
    finalize,
    output_lock,
    preflight,
    process_unit,
    secret_fingerprint,
)

SECRET_ENV = "REDACT_SECRET"


_worker = threading.local()


@dataclass
class _WorkerEngines:
    """A worker thread's engines, the run using them and their canary outcome in that run
    (None: not checked yet; a dict: passed; an error: failed)."""

    key: tuple[Any, ...]
    engines: Engines
    run: str
    canaries: dict[str, Any] | CanaryError | None = None


def _checked(config: RunConfig, registry_sha256: str, run: str) -> tuple[Engines, dict[str, Any]]:
    """This worker thread's engines for ``run`` (its staging dir) and their canary result
    there. Built once per config, registry content and secret: a long-lived worker (an
    existing Dask cluster) keeps them between runs, and empties their repeat cache when a new
    run starts using them. Checked once per run and worker: detection is deterministic, so
    the outcome holds for every unit the worker runs. A failure is kept too: each later
    unit on these engines fails at once, unprocessed."""
    secret = os.environ.get(SECRET_ENV)
    key = (
        config.config_hash(),
        registry_sha256,
        secret_fingerprint(secret.encode()) if secret else None,
    )
    cached: _WorkerEngines | None = getattr(_worker, "engines", None)
    if cached is None or cached.key != key:
        _warn_if_malloc_trimmed()
        cached = _WorkerEngines(key, build_engines(config, secret, registry_sha256), run)
        _worker.engines = cached
    elif cached.run != run:
        if cached.engines.redactor.repeats is not None:
            cached.engines.redactor.repeats.clear()
        cached.run, cached.canaries = run, None
    if cached.canaries is None:
        try:
            cached.canaries = check_canaries(config, cached.engines)
        except CanaryError as error:
            cached.canaries = error
    if isinstance(cached.canaries, CanaryError):
        raise CanaryError(str(cached.canaries))
    return cached.engines, cached.canaries


def _retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a unit after an I/O error; never after bad data, config or secret (it would
    fail the same way again)."""
    error = state.data if isinstance(state.data, BaseException) else None
    if error is None:
        error = state.result(raise_on_failure=False)
    return isinstance(error, BaseException) and is_transient(error)


@task(
    name="redact-unit",
    cache_policy=NO_CACHE,
    task_run_name="redact-{unit.unit_id}",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=_retry_if_transient,
)
def redact_unit(
    unit: WorkUnit, config: RunConfig, staging_dir: str, registry_sha256: str
) -> tuple[UnitResult, dict[str, Any] | None]:
    """The unit's result, and the canary result of the engines that redacted it (None when
    it was reused from the state store and needed none)."""
    canaries: list[dict[str, Any]] = []

    def engines() -> Engines:
        # Built only if the unit is not in the state store as is (earlier or killed run
        # under the same registry): the store is looked up, and its files verified, once.
        checked, result = _checked(config, registry_sha256, staging_dir)
        canaries.append(result)
        return checked

    result = process_unit(unit, config, engines, Path(staging_dir), registry_sha256)
    return result, canaries[0] if canaries else None


@task(name="canary-check", cache_policy=NO_CACHE)
def canary_task(config: RunConfig, registry_sha256: str, run: str) -> dict[str, Any]:
    """The canary result when no unit of the run needed engines (all reused from the state
    store): every run's report has one, as a dataset card needs."""
    return _checked(config, registry_sha256, run)[1]


def _canaries(checked: list[dict[str, Any]], logger: Any) -> dict[str, Any]:
    """The canary result for the report: the lowest recall the workers' engines had (all
    the same when every worker runs the same install and model; said when not)."""
    lowest = min(checked, key=lambda result: result.get("lowest_recall", 1.0))
    if any(result != lowest for result in checked):
        logger.warning(
            "canary results differ between workers (lowest recall %s): their engines are "
            "not the same; check each worker's install against requirements.lock",
            sorted({result.get("lowest_recall") for result in checked}),
        )
    return lowest


def _collect(
    futures: Any, units: list[WorkUnit], started: float, logger: Any
) -> list[tuple[UnitResult, dict[str, Any] | None]]:
    """Results as units complete, with progress (records/s, ETA) in the run's logs."""
    total_rows = sum(unit.rows for unit in units) or 1
    done_rows, results, failure = 0, [], None
    for done, future in enumerate(as_completed(futures), start=1):
        try:
            result = future.result()
        except BaseException as exc:  # remember, keep waiting for the others
            failure = failure or exc
            continue
        results.append(result)
        done_rows += result[0].stats.records_in
        rate = done_rows / max(time.perf_counter() - started, 1e-9)
        logger.info(
            "progress: %d/%d units, %d/%d records, %.0f records/s, ETA %.0f s",
            done,
            len(units),
            done_rows,
            total_rows,
            rate,
            (total_rows - done_rows) / rate,
        )
    if failure is not None:
        raise failure
    return results


# Dask's nanny starts every worker with MALLOC_TRIM_THRESHOLD_=65536, to hand freed memory
# back to the OS. Any such setting also turns off glibc's adaptive thresholds, so the arrays of
# every spaCy batch are mapped and unmapped again: measured 12% slower in one process, 35% on
# a 2-worker cluster on 2 cores (page faults of both contend; README, Scaling out). Workers
# here hold steady memory (engines built once), so they keep glibc's defaults.
DASK_WORKER_CONFIG: dict[str, Any] = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None
}


def _warn_if_malloc_trimmed() -> None:
    """Said once per worker and engine build (first run of a config on a long-lived worker)."""
    value = os.environ.get("MALLOC_TRIM_THRESHOLD_")
    if value is None:
        return
    try:
        logger = get_run_logger()
    except MissingContextError:
        return
    logger.warning(
        "this worker runs with MALLOC_TRIM_THRESHOLD_=%s (Dask's nanny sets it by default): "
        "detection is ~12%% slower; start workers with configs/dask/ (README, Scaling out)",
        value,
    )


def local_dask_cluster(**cluster_kwargs: Any) -> Any:
    """A ``distributed.LocalCluster`` whose workers keep glibc's malloc defaults (see
    DASK_WORKER_CONFIG). Nannies read the config, and spawn their workers, in the
    constructor; a worker inherits this process's environment, where an earlier nanny may
    have left the variable, so it is out of the environment meanwhile."""
    import dask
    from distributed import LocalCluster

    inherited = os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    try:
        with dask.config.set(DASK_WORKER_CONFIG):
            return LocalCluster(**cluster_kwargs)
    finally:
        if inherited is not None:
            os.environ["MALLOC_TRIM_THRESHOLD_"] = inherited


def task_runner_for(kind: str, workers: int, dask_address: str | None = None) -> Any:
    """The Prefect task runner for a runner kind. Work units are independent, so any of
    them gives the same output byte for byte; only where and how fast differs."""
    if kind == "threads":
        return ThreadPoolTaskRunner(max_workers=workers)
    if kind == "processes":
        return ProcessPoolTaskRunner(max_workers=workers)
    from prefect_dask import DaskTaskRunner

    if dask_address:
        return DaskTaskRunner(address=dask_address)
    # One thread per worker process: spaCy is CPU-bound, processes are what scale.
    return DaskTaskRunner(
        cluster_class=local_dask_cluster,
        cluster_kwargs={
            "n_workers": workers,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,
        },
    )


def _artifact_key(run_name: str) -> str:
    return f"redaction-report-{run_name}"


@flow(name="redact-run", log_prints=False)
def redact_flow(
    config_path: str, output: str | None = None, rebuild: bool = False
) -> dict[str, Any]:
    """Redact the exports named in the config into training shards + manifest + report.
    Work units already done under the same config, secret and registry (an earlier run,
    or a killed one) are reused after their checksums verify; ``rebuild`` redoes all."""
    import prefect

    logger = get_run_logger()
    started = time.perf_counter()
    config = load_config(config_path)
    output_dir = output or (
        str(config.resolve(config.output.directory)) if config.output.directory else None
    )
    if output_dir is None:
        raise ConfigError("no output directory: set output.directory or pass --output")
    with output_lock(Path(output_dir).resolve()):
        return _run_locked(config, config_path, Path(output_dir), started, logger, prefect, rebuild)


def _run_locked(
    config: RunConfig,
    config_path: str,
    output_dir: Path,
    started: float,
    logger: Any,
    prefect: Any,
    rebuild: bool,
) -> dict[str, Any]:
    prepared = preflight(config, output_dir, os.environ.get(SECRET_ENV), rebuild)
    plan_seconds = time.perf_counter() - started
    logger.info(
        "run %s: %d input file(s), %d work unit(s), %d rows; staging in %s",
        prepared.run_id,
        len(prepared.plan.inputs),
        len(prepared.plan.units),
        sum(unit.rows for unit in prepared.plan.units),
        prepared.staging_dir,
    )
    registry_sha256 = prepared.registry_fingerprint["sha256"]
    run = str(prepared.staging_dir)
    try:
        process_started = time.perf_counter()
        (prepared.staging_dir / "shards").mkdir(parents=True)
        futures = redact_unit.map(
            prepared.plan.units,
            config=unmapped(config),
            staging_dir=unmapped(run),
            registry_sha256=unmapped(registry_sha256),
        )
        # Every unit finishes (or fails) before a failure is raised, so that no task is still
        # writing into the staging dir when the failure removes it.
        results = _collect(futures, prepared.plan.units, process_started, logger)
        process_seconds = time.perf_counter() - process_started
        checked = [canaries for _, canaries in results if canaries is not None]
        if not checked:  # every unit reused: the check still runs, on a worker
            checked = [canary_task.submit(config, registry_sha256, run).result()]
        canaries = _canaries(checked, logger)
        report = finalize(
            config,
            config_path,
            prepared,
            [result for result, _ in results],
            timings={
                "plan_s": plan_seconds,
                "process_s": process_seconds,  # canaries, engines (cold workers), units
            },
            extra_versions={"prefect": prefect.__version__},
            canaries=canaries,
        )
    except BaseException:
        discard_staging(prepared.staging_dir)
        raise
    totals = report["totals"]
    incremental = report["incremental"]
    logger.info(
        "run %s: %d unit(s) processed, %d reused from earlier runs; rebuild reasons: %s",
        prepared.run_id,
        incremental["units_processed"],
        incremental["units_reused"],
        ", ".join(incremental["rebuild_reasons"]) or "none",
    )
    logger.info(
        "run %s committed to %s: %d in, %d dropped, %d out, %d spans masked",
        prepared.run_id,
        prepared.output_dir,
        totals["records_in"],
        totals["records_dropped"],
        totals["records_out"],
        totals["spans_masked"],
    )
    create_markdown_artifact(
        key=_artifact_key(config.run_name),
        markdown=render_markdown(report),
        description=f"Redaction report for run {prepared.run_id}",
    )
    create_table_artifact(
        key=f"redaction-counts-{config.run_name}",
        table=summary_table(report),
        description=f"Counts of run {prepared.run_id}",
    )
    return report
