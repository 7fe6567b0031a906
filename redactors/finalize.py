"""Run-wide steps after every unit has written its part: dedup, lineage, quarantine, JSONL
twins, manifest, report, dataset card, the gates that can still stop publication, commit.

Everything is written into the run's staging dir; only the commit makes it the output.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from redactors.card import split_warnings, write_card
from redactors.config import RunConfig
from redactors.consent import consent_provenance
from redactors.consent_files import write_applied_deletions
from redactors.dedup import dedup_run
from redactors.epoch import stamp_run_shards
from redactors.errors import GateError
from redactors.gates import LEAK_GATES, coverage, failure_message, risk_acceptance, verdict
from redactors.io import sha256_file, shard_schema
from redactors.lineage import (
    LINEAGE_DIR,
    LINEAGE_FILE,
    LINEAGE_SCHEMA,
    lineage_table,
    read_lineage,
    write_lineage,
)
from redactors.manifest import Manifest
from redactors.nlp import model_fingerprint
from redactors.output import (
    MANIFEST,
    REPORT_HTML,
    REPORT_JSON,
    commit_output,
    failed_report_dir,
    read_manifest_json,
    read_report_json,
)
from redactors.preflight import Preflight, package_versions
from redactors.quarantine import merge_quarantine
from redactors.render import render_html
from redactors.report import (
    Canaries,
    Change,
    Incremental,
    Report,
    SourceStats,
    build_report,
    compare_reports,
    write_json,
)
from redactors.shards import write_jsonl_twin
from redactors.state import UnitStore
from redactors.unit import UnitResult

_Loaded = TypeVar("_Loaded", Manifest, Report)


def finalize(
    config: RunConfig,
    config_path: str,
    prepared: Preflight,
    results: list[UnitResult],
    timings: dict[str, float],
    extra_versions: dict[str, str] | None = None,
    canaries: dict[str, Any] | None = None,
    accept_risk: str | None = None,
    accepted_by: str | None = None,
) -> Report:
    """Write manifest and report into staging, then commit. Returns the report.

    A run whose verdict is FAIL (a release gate failed) is not committed: its report goes
    next to the output (failed_report_dir) and GateError is raised; ``accept_risk`` (a
    reason; ``accepted_by``: who) publishes it anyway, recorded in report and manifest."""
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
    shards, identity = stamp_run_shards(
        prepared.staging_dir,
        shards,
        read_manifest_json(prepared.output_dir),
        prepared.output_dir,
        config.output.parquet_compression(),
    )
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
    manifest_json = {
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
            **_consent_policy_levels(config),
        },
        **_consent_provenance(prepared, per_source),
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
        **identity,  # output id, consent epoch (redactors.epoch)
    }
    manifest = Manifest.model_validate(manifest_json)
    (prepared.staging_dir / "shards").mkdir(parents=True, exist_ok=True)
    write_json(prepared.staging_dir / MANIFEST, manifest.to_json())
    run = {
        "run_id": prepared.run_id,
        "run_name": config.run_name,
        "started_at": prepared.started_at,
        "finished_at": manifest.created_at,
        "config_path": config_path,
        "config_hash": manifest.config_hash,
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
        **_consent_policy_levels(config),
        **_consent_provenance(prepared, per_source, key="levels"),
    }
    write_applied_deletions(prepared.staging_dir, prepared.deletions)
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
    report.canaries = Canaries.model_validate(canaries or {"status": "not_run"})
    previous = _previous(Report, read_report_json(prepared.output_dir))
    if previous is not None:
        report.change = compare_reports(report, previous, config.report.change_threshold)
    else:
        report.change = Change(status="first_run")
    report.incremental = _incremental_section(
        prepared, results, _previous(Manifest, read_manifest_json(prepared.output_dir))
    )
    report.coverage = coverage(config, report)
    if config.review is not None:
        report.review = config.review.model_dump(mode="json")
    report.verdict = verdict(config, report)
    # Dedup, lineage, twins, manifest and report: all of finalize but rendering and commit.
    report.timings["finalize_s"] = round(time.perf_counter() - finalize_started, 3)
    report.warnings += split_warnings(config.output.splits, manifest)
    if report.verdict.failed and accept_risk is None:
        _refuse(prepared, report)
    if report.verdict.failed:
        assert accept_risk is not None
        accepted = risk_acceptance(accept_risk, accepted_by, report.verdict.failed)
        report.verdict.risk_acceptance = accepted
        report.verdict.published = True
        manifest.risk_acceptance = accepted
        write_json(prepared.staging_dir / MANIFEST, manifest.to_json())
    report.write(prepared.staging_dir / REPORT_JSON)
    (prepared.staging_dir / REPORT_HTML).write_text(render_html(report), encoding="utf-8")
    write_card(prepared.staging_dir, manifest, report)
    commit_output(prepared.staging_dir, prepared.output_dir, prepared.run_id)
    # The store now matches the committed output: units of removed or changed inputs and of
    # an older config, secret or registry go (they may hold records no longer consented).
    UnitStore.for_output(prepared.output_dir).prune({unit.key for unit in prepared.plan.units})
    return report


def _refuse(prepared: Preflight, report: Report) -> None:
    """Fail closed: the failed run's report next to the output (never in it), no commit."""
    assert report.verdict is not None
    report.verdict.published = False
    target = failed_report_dir(prepared.output_dir, prepared.run_id)
    report.verdict.failed_report_dir = str(target)
    temp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir(parents=True)
    report.write(temp / REPORT_JSON)
    (temp / REPORT_HTML).write_text(render_html(report), encoding="utf-8")
    os.replace(temp, target)
    if set(report.verdict.failed) & set(LEAK_GATES):
        # Units whose masked text failed the re-scan are not kept for reuse either.
        UnitStore.for_output(prepared.output_dir).clear()
    raise GateError(
        f"verdict FAIL, output not published: {failure_message(report.verdict)}. The "
        f"previous output, if any, is untouched; this run's report: {target}/{REPORT_HTML}. "
        'Tighten the data or detection, loosen the gate in the config, or publish anyway with '
        '--accept-risk "reason"',
        report_dir=str(target),
    )


def _previous(model: type[_Loaded], stored: dict[str, Any] | None) -> _Loaded | None:
    """The previous output's manifest or report, typed; None if there is none, or it is not
    one this version can read (then this run is compared with nothing, as a first run)."""
    if stored is None:
        return None
    try:
        return model.model_validate(stored)
    except ValueError:
        return None


def _incremental_section(
    prepared: Preflight, results: list[UnitResult], previous: Manifest | None
) -> Incremental:
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
            # before the run-wide dedup (which moved copies from records_out)
            "records_redacted": processed.records_out + processed.records_deduplicated,
            "spans_masked": processed.spans_masked,
        },
    }
    current = {item.path: item.sha256 for item in prepared.plan.inputs}
    if previous is None:
        section["inputs"] = {"new": sorted(current), "changed": [], "unchanged": 0, "removed": []}
        section["rebuild_reasons"] = ["first run in this output location"]
        return Incremental.model_validate(section)
    before = {item["path"]: item["sha256"] for item in previous.inputs}
    section["inputs"] = {
        "new": sorted(set(current) - set(before)),
        "changed": sorted(p for p in current if p in before and before[p] != current[p]),
        "unchanged": sum(1 for p in current if before.get(p) == current[p]),
        "removed": sorted(set(before) - set(current)),
    }
    checks = {
        "config changed": previous.config_hash == prepared.depends_on["config_hash"],
        "secret changed": previous.secret_fingerprint == prepared.secret_fingerprint,
        "consent registry changed": "registry_sha256" not in prepared.depends_on
        or previous.consent_registry.get("sha256") == prepared.registry_fingerprint["sha256"],
        "spaCy model changed": previous.model == prepared.depends_on["model"],
        "package versions changed": {
            name: version
            for name, version in previous.versions.items()
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
    return Incremental.model_validate(section)


def _consent_policy_levels(config: RunConfig) -> dict[str, Any]:
    """The org policy and purpose, when configured (older outputs have neither key)."""
    extra: dict[str, Any] = {}
    if config.consent.org_registry is not None:
        extra["org_policy"] = config.consent.org_policy
    if config.consent.purpose is not None:
        extra["purpose"] = config.consent.purpose
    return extra


def _consent_provenance(
    prepared: Preflight, per_source: dict[str, SourceStats], key: str = "consent_provenance"
) -> dict[str, Any]:
    """Per consent level: fingerprint, as-of time, purpose and records dropped by reason."""
    if not prepared.consent_levels:
        return {}
    dropped: Counter[str] = Counter()
    for stats in per_source.values():
        dropped.update(stats.dropped)
    return {key: consent_provenance(prepared.consent_levels, dropped)}


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
