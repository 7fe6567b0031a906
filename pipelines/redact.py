"""The `redact-run` Prefect flow: the library's run sequence (``redactors.run.run``) with
its units as Prefect tasks (one per work unit) on threads, processes or a Dask cluster.

Tasks receive a work unit (file + row range) and a small job (config, staging dir, registry
hash), and return small stats and shard paths; no DataFrame crosses a task boundary. Each
worker thread builds its engines once and canary-checks them once per run before they
redact anything (policy in ``redactors.unit``); the secret is read from each worker's
environment, never passed as a task argument. The flow's own process never loads a model.
"""

from __future__ import annotations

import os
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
from redactors.errors import ConfigError, is_transient
from redactors.io import WorkUnit
from redactors.render import render_markdown, summary_table
from redactors.run import run
from redactors.unit import (
    Engines,
    UnitJob,
    UnitOutcome,
    checked_engines,
    run_canaries,
    run_unit,
    worker_cache,
)

SECRET_ENV = "REDACT_SECRET"

# A worker thread's cached engines live in the library (unit.py); the same object here, so
# that a test can give a thread a clean start.
_worker = worker_cache


def _checked(
    config: RunConfig, registry_sha256: str, staging_dir: str
) -> tuple[Engines, dict[str, Any]]:
    """This worker thread's engines for the run of ``staging_dir`` and their canary result
    there, with the secret of the worker's environment (policy: unit.checked_engines)."""
    job = UnitJob(config, staging_dir, registry_sha256)
    return checked_engines(job, os.environ.get(SECRET_ENV), _warn_if_malloc_trimmed)


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
def redact_unit(unit: WorkUnit, job: UnitJob) -> UnitOutcome:
    """One unit on this worker, with the secret of the worker's environment."""
    return run_unit(unit, job, os.environ.get(SECRET_ENV), _warn_if_malloc_trimmed)


@task(name="canary-check", cache_policy=NO_CACHE)
def canary_task(job: UnitJob) -> dict[str, Any]:
    """The canary result when no unit of the run needed engines (all reused from the state
    store): every run's report has one, as a dataset card needs."""
    return run_canaries(job, os.environ.get(SECRET_ENV), _warn_if_malloc_trimmed)


@dataclass(frozen=True)
class PrefectExecutor:
    """Units as Prefect tasks on the flow's task runner, with progress in the run's logs."""

    logger: Any

    def map_units(self, job: UnitJob, units: list[WorkUnit]) -> list[UnitOutcome]:
        started = time.perf_counter()
        futures = redact_unit.map(units, job=unmapped(job))
        return _collect(futures, units, started, self.logger)

    def canaries(self, job: UnitJob) -> dict[str, Any]:
        return canary_task.submit(job).result()


def _collect(futures: Any, units: list[WorkUnit], started: float, logger: Any) -> list[UnitOutcome]:
    """Results as units complete, with progress (records/s, ETA) in the run's logs. Every
    unit finishes (or fails) before a failure is raised, so that no task is still writing
    into the staging dir when the failure removes it."""
    total_rows = sum(unit.rows for unit in units) or 1
    done_rows, outcomes, failure = 0, [], None
    for done, future in enumerate(as_completed(futures), start=1):
        try:
            outcome = future.result()
        except BaseException as exc:  # remember, keep waiting for the others
            failure = failure or exc
            continue
        outcomes.append(outcome)
        done_rows += outcome.result.stats.records_in
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
    return outcomes


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
    config_path: str,
    output: str | None = None,
    rebuild: bool = False,
    accept_risk: str | None = None,
    accepted_by: str | None = None,
) -> dict[str, Any]:
    """Redact the exports named in the config into training shards + manifest + report.
    Work units already done under the same config, secret and registry (an earlier run,
    or a killed one) are reused after their checksums verify; ``rebuild`` redoes all.
    A run whose release gates fail publishes nothing unless ``accept_risk`` gives a reason
    (``accepted_by``: who; default the login name)."""
    import prefect

    logger = get_run_logger()
    started = time.perf_counter()
    config = load_config(config_path)
    output_dir = output or (
        str(config.resolve(config.output.directory)) if config.output.directory else None
    )
    if output_dir is None:
        raise ConfigError("no output directory: set output.directory or pass --output")
    report = run(
        config,
        config_path,
        Path(output_dir),
        os.environ.get(SECRET_ENV),
        PrefectExecutor(logger),
        rebuild=rebuild,
        started=started,
        extra_versions={"prefect": prefect.__version__},
        logger=logger,
        accept_risk=accept_risk,
        accepted_by=accepted_by,
    )
    create_markdown_artifact(
        key=_artifact_key(config.run_name),
        markdown=render_markdown(report),
        description=f"Redaction report for run {report.run.run_id}: verdict "
        f"{report.verdict.result if report.verdict else 'not recorded'}",
    )
    create_table_artifact(
        key=f"redaction-counts-{config.run_name}",
        table=summary_table(report),
        description=f"Counts of run {report.run.run_id}",
    )
    return report.to_json()  # as written to report.json: what callers and Prefect keep
