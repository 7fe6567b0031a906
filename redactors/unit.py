"""One work unit: a worker's engines (built once, canary-checked), then read -> screen ->
consent gate -> redact -> write into the run's staging dir, kept in the state store.

Engine policy, the same wherever units run (a loop in ``run_local``, a thread pool, Prefect
tasks on Dask workers): a worker thread builds its engines once per config, registry
content and secret, and keeps them between runs (a long-lived Dask worker), emptying their
repeat cache when a new run starts using them. Before a worker's engines redact anything in
a run they pass the canaries there, once per run and worker (detection is deterministic, so
the outcome holds for every unit the worker runs); a failure is kept for the run, so each
later unit on those engines fails at once, unprocessed. A unit the state store holds as is
needs no engines at all.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any

import pyarrow as pa

from redactors.batch import gated_batches, redact_batch, source_config
from redactors.config import RunConfig
from redactors.consent import ConsentGate, load_gate, reasons_by_org_key, reasons_by_user_key
from redactors.engine import TextRedactor, secret_key
from redactors.errors import CanaryError, ConsentError, RedactError, UnitError
from redactors.evaluate import canary_check
from redactors.io import WorkUnit
from redactors.lineage import LINEAGE_DIR
from redactors.mentions import NonConsentedMentions
from redactors.nlp import one_blas_thread
from redactors.preflight import people_names, secret_fingerprint
from redactors.quarantine import unit_quarantine_path
from redactors.refresh import refresh_unit
from redactors.report import SourceStats
from redactors.shards import ShardInfo
from redactors.state import UnitStore, shard_infos, stats_from_json, stats_to_json
from redactors.unitwriter import DEDUP_DIR, UnitWriter


@dataclass(frozen=True)
class Engines:
    """What a worker builds once per run config and reuses for every unit it processes."""

    gate: ConsentGate
    redactor: TextRedactor
    key: bytes | None  # keys pseudonyms, hashes and lineage user keys
    # The registry's decisions by lineage user key, built on first use (refreshing units).
    _user_reasons: dict[str, str] = dataclass_field(default_factory=dict)
    _org_reasons: dict[str, str] = dataclass_field(default_factory=dict)

    def user_reasons(self) -> dict[str, str]:
        if not self._user_reasons and self.key is not None:
            self._user_reasons.update(reasons_by_user_key(self.gate, self.key))
        return self._user_reasons

    def org_reasons(self) -> dict[str, str]:
        """The org registry's decisions by lineage org key (empty without an org level)."""
        if not self._org_reasons and self.key is not None:
            self._org_reasons.update(reasons_by_org_key(self.gate, self.key))
        return self._org_reasons


@dataclass
class UnitResult:
    unit_id: str
    source: str
    stats: SourceStats
    shards: list[ShardInfo] = dataclass_field(default_factory=list)
    seconds: float = 0.0
    reused: bool = False  # taken from the state store, not redone
    refreshed: bool = False  # stored under an older registry; its decisions applied
    records_removed: int = 0  # by the newer registry, when refreshed


@dataclass(frozen=True)
class UnitJob:
    """What every unit of one run needs besides the unit: small and picklable, as it goes
    to every worker. The secret is not in it: a worker takes it from where it runs."""

    config: RunConfig
    staging_dir: str
    registry_sha256: str  # the registry preflight decided with


@dataclass
class UnitOutcome:
    """A unit's result, and the canary result of the engines that redacted it (None when
    it was reused from the state store and needed none)."""

    result: UnitResult
    canaries: dict[str, Any] | None = None


def build_engines(
    config: RunConfig, secret: str | None, registry_sha256: str | None = None
) -> Engines:
    """Engines for one worker. With ``registry_sha256`` (from preflight), a registry file
    that changed since the run started is refused: one run decides with one registry. The
    worker's process gets one BLAS thread: workers are the parallelism (one_blas_thread)."""
    one_blas_thread()
    key = secret_key(secret, required=config.needs_secret())
    gate = load_gate(config)
    if registry_sha256 is not None and gate.decision_sha256 != registry_sha256:
        raise ConsentError(
            f"consent registry {gate.registry_fingerprint['path']} (or the org registry or "
            "deletions file) changed since this run started; rerun to use the new one"
        )
    mentions = (
        NonConsentedMentions.from_gate(gate) if config.consent.mask_non_consented_mentions else None
    )
    redactor = TextRedactor.build(
        config.detection,
        config.masking,
        key,
        mentions,
        config.runner.repeat_cache,
        people_names(config, gate),
    )
    return Engines(gate=gate, redactor=redactor, key=key)


def check_canaries(config: RunConfig, engines: Engines) -> dict[str, Any]:
    """Canary recall through this run's engines; raises CanaryError under the threshold."""
    # Same detector and masker, without the consent-derived matcher: canary mention tokens
    # belong to nobody, and this gate measures detection.
    detection_only = TextRedactor(engines.redactor.detector, engines.redactor.masker)
    result = canary_check(
        detection_only,
        config.canaries,
        config.detection.entities,
        config.report.samples_per_entity,
    )
    if result["status"] == "measured" and not result["passed"]:
        low = {
            e: r
            for e, r in result["recall_by_entity"].items()
            if r < (config.canaries.fail_below_recall or 0)
        }
        raise CanaryError(
            f"canary recall below canaries.fail_below_recall "
            f"{config.canaries.fail_below_recall}: {low}; detection is not trusted, "
            "nothing was processed with these engines and nothing is published"
        )
    return result


# ----------------------------------------------------------- a worker thread's engines


@dataclass
class WorkerEngines:
    """A worker thread's engines, the run using them and their canary outcome in that run
    (None: not checked yet; a dict: passed; an error: failed)."""

    key: tuple[Any, ...]
    engines: Engines
    run: str
    canaries: dict[str, Any] | CanaryError | None = None


# This thread's WorkerEngines (attribute ``engines``), if it has built any.
worker_cache = threading.local()


def _engines_key(config: RunConfig, registry_sha256: str, secret: str | None) -> tuple[Any, ...]:
    return (
        config.config_hash(),
        registry_sha256,
        secret_fingerprint(secret.encode()) if secret else None,
    )


def keep_engines(config: RunConfig, secret: str | None, engines: Engines) -> None:
    """Make engines built elsewhere (a notebook's, a test session's) this thread's engines
    for runs of this config, secret and the registry they were built with."""
    key = _engines_key(config, engines.gate.decision_sha256, secret)
    worker_cache.engines = WorkerEngines(key, engines, run="")


# Engines built ahead of a run in this process (``build_ahead``), for its first worker thread.
_ahead: list[WorkerEngines] = []
_ahead_lock = threading.Lock()


def build_ahead(config: RunConfig, secret: str | None) -> bool:
    """Build engines and check their canaries before a run starts, for the first worker
    thread of this process whose run has the same config, registry and secret. The CLI does
    this while Prefect's API server starts (seconds it would otherwise wait for). Anything
    that goes wrong here is left for the run to meet and report in its place: returns False.
    """
    try:
        engines = build_engines(config, secret)
    except Exception:  # the run builds them again and fails with its own report
        return False
    try:
        canaries: dict[str, Any] | CanaryError = check_canaries(config, engines)
    except CanaryError as error:
        canaries = error
    # pyarrow imports pandas (if installed) the first time it builds an array: 0.2 s that
    # would otherwise land in the run's first unit.
    pa.array([], pa.string())
    key = _engines_key(config, engines.gate.decision_sha256, secret)
    with _ahead_lock:
        _ahead[:] = [WorkerEngines(key, engines, run="", canaries=canaries)]
    return True


def engines_built_ahead() -> Engines | None:
    """The engines ``build_ahead`` built, until a worker thread takes them, if they passed
    their canaries (``ahead.redact_ahead`` works with them while the server starts)."""
    with _ahead_lock:
        built = _ahead[0] if _ahead else None
    if built is None or isinstance(built.canaries, CanaryError):
        return None
    return built.engines


def _take_ahead(key: tuple[Any, ...], run: str) -> WorkerEngines | None:
    """The engines built ahead, if they fit ``key``: taken once (engines serve one thread)."""
    with _ahead_lock:
        if not _ahead or _ahead[0].key != key:
            return None
        taken = _ahead.pop()
    taken.run = run  # the canaries it passed just before this run hold for it (deterministic)
    return taken


def checked_engines(
    job: UnitJob, secret: str | None, on_build: Callable[[], None] | None = None
) -> tuple[Engines, dict[str, Any]]:
    """This worker thread's engines for the job's run, and their canary result in it (see
    the module's docstring). ``on_build`` is called before engines are built (the flow warns
    there about a worker's malloc settings)."""
    config, run = job.config, job.staging_dir
    key = _engines_key(config, job.registry_sha256, secret)
    cached: WorkerEngines | None = getattr(worker_cache, "engines", None)
    if (cached is None or cached.key != key) and (ahead := _take_ahead(key, run)) is not None:
        cached = worker_cache.engines = ahead
    if cached is None or cached.key != key:
        if on_build is not None:
            on_build()
        cached = WorkerEngines(key, build_engines(config, secret, job.registry_sha256), run)
        worker_cache.engines = cached
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


def run_unit(
    unit: WorkUnit, job: UnitJob, secret: str | None, on_build: Callable[[], None] | None = None
) -> UnitOutcome:
    """One unit on this worker, with this worker's checked engines (built only if the unit
    is not in the state store as is)."""
    canaries: list[dict[str, Any]] = []

    def engines() -> Engines:
        checked, result = checked_engines(job, secret, on_build)
        canaries.append(result)
        return checked

    result = process_unit(unit, job.config, engines, Path(job.staging_dir), job.registry_sha256)
    return UnitOutcome(result, canaries[0] if canaries else None)


def run_canaries(
    job: UnitJob, secret: str | None, on_build: Callable[[], None] | None = None
) -> dict[str, Any]:
    """The canary result of this worker's engines for the run, for a run where no unit
    needed engines (all reused from the state store): every report has one."""
    return checked_engines(job, secret, on_build)[1]


# ------------------------------------------------------------------------ one unit


def unit_files(staging_dir: Path, unit_id: str, shards: list[ShardInfo]) -> list[str]:
    """Every file a unit wrote, relative to the staging dir (what the state store keeps)."""
    per_unit = [
        f"{LINEAGE_DIR}/units/{unit_id}.parquet",
        f"{DEDUP_DIR}/{unit_id}.parquet",
        str(unit_quarantine_path(staging_dir, unit_id).relative_to(staging_dir)),
    ]
    return [shard.path for shard in shards] + [
        name for name in per_unit if (staging_dir / name).is_file()
    ]


def _stored_result(unit: WorkUnit, stored: dict[str, Any]) -> UnitResult:
    return UnitResult(
        unit.unit_id,
        unit.source,
        stats_from_json(stored["stats"]),
        shard_infos(stored["shards"]),
        reused=True,
    )


def _store_of(staging_dir: Path) -> UnitStore:
    """The state store of the output a staging dir (``.<name>.staging-<run id>``) is for."""
    name = staging_dir.name.removeprefix(".").rsplit(".staging-", 1)[0]
    return UnitStore.for_output(staging_dir.parent / name)


def process_unit(
    unit: WorkUnit,
    config: RunConfig,
    engines: Engines | Callable[[], Engines],
    staging_dir: Path,
    registry_sha256: str | None = None,
) -> UnitResult:
    """Read one work unit, gate, redact and write its shard parts into the staging dir, with
    its lineage rows and text hashes (see UnitWriter); then keep a copy in the state store
    so a rerun does not redo it. A unit the store holds is not redone: as stored if built
    under this run's registry, else with the newer registry's decisions applied (refresh).

    ``engines`` may be a function that builds them: then a unit the store holds as is
    needs none (workers build engines only for units they redo)."""

    def build() -> Engines:
        return engines if isinstance(engines, Engines) else engines()

    store = _store_of(staging_dir)
    stored = store.load(unit.key, staging_dir) if unit.key else None
    if stored is not None:
        registry_sha256 = registry_sha256 or build().gate.decision_sha256
        if stored.get("registry_sha256") == registry_sha256:
            return _stored_result(unit, stored)
    built = build()
    registry_sha256 = built.gate.decision_sha256
    result = None
    if stored is not None:
        result = _refresh(unit, config, built, staging_dir, _stored_result(unit, stored))
    if result is None:
        result = _redact_unit(unit, config, built, staging_dir)
    if unit.key:
        store.save(
            unit.key,
            staging_dir,
            unit_files(staging_dir, unit.unit_id, result.shards),
            {
                "unit_id": unit.unit_id,
                "registry_sha256": registry_sha256,
                "stats": stats_to_json(result.stats),
                "shards": [shard.__dict__ for shard in result.shards],
            },
        )
    return result


def _refresh(
    unit: WorkUnit, config: RunConfig, engines: Engines, staging_dir: Path, stored: UnitResult
) -> UnitResult | None:
    redactor = engines.redactor
    refreshed = refresh_unit(
        staging_dir,
        unit.unit_id,
        source_config(config, unit.source),
        config.output,
        stored.shards,
        stored.stats,
        engines.gate,
        engines.user_reasons(),
        redactor.mentions,
        redactor.masker,
        org_reasons=engines.org_reasons(),
    )
    if refreshed is None:
        return None
    return UnitResult(
        unit.unit_id,
        unit.source,
        refreshed.stats,
        refreshed.shards,
        reused=True,
        refreshed=True,
        records_removed=refreshed.records_removed,
    )


def _redact_unit(
    unit: WorkUnit,
    config: RunConfig,
    engines: Engines,
    staging_dir: Path,
) -> UnitResult:
    started = time.perf_counter()
    gate, redactor = engines.gate, engines.redactor
    source = source_config(config, unit.source)
    stats = SourceStats()
    writer = UnitWriter(staging_dir, source, unit.unit_id, config.output, engines.key)
    try:
        for batch in gated_batches(unit, source, gate, config.runner.batch_rows):
            stats.records_in += batch.rows_in
            stats.quarantined.update(batch.screened.reasons)
            writer.quarantine(batch.screened.quarantined)
            stats.dropped.update(batch.dropped)
            stats.kept_not_in_registry += batch.kept_unregistered
            org_ids: list[str | None] | None = [] if source.org_column else None
            table, user_ids = redact_batch(
                batch.consented, source, redactor, stats, config.leak_scan, org_ids
            )
            writer.write(table, user_ids, org_ids)
        shards = writer.close()
    except RedactError:
        writer.abort()
        raise
    except Exception as exc:
        writer.abort()
        # Library errors (polars, pyarrow, spaCy) may quote cell values: keep only the type
        # and where it happened, never the message.
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        raise UnitError(
            f"work unit {unit.unit_id} ({unit.path}, rows {unit.first_row}.."
            f"{unit.first_row + unit.rows - 1}) failed: {type(exc).__name__} at "
            f"{Path(frame.filename).name}:{frame.lineno} (message withheld: it may quote data)",
            transient=isinstance(exc, OSError),
        ) from None
    except BaseException:
        writer.abort()
        raise
    return UnitResult(unit.unit_id, unit.source, stats, shards, time.perf_counter() - started)
