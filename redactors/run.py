"""The one run sequence: lock -> preflight -> staging shards folder -> units -> finalize and
commit, or discard the staging dir on any failure.

The Prefect flow, ``run_local`` and the tests all call ``run``; they differ only in the
executor, which decides where units run (a loop in this thread, Prefect tasks on threads,
processes or Dask workers). Units are independent, so any executor gives the same output
byte for byte.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from redactors.config import RunConfig
from redactors.errors import OutputError, RedactError
from redactors.finalize import finalize
from redactors.io import WorkUnit
from redactors.output import discard_staging, os_error_message, output_lock
from redactors.preflight import Preflight, preflight
from redactors.report import Report
from redactors.unit import Engines, UnitJob, UnitOutcome, keep_engines, run_canaries, run_unit

LOG = logging.getLogger(__name__)


class Executor(Protocol):
    """Where a run's units execute."""

    def map_units(self, job: UnitJob, units: list[WorkUnit]) -> list[UnitOutcome]:
        """Every unit's outcome (``unit.run_unit``), in any order. Every unit finishes or
        fails before a failure is raised, so that none is still writing into the staging
        dir when the failure removes it."""
        ...

    def canaries(self, job: UnitJob) -> dict[str, Any]:
        """The canary result of a worker's engines (``unit.run_canaries``), for a run where
        no unit needed engines."""
        ...


@dataclass(frozen=True)
class LocalExecutor:
    """Units one after another in this thread (notebooks, tests, debugging)."""

    secret: str | None

    def map_units(self, job: UnitJob, units: list[WorkUnit]) -> list[UnitOutcome]:
        return [run_unit(unit, job, self.secret) for unit in units]

    def canaries(self, job: UnitJob) -> dict[str, Any]:
        return run_canaries(job, self.secret)


def run(
    config: RunConfig,
    config_path: str,
    output_dir: Path,
    secret: str | None,
    executor: Executor,
    *,
    rebuild: bool = False,
    started: float | None = None,
    extra_versions: dict[str, str] | None = None,
    logger: logging.Logger | logging.LoggerAdapter[Any] = LOG,
    accept_risk: str | None = None,
    accepted_by: str | None = None,
) -> Report:
    """Run once into ``output_dir``; returns the report. ``secret`` is for preflight's
    checks and fingerprint (workers take theirs where they run). ``started``: when the run
    began for its timings (the flow counts loading the config). ``accept_risk``: publish
    even when a release gate fails, for this reason (``accepted_by``: who; README,
    "Verdict and gates")."""
    started = time.perf_counter() if started is None else started
    try:
        return _run(
            config,
            config_path,
            output_dir,
            secret,
            executor,
            rebuild,
            started,
            extra_versions,
            logger,
            accept_risk,
            accepted_by,
        )
    except RedactError:
        raise
    except OSError as exc:  # output, lock, staging or state path: one clean line
        raise OutputError(f"{os_error_message(exc)}; nothing was published") from None


def _run(
    config: RunConfig,
    config_path: str,
    output_dir: Path,
    secret: str | None,
    executor: Executor,
    rebuild: bool,
    started: float,
    extra_versions: dict[str, str] | None,
    logger: logging.Logger | logging.LoggerAdapter[Any],
    accept_risk: str | None,
    accepted_by: str | None,
) -> Report:
    with output_lock(output_dir.resolve()):
        prepared = preflight(config, output_dir, secret, rebuild)
        plan_seconds = time.perf_counter() - started
        _log_plan(prepared, logger)
        job = UnitJob(
            config,
            str(prepared.staging_dir),
            prepared.consent_sha256 or prepared.registry_fingerprint["sha256"],
        )
        try:
            process_started = time.perf_counter()
            (prepared.staging_dir / "shards").mkdir(parents=True)
            outcomes = executor.map_units(job, prepared.plan.units)
            process_seconds = time.perf_counter() - process_started
            checked = [outcome.canaries for outcome in outcomes if outcome.canaries is not None]
            if not checked:  # every unit reused: the check still runs, on a worker
                checked = [executor.canaries(job)]
            report = finalize(
                config,
                config_path,
                prepared,
                [outcome.result for outcome in outcomes],
                timings={
                    "plan_s": plan_seconds,
                    "process_s": process_seconds,  # canaries, engines (cold workers), units
                },
                extra_versions=extra_versions,
                canaries=lowest_canaries(checked, logger),
                accept_risk=accept_risk,
                accepted_by=accepted_by,
            )
        except BaseException:
            discard_staging(prepared.staging_dir)
            raise
    _log_commit(prepared, report, logger)
    return report


def run_local(
    config: RunConfig,
    config_path: str,
    output_dir: Path,
    secret: str | None,
    rebuild: bool = False,
    engines: Engines | None = None,
    accept_risk: str | None = None,
) -> dict[str, Any]:
    """The whole run in this process, without Prefect (notebooks, tests, debugging): same
    sequence and output as the flow. ``engines``: ones already built for this config and
    secret (a notebook's, a test session's), used instead of building them here. Returns
    the report as written to report.json, like the flow."""
    if engines is not None:
        keep_engines(config, secret, engines)
    executor = LocalExecutor(secret)
    report = run(
        config, config_path, output_dir, secret, executor, rebuild=rebuild, accept_risk=accept_risk
    )
    return report.to_json()


def lowest_canaries(
    checked: list[dict[str, Any]], logger: logging.Logger | logging.LoggerAdapter[Any] = LOG
) -> dict[str, Any]:
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


def _log_plan(prepared: Preflight, logger: logging.Logger | logging.LoggerAdapter[Any]) -> None:
    logger.info(
        "run %s: %d input file(s), %d work unit(s), %d rows; staging in %s",
        prepared.run_id,
        len(prepared.plan.inputs),
        len(prepared.plan.units),
        sum(unit.rows for unit in prepared.plan.units),
        prepared.staging_dir,
    )


def _log_commit(
    prepared: Preflight, report: Report, logger: logging.Logger | logging.LoggerAdapter[Any]
) -> None:
    totals, incremental = report.totals, report.incremental
    if incremental is not None:
        logger.info(
            "run %s: %d unit(s) processed, %d reused from earlier runs; rebuild reasons: %s",
            prepared.run_id,
            incremental.units_processed,
            incremental.units_reused,
            ", ".join(incremental.rebuild_reasons) or "none",
        )
    logger.info(
        "run %s committed to %s: %d in, %d dropped, %d out, %d spans masked",
        prepared.run_id,
        prepared.output_dir,
        totals.records_in,
        totals.records_dropped,
        totals.records_out,
        totals.spans_masked,
    )
    if report.verdict is not None:
        logger.info(
            "run %s verdict %s%s",
            prepared.run_id,
            report.verdict.result,
            f" (gates failed: {', '.join(report.verdict.failed)}; risk accepted)"
            if report.verdict.failed
            else "",
        )
