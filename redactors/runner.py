"""The run, as plain functions: preflight -> process each work unit -> finalize and commit.

The Prefect flow in ``pipelines/`` only decides where and when these run. Output is built in
a staging directory next to the output and swapped in by rename when complete, so a reader
sees the previous run or this one, never half of one; a failed run leaves no output behind.
"""

from __future__ import annotations

import ctypes
import dataclasses
import errno
import fcntl
import hashlib
import hmac
import importlib.metadata
import json
import os
import secrets
import shutil
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from redactors.card import write_card
from redactors.config import LeakScanConfig, RunConfig, SourceConfig
from redactors.consent import ConsentGate
from redactors.dedup import dedup_run
from redactors.detect import check_detection_config, model_fingerprint, one_blas_thread
from redactors.engine import RedactedText, TextRedactor, secret_key
from redactors.errors import (
    CanaryError,
    ConsentError,
    OutputError,
    RedactError,
    ResidualRiskError,
    ThresholdError,
    UnitError,
)
from redactors.evaluate import canary_check
from redactors.io import (
    JSONL_DIR,
    Plan,
    ShardInfo,
    WorkUnit,
    check_output_apart_from_inputs,
    fsync_dir,
    plan_units,
    read_unit,
    sha256_file,
    shard_schema,
    write_jsonl_twin,
)
from redactors.leakscan import scan_record
from redactors.lineage import (
    LINEAGE_DIR,
    LINEAGE_FILE,
    LINEAGE_SCHEMA,
    lineage_table,
    read_lineage,
    reasons_by_user_key,
    write_lineage,
)
from redactors.mentions import NonConsentedMentions
from redactors.quarantine import (
    QUARANTINE_FILE,
    merge_quarantine,
    screen_batch,
    unit_quarantine_path,
)
from redactors.refresh import refresh_unit
from redactors.report import (
    SourceStats,
    build_report,
    compare_reports,
    render_html,
    write_json,
)
from redactors.state import (
    UnitStore,
    shard_infos,
    stats_from_json,
    stats_to_json,
    unit_key,
)
from redactors.textclean import clean_texts
from redactors.unitwriter import DEDUP_DIR, UnitWriter

MANIFEST = "manifest.json"
VERSIONED_PACKAGES = (
    "pii-redact",
    "presidio-analyzer",
    "presidio-anonymizer",
    "spacy",
    "polars",
    "pyarrow",
)


@dataclass(frozen=True)
class Preflight:
    """What a run checked before creating anything on disk."""

    run_id: str
    output_dir: Path
    staging_dir: Path
    plan: Plan
    secret_fingerprint: str | None
    started_at: str
    # The registry this run decides with; engines refuse a registry that changed since.
    registry_fingerprint: dict[str, Any]
    # What every unit's output depends on besides its input (hashed into unit keys).
    depends_on: dict[str, Any] = dataclass_field(default_factory=dict)
    rebuild_requested: bool = False
    stored_units: int = 0  # in the state store when the run started


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


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def secret_fingerprint(key: bytes | None) -> str | None:
    """Tells two secrets apart without revealing either (keyed hash of a constant)."""
    if key is None:
        return None
    return hmac.new(key, b"redact/secret-fingerprint/v1", hashlib.sha256).hexdigest()[:16]


# What a committed output directory holds; anything else means it is not ours to replace.
OUTPUT_ENTRIES = frozenset(
    {
        "shards",
        MANIFEST,
        "report.json",
        "report.html",
        "README.md",
        JSONL_DIR,
        LINEAGE_DIR,
        "forget_report.json",
        QUARANTINE_FILE,
    }
)


def is_our_output(output_dir: Path) -> bool:
    try:
        manifest = json.loads((output_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    entries = {entry.name for entry in output_dir.iterdir()}
    return (
        isinstance(manifest, dict)
        and "manifest_version" in manifest
        and "run_id" in manifest
        and entries <= OUTPUT_ENTRIES
    )


def _check_output_dir(output_dir: Path) -> None:
    if output_dir.exists() and not output_dir.is_dir():
        raise OutputError(f"output {output_dir} exists and is not a directory")
    if output_dir.is_dir() and any(output_dir.iterdir()) and not is_our_output(output_dir):
        raise OutputError(
            f"output {output_dir} is a non-empty directory that is not a previous output of "
            f"this pipeline (a valid {MANIFEST} and only {sorted(OUTPUT_ENTRIES)}): refusing "
            "to replace it"
        )
    parent = output_dir.parent
    if not parent.exists():
        parent.mkdir(parents=True, exist_ok=True)
    if not os.access(parent, os.W_OK):
        raise OutputError(f"cannot write to {parent} (needed for {output_dir})")
    if output_dir.is_dir():
        # Replacing a previous output removes it: every directory in it must be writable,
        # or the swap would succeed and the clean-up fail half way.
        directories = [output_dir, *(p for p in sorted(output_dir.rglob("*")) if p.is_dir())]
        locked = [d for d in directories if not os.access(d, os.W_OK | os.X_OK)]
        if locked:
            raise OutputError(
                f"cannot replace {output_dir}: {locked[0]} is not writable "
                f"({len(locked)} read-only director(ies) in it)"
            )


@contextmanager
def output_lock(output_dir: Path) -> Iterator[None]:
    """One writer per output location: a run or a forget holds an exclusive lock on
    ``.<name>.lock`` next to the output from its checks to its commit; a second one is
    refused at once (it would otherwise overwrite the first one's commit)."""
    path = output_dir.parent / f".{output_dir.name}.lock"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a")
    except PermissionError:
        raise OutputError(f"cannot write to {path.parent} (needed for {output_dir})") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputError(
                f"{output_dir} is being written by another run or forget (lock {path}); "
                "try again when it has finished"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def preflight(
    config: RunConfig, output_dir: Path, secret: str | None, rebuild: bool = False
) -> Preflight:
    """Check everything that can fail before any work: secret, model, entities, consent
    registry, every input file's columns and types, and the output location. Call it
    holding the output's lock: it also clears what a killed run left next to the output
    (and, with ``rebuild``, the stored units, so that nothing is reused)."""
    key = secret_key(secret, required=config.needs_secret())
    check_detection_config(config.detection)
    gate = ConsentGate.load(config.consent, config.resolve(config.consent.registry))
    plan = plan_units(config)
    check_output_apart_from_inputs(config, plan, output_dir.resolve())
    output_dir = output_dir.resolve()
    _check_output_dir(output_dir)
    _clear_leftovers(output_dir)
    store = UnitStore.for_output(output_dir)
    if rebuild:
        store.clear()
    run_id = new_run_id()
    fingerprint = secret_fingerprint(key)
    depends_on = {
        "config_hash": config.config_hash(),
        "secret_fingerprint": fingerprint,
        "model": model_fingerprint(config.detection.spacy_model),
        "versions": package_versions(),
    }
    if not can_refresh(config, key):
        # Without a lineage index a stored unit cannot take a newer registry's decisions:
        # then the registry is part of what the unit depends on, and a change redoes it.
        depends_on["registry_sha256"] = gate.registry_fingerprint["sha256"]
    inputs = {item.path: item for item in plan.inputs}
    plan.units = [
        dataclasses.replace(
            unit,
            key=unit_key(
                {
                    **depends_on,
                    "unit_id": unit.unit_id,
                    "input_sha256": inputs[unit.path].sha256,
                    "row_groups": list(unit.row_groups),
                    "skip_rows": unit.skip_rows,
                    "rows": unit.rows,
                }
            ),
        )
        for unit in plan.units
    ]
    return Preflight(
        run_id=run_id,
        output_dir=output_dir,
        staging_dir=output_dir.parent / f".{output_dir.name}.staging-{run_id}",
        plan=plan,
        secret_fingerprint=fingerprint,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        registry_fingerprint=gate.registry_fingerprint,
        depends_on=depends_on,
        rebuild_requested=rebuild,
        stored_units=store.count(),
    )


def can_refresh(config: RunConfig, key: bytes | None) -> bool:
    """Stored units can take a newer registry's decisions (see refresh.py)."""
    return config.output.lineage and key is not None


def _clear_leftovers(output_dir: Path) -> None:
    """Staging and swap directories of runs or forgets that were killed before cleaning up.
    Only called under the output's lock, so none of them belongs to a live writer."""
    name = output_dir.name
    for pattern in (f".{name}.staging-*", f".{name}.previous-*", f".{name}.forget-*"):
        for leftover in output_dir.parent.glob(pattern):
            shutil.rmtree(leftover, ignore_errors=True)


@dataclass(frozen=True)
class Engines:
    """What a worker builds once per run config and reuses for every unit it processes."""

    gate: ConsentGate
    redactor: TextRedactor
    key: bytes | None  # keys pseudonyms, hashes and lineage user keys
    # The registry's decisions by lineage user key, built on first use (refreshing units).
    _user_reasons: dict[str, str] = dataclass_field(default_factory=dict)

    def user_reasons(self) -> dict[str, str]:
        if not self._user_reasons and self.key is not None:
            self._user_reasons.update(reasons_by_user_key(self.gate, self.key))
        return self._user_reasons


def build_engines(
    config: RunConfig, secret: str | None, registry_sha256: str | None = None
) -> Engines:
    """Engines for one worker. With ``registry_sha256`` (from preflight), a registry file
    that changed since the run started is refused: one run decides with one registry. The
    worker's process gets one BLAS thread: workers are the parallelism (one_blas_thread)."""
    one_blas_thread()
    key = secret_key(secret, required=config.needs_secret())
    gate = ConsentGate.load(config.consent, config.resolve(config.consent.registry))
    if registry_sha256 is not None and gate.registry_fingerprint["sha256"] != registry_sha256:
        raise ConsentError(
            f"consent registry {gate.registry_fingerprint['path']} changed since this run "
            "started; rerun to use the new one"
        )
    mentions = (
        NonConsentedMentions.from_gate(gate) if config.consent.mask_non_consented_mentions else None
    )
    redactor = TextRedactor.build(
        config.detection, config.masking, key, mentions, config.runner.repeat_cache
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


def run_units(config: RunConfig, engines: Engines, prepared: Preflight) -> list[UnitResult]:
    """All units in this process, one after another (what the flow maps over workers)."""
    (prepared.staging_dir / "shards").mkdir(parents=True)
    return [
        process_unit(unit, config, engines, prepared.staging_dir) for unit in prepared.plan.units
    ]


def source_config(config: RunConfig, name: str) -> SourceConfig:
    return next(source for source in config.sources if source.name == name)


def _text_fields(batch: pl.DataFrame, source: SourceConfig) -> list[list[str | None]]:
    """Per output text column, the text to redact for each row (None when absent), without
    the invisible characters that would hide PII from detection (see textclean)."""
    batch = pl.DataFrame([clean_texts(batch[column]) for column in source.text_columns])
    if source.text_mode == "separate":
        return [batch[column].to_list() for column in source.text_columns]
    joined = batch.select(
        pl.concat_str(
            [pl.col(c).cast(pl.String).replace("", None) for c in source.text_columns],
            separator=source.join_separator,
            ignore_nulls=True,
        ).alias("text")
    )["text"]
    return [[text if text else None for text in joined.to_list()]]


def _created_at(series: pl.Series) -> pa.Array:
    """The source's time column as UTC microsecond timestamps (naive times are read as UTC)."""
    if series.dtype == pl.Date:
        series = series.cast(pl.Datetime("us"))
    if isinstance(series.dtype, pl.Datetime):
        if series.dtype.time_zone is None:
            series = series.dt.replace_time_zone("UTC")
        series = series.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    return series.to_arrow().cast(pa.timestamp("us", tz="UTC"))


def _sampled(record_id: str, rate: float) -> bool:
    """Deterministic sample: the same records are scanned in every run."""
    if rate >= 1.0:
        return True
    digest = hashlib.sha256(record_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") < rate * 2**64


def redact_batch(
    batch: pl.DataFrame,
    source: SourceConfig,
    redactor: TextRedactor,
    stats: SourceStats,
    leak_scan: LeakScanConfig | None = None,
) -> tuple[pa.Table, list[str]]:
    """Consented rows in, shard rows out (empty-text rows are counted and left out), with
    the user id of each row written (for the lineage index; never written to shards)."""
    fields = _text_fields(batch, source)
    has_text = [any(field[i] for field in fields) for i in range(batch.height)]
    stats.skipped_empty += has_text.count(False)
    keep = pl.Series(has_text, dtype=pl.Boolean)
    rows = batch.filter(keep)
    fields = [
        [value for value, kept in zip(field, has_text, strict=True) if kept] for field in fields
    ]

    flat = [text for field in fields for text in field if text]
    redacted_iter = iter(redactor.redact(flat, stats.nlp_stages))
    out_columns: list[list[str | None]] = []
    masked_per_row = [0] * rows.height
    record_ids = rows[source.id_column].cast(pl.String).to_list()
    scanned = (
        [_sampled(record_id, leak_scan.sample_rate) for record_id in record_ids]
        if leak_scan is not None and leak_scan.enabled
        else [False] * rows.height
    )
    allow_list = redactor.detector.config.allow_list
    for column_name, field in zip(source.output_text_columns(), fields, strict=True):
        out: list[str | None] = []
        for i, text in enumerate(field):
            if not text:
                out.append(text)
                continue
            result: RedactedText = next(redacted_iter)
            out.append(result.text)
            if scanned[i]:
                assert leak_scan is not None
                scan_record(
                    stats.leaks, result.text, result.replaced, source.name, leak_scan.max_examples
                )
            masked_per_row[i] += len(result.spans)
            stats.chars_in += len(text)
            stats.chars_masked += sum(span.end - span.start for span in result.spans)
            for span in result.spans:
                stats.add_span(column_name, span.entity_type, span.score, span.recognizer)
            stats.allow_list_hits += sum(text.count(word) for word in allow_list)
        out_columns.append(out)
    stats.records_out += rows.height
    stats.spans_masked += sum(masked_per_row)
    stats.records_with_pii += sum(1 for count in masked_per_row if count)

    schema = shard_schema(source)
    arrays: dict[str, Any] = {
        "record_id": pa.array(record_ids, pa.string()),
        "source": pa.array([source.name] * rows.height, pa.string()),
    }
    for name, column in zip(source.output_text_columns(), out_columns, strict=True):
        arrays[name] = pa.array(column, pa.string())
    arrays["created_at"] = _created_at(rows[source.time_column])
    arrays["pii_masked"] = pa.array(masked_per_row, pa.int32())
    user_ids = rows[source.user_column].cast(pl.String).to_list()
    return pa.Table.from_pydict(arrays, schema=schema), user_ids


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
    needs none (the flow's workers build engines only for units they redo)."""

    def build() -> Engines:
        return engines if isinstance(engines, Engines) else engines()

    store = _store_of(staging_dir)
    stored = store.load(unit.key, staging_dir) if unit.key else None
    if stored is not None:
        registry_sha256 = registry_sha256 or build().gate.registry_fingerprint["sha256"]
        if stored.get("registry_sha256") == registry_sha256:
            return _stored_result(unit, stored)
    built = build()
    registry_sha256 = built.gate.registry_fingerprint["sha256"]
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
        for first_row, batch in read_unit(unit, source, config.runner.batch_rows):
            stats.records_in += batch.height
            # Rows that cannot be processed safely: quarantined (or the run fails), never passed on.
            batch, quarantined, quarantine_rows = screen_batch(batch, source, unit.path, first_row)
            stats.quarantined.update(quarantined)
            writer.quarantine(quarantine_rows)
            consented, dropped, kept_unregistered = gate.split(
                batch, source.user_column, source.deleted_column
            )
            stats.dropped.update(dropped)
            stats.kept_not_in_registry += kept_unregistered
            table, user_ids = redact_batch(consented, source, redactor, stats, config.leak_scan)
            writer.write(table, user_ids)
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


def package_versions() -> dict[str, str]:
    versions = {}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    for directory in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        fsync_dir(directory)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux renameat2 RENAME_EXCHANGE); False if the
    platform or file system cannot."""
    rename_exchange = 2
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if result == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(error, os.strerror(error), str(a))


def commit_output(staging_dir: Path, output_dir: Path, run_id: str) -> None:
    """Make the finished staging dir the output in one step; remove the previous output.

    With an existing output the two directories are exchanged atomically where the OS can
    (readers see the old run or the new one, never neither); elsewhere two renames, with
    the old output put back if the second fails.
    """
    _fsync_tree(staging_dir)
    if not output_dir.exists():
        os.replace(staging_dir, output_dir)
    elif _exchange(staging_dir, output_dir):
        shutil.rmtree(staging_dir)  # now holds the previous output
    else:
        previous = output_dir.parent / f".{output_dir.name}.previous-{run_id}"
        os.replace(output_dir, previous)
        try:
            os.replace(staging_dir, output_dir)
        except BaseException:
            os.replace(previous, output_dir)
            raise
        shutil.rmtree(previous)
    fsync_dir(output_dir.parent)


def discard_staging(staging_dir: Path) -> None:
    shutil.rmtree(staging_dir, ignore_errors=True)


def finalize(
    config: RunConfig,
    config_path: str,
    prepared: Preflight,
    results: list[UnitResult],
    timings: dict[str, float],
    extra_versions: dict[str, str] | None = None,
    canaries: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write manifest and report into staging, then commit. Returns the report."""
    finalize_started = time.perf_counter()
    order = {unit.unit_id: index for index, unit in enumerate(prepared.plan.units)}
    results = sorted(results, key=lambda result: order[result.unit_id])
    removed = (
        dedup_run(prepared.staging_dir, results, config.output)
        if config.output.dedup == "exact"
        else {}
    )
    per_source: dict[str, SourceStats] = {source.name: SourceStats() for source in config.sources}
    for result in results:
        per_source[result.source].merge(result.stats)
    shards = [shard.__dict__ for result in results for shard in result.shards]
    inputs = [dict(item.__dict__) for item in prepared.plan.inputs]
    versions = {**package_versions(), **(extra_versions or {})}
    model = model_fingerprint(config.detection.spacy_model)
    operators = {e: config.masking.operator_for(e).type for e in config.masked_entities()}
    lineage = (
        _merge_lineage(prepared.staging_dir, results, removed) if config.output.lineage else None
    )
    quarantine = merge_quarantine(prepared.staging_dir, [result.unit_id for result in results])
    jsonl = (
        [
            write_jsonl_twin(
                pq.read_table(prepared.staging_dir / shard["path"]),
                prepared.staging_dir,
                shard["path"],
            )
            for shard in shards
        ]
        if config.output.jsonl
        else None
    )
    manifest = {
        "manifest_version": 1,
        "run_id": prepared.run_id,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "config_hash": config.config_hash(),
        "secret_fingerprint": prepared.secret_fingerprint,
        "versions": versions,
        "model": model,
        "inputs": inputs,
        "consent_registry": prepared.registry_fingerprint,
        "consent_policy": {
            "policy": config.consent.policy,
            "excluded_regions": list(config.consent.excluded_regions),
            "mask_non_consented_mentions": config.consent.mask_non_consented_mentions,
        },
        "shards": shards,
        "schemas": {
            source.name: [
                {"name": f.name, "type": str(f.type), "nullable": f.nullable}
                for f in shard_schema(source)
            ]
            for source in config.sources
        },
        "totals": {
            "rows": sum(s["rows"] for s in shards),
            "bytes": sum(s["bytes"] for s in shards),
        },
        "lineage": lineage,
        "quarantine": quarantine,  # positions of rows that could not be processed, or None
        "jsonl": jsonl,
        # How shards were written and masked, so `forget` rewrites them the same way.
        "shard_writer": {
            "compression": config.output.compression,
            "compression_level": config.output.compression_level,
        },
        "masking": config.masking.model_dump(mode="json"),
        "history": [],
    }
    (prepared.staging_dir / "shards").mkdir(parents=True, exist_ok=True)
    write_json(prepared.staging_dir / MANIFEST, manifest)
    run = {
        "run_id": prepared.run_id,
        "run_name": config.run_name,
        "started_at": prepared.started_at,
        "finished_at": manifest["created_at"],
        "config_path": config_path,
        "config_hash": manifest["config_hash"],
        "secret_fingerprint": prepared.secret_fingerprint,
        "output": str(prepared.output_dir),
        "versions": versions,
        "model": model,
        "detection": {
            "language": config.detection.language,
            "score_threshold": config.detection.score_threshold,
            "entities": list(config.detection.entities),
            "ner_prefilter": config.detection.ner_prefilter,
        },
    }
    consent = {
        "policy": config.consent.policy,
        "excluded_regions": list(config.consent.excluded_regions),
        "registry": prepared.registry_fingerprint,
    }
    report = build_report(
        leak_scan=config.leak_scan,
        run=run,
        per_source=per_source,
        operators=operators,
        inputs=inputs,
        shards=shards,
        consent=consent,
        timings=timings,
    )
    report["canaries"] = canaries or {"status": "not_run"}
    previous = _previous_report(prepared.output_dir)
    previous_manifest = _read_manifest(prepared.output_dir)
    report["change"] = (
        compare_reports(report, previous, config.report.change_threshold)
        if previous
        else {"status": "first_run"}
    )
    report["incremental"] = _incremental_section(prepared, results, previous_manifest)
    _check_thresholds(config, report)
    risk = report["residual_risk"]
    if risk["status"] == "measured" and not risk["passed"]:
        # Units whose masked text failed the re-scan are not kept for reuse either.
        UnitStore.for_output(prepared.output_dir).clear()
        raise ResidualRiskError(
            f"leak re-scan: {risk['records_with_hits']} of {risk['records_scanned']} scanned "
            f"records ({risk['rate']:.4%}) still hold PII-like values {risk['hits_by_entity']}, "
            f"above leak_scan.fail_above_rate {risk['fail_above_rate']}: output not published"
        )
    # Dedup, lineage, twins, manifest and report: all of finalize but rendering and commit.
    report["timings"]["finalize_s"] = round(time.perf_counter() - finalize_started, 3)
    write_json(prepared.staging_dir / "report.json", report)
    (prepared.staging_dir / "report.html").write_text(render_html(report), encoding="utf-8")
    write_card(prepared.staging_dir, manifest, report)
    commit_output(prepared.staging_dir, prepared.output_dir, prepared.run_id)
    # The store now matches the committed output: units of removed or changed inputs and of
    # an older config, secret or registry go (they may hold records no longer consented).
    UnitStore.for_output(prepared.output_dir).prune({unit.key for unit in prepared.plan.units})
    return report


def _read_manifest(output_dir: Path) -> dict[str, Any] | None:
    if not (output_dir.is_dir() and is_our_output(output_dir)):
        return None
    manifest: dict[str, Any] = json.loads((output_dir / MANIFEST).read_text(encoding="utf-8"))
    return manifest


def _incremental_section(
    prepared: Preflight, results: list[UnitResult], previous: dict[str, Any] | None
) -> dict[str, Any]:
    """What this run did versus what the output held: inputs new / changed / unchanged /
    removed, units reused or processed, why everything was rebuilt, and this run's delta."""
    processed = SourceStats()
    for result in results:
        if not result.reused:
            processed.merge(result.stats)
    section: dict[str, Any] = {
        "units": len(results),
        "units_reused": sum(result.reused for result in results),
        "units_processed": sum(not result.reused for result in results),
        "units_refreshed": sum(result.refreshed for result in results),
        "this_run": {
            "records_removed_by_newer_registry": sum(r.records_removed for r in results),
            "records_in": processed.records_in,
            "records_dropped": processed.records_dropped,
            "records_redacted": processed.records_out,  # before the run-wide dedup
            "spans_masked": processed.spans_masked,
        },
    }
    current = {item.path: item.sha256 for item in prepared.plan.inputs}
    if previous is None:
        section["inputs"] = {"new": sorted(current), "changed": [], "unchanged": 0, "removed": []}
        section["rebuild_reasons"] = ["first run in this output location"]
        return section
    before = {item["path"]: item["sha256"] for item in previous.get("inputs", [])}
    section["inputs"] = {
        "new": sorted(set(current) - set(before)),
        "changed": sorted(p for p in current if p in before and before[p] != current[p]),
        "unchanged": sum(1 for p in current if before.get(p) == current[p]),
        "removed": sorted(set(before) - set(current)),
    }
    checks = {
        "config changed": previous.get("config_hash") == prepared.depends_on["config_hash"],
        "secret changed": previous.get("secret_fingerprint") == prepared.secret_fingerprint,
        "consent registry changed": "registry_sha256" not in prepared.depends_on
        or (previous.get("consent_registry") or {}).get("sha256")
        == prepared.registry_fingerprint["sha256"],
        "spaCy model changed": previous.get("model") == prepared.depends_on["model"],
        "package versions changed": {
            name: version
            for name, version in (previous.get("versions") or {}).items()
            if name in prepared.depends_on["versions"]
        }
        == prepared.depends_on["versions"],
    }
    reasons = [reason for reason, same in checks.items() if not same]
    if prepared.rebuild_requested:
        reasons.append("rebuild requested")
    elif not prepared.stored_units and prepared.plan.units:
        reasons.append("no stored units (state deleted, or cleared by a forget)")
    section["rebuild_reasons"] = reasons
    return section


def _check_thresholds(config: RunConfig, report: dict[str, Any]) -> None:
    totals = report["totals"]
    limit = config.report.fail_above_drop_rate
    if limit is not None and totals["records_in"]:
        rate = totals["records_dropped"] / totals["records_in"]
        if rate > limit:
            raise ThresholdError(
                f"{totals['records_dropped']} of {totals['records_in']} records ({rate:.2%}) "
                f"were dropped for consent, above report.fail_above_drop_rate {limit:.2%}: "
                "output not published (is the consent registry complete?)"
            )
    flags = report["change"].get("flags") or []
    if config.report.fail_on_change and flags:
        raise ThresholdError(
            f"rates moved more than report.change_threshold "
            f"{config.report.change_threshold:.0%} since the previous run: {flags}; output not "
            "published (report.fail_on_change is on)"
        )


def _merge_lineage(
    staging_dir: Path, results: list[UnitResult], removed: dict[str, set[int]]
) -> dict[str, Any]:
    """Concatenate the units' lineage files (in unit order) into one index, without the
    rows dedup removed (positions renumbered to match the rewritten shards)."""
    units_dir = staging_dir / LINEAGE_DIR / "units"
    paths = [units_dir / f"{result.unit_id}.parquet" for result in results]
    tables = [read_lineage(path) for path in paths if path.exists()]
    table = pa.concat_tables(tables) if tables else lineage_table([], [], [])
    if removed:
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        dropped = pl.DataFrame(
            [(shard, row) for shard, rows in removed.items() for row in rows],
            schema={"shard": pl.String, "row": pl.Int32},
            orient="row",
        )
        frame = frame.join(
            dropped, on=["shard", "row"], how="anti", maintain_order="left"
        ).with_columns(pl.int_range(pl.len()).over("shard").cast(pl.Int32).alias("row"))
        table = frame.to_arrow().cast(LINEAGE_SCHEMA)
    path = staging_dir / LINEAGE_FILE
    write_lineage(path, table)
    shutil.rmtree(units_dir, ignore_errors=True)
    return {"path": LINEAGE_FILE, "rows": table.num_rows, "sha256": sha256_file(path)}


def _previous_report(output_dir: Path) -> dict[str, Any] | None:
    path = output_dir / "report.json"
    if not (output_dir.is_dir() and is_our_output(output_dir) and path.exists()):
        return None
    try:
        previous: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    return previous


def run_local(
    config: RunConfig,
    config_path: str,
    output_dir: Path,
    secret: str | None,
    rebuild: bool = False,
) -> dict[str, Any]:
    """The whole run in this process, without Prefect (notebooks, tests, debugging):
    preflight, every unit in order, finalize. Same output as the flow."""
    with output_lock(output_dir.resolve()):
        return _run_local_locked(config, config_path, output_dir, secret, rebuild)


def _run_local_locked(
    config: RunConfig, config_path: str, output_dir: Path, secret: str | None, rebuild: bool
) -> dict[str, Any]:
    started = time.perf_counter()
    prepared = preflight(config, output_dir, secret, rebuild)
    canary_started = time.perf_counter()
    engines = build_engines(config, secret, prepared.registry_fingerprint["sha256"])
    canaries = check_canaries(config, engines)
    try:
        process_started = time.perf_counter()
        results = run_units(config, engines, prepared)
        return finalize(
            config,
            config_path,
            prepared,
            results,
            timings={
                "plan_s": canary_started - started,
                # As in the flow, process_s covers engines, canaries and units. canary_s
                # (engines + canaries) is part of it; the flow has none, as there the
                # canaries are checked inside the units.
                "process_s": time.perf_counter() - canary_started,
                "canary_s": process_started - canary_started,
            },
            canaries=canaries,
        )
    except BaseException:
        discard_staging(prepared.staging_dir)
        raise
