"""Apply withdrawn consent to shards that already exist (`redact forget`).

Given an output directory and a newer consent registry:
- records of users who are no longer consented (per the lineage index and the policy the
  output was built under) are removed from their shards;
- handles, display names and mention tokens of non-consented users still visible in other
  people's text are masked, with the operator the run used for NON_CONSENTED_USER;
- only the shards that change are rewritten; every other file is carried over as a hard
  link (same bytes, same inode, same mtime), and the whole output is swapped in atomically,
  like a run. With nothing to do, nothing is written.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from redactors.card import write_card
from redactors.config import NON_CONSENTED_ENTITY, ConsentConfig, MaskingConfig, OutputConfig
from redactors.consent import (
    ConsentGate,
    consent_provenance,
    reasons_by_org_key,
    reasons_by_user_key,
)
from redactors.consent_files import (
    merged_deletions,
    read_applied_deletions,
    write_applied_deletions,
)
from redactors.copies import refresh_copies
from redactors.engine import Masker, secret_key
from redactors.epoch import content_id, next_identity, stamp_table, table_digest
from redactors.errors import OutputError, SecretError
from redactors.io import sha256_file
from redactors.lineage import (
    APPLIED_DELETIONS_FILE,
    LINEAGE_FILE,
    LINEAGE_SCHEMA,
    read_lineage,
    write_lineage,
)
from redactors.manifest import (
    FileEntry,
    ForgetEntry,
    Manifest,
    ShardEntry,
    ShardTotals,
    ShardWriterSettings,
)
from redactors.mentions import NonConsentedMentions
from redactors.output import (
    CARD,
    FORGET_REPORT,
    MANIFEST,
    REPORT_HTML,
    REPORT_JSON,
    commit_output,
    discard_staging,
    new_run_id,
    output_lock,
    read_manifest_json,
    staging_dir_for,
)
from redactors.preflight import secret_fingerprint
from redactors.registry_apply import (
    KEPT_REASONS,
    apply_to_shard,
    kept_lineage,
    lineage_reasons,
)
from redactors.render import render_html
from redactors.report import AfterForget, Report, ShardSummary, write_json
from redactors.shards import jsonl_twin_path, write_jsonl_twin, write_parquet_atomic
from redactors.state import UnitStore


def _load_manifest(output_dir: Path) -> Manifest:
    stored = read_manifest_json(output_dir)
    if stored is None:
        raise OutputError(f"{output_dir} is not an output of this pipeline (no valid {MANIFEST})")
    manifest = Manifest.model_validate(stored)
    if not manifest.lineage:
        raise OutputError(
            f"{output_dir} has no lineage index (built with output.lineage: false): "
            "forget cannot tell whose records a shard holds; rebuild it with `redact run`"
        )
    return manifest


def _write_shard(table: pa.Table, path: Path, settings: ShardWriterSettings) -> None:
    writer = OutputConfig.model_validate(
        {k: v for k, v in settings.to_json().items() if k in ("compression", "compression_level")}
    )
    write_parquet_atomic(table, path, *writer.parquet_compression())


def _update_run_report(
    output_dir: Path, staging: Path, manifest: Manifest, downstream: list[str] | None = None
) -> None:
    """The run report describes the run; after forget it also says what the output holds
    now, so a reviewer opening report.html is not misled by the run's counts."""
    path = output_dir / REPORT_JSON
    if not path.exists():
        return
    report = Report.read(path)
    report.after_forget = AfterForget(
        history=manifest.history,
        shards=ShardSummary(
            count=len(manifest.shards), rows=manifest.totals.rows, bytes=manifest.totals.bytes
        ),
        consent_registry=manifest.consent_registry,
        downstream_copies_to_refresh=downstream or [],
    )
    report.write(staging / REPORT_JSON)
    (staging / REPORT_HTML).write_text(render_html(report), encoding="utf-8")
    write_card(staging, manifest, report)


def _provenance_after(
    manifest: Manifest,
    gate: ConsentGate,
    registry_path: Path | None,
    org_registry_path: Path | None,
    deletions_path: Path | None,
    removed: Counter[str],
) -> dict[str, Any] | None:
    """The manifest's consent provenance after a forget: each level given now rests on its
    newer file; what forget removed is counted per level, apart from what the run dropped."""
    given = {"user": registry_path, "org": org_registry_path, "record": deletions_path}
    levels = consent_provenance(gate.levels(), removed)
    previous = manifest.consent_provenance or {}
    result: dict[str, Any] = {}
    for name, level in levels.items():
        before = previous.get(name)
        if given[name] is None and before is None:
            continue
        merged = dict(before or {})
        if given[name] is not None:
            merged.update({k: v for k, v in level.items() if k != "dropped_by_reason"})
        removed_now = level["dropped_by_reason"]
        merged["dropped_by_reason"] = (before or {}).get("dropped_by_reason", {})
        merged["removed_by_forget"] = {
            reason: int((before or {}).get("removed_by_forget", {}).get(reason, 0)) + count
            for reason, count in removed_now.items()
        }
        result[name] = merged
    return result or None


def _link_tree(source: Path, target: Path, skip: set[Path]) -> None:
    """Hard-link every file of source into target, except those in skip (relative paths)."""
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if path.is_dir():
            (target / relative).mkdir(parents=True, exist_ok=True)
        elif relative not in skip:
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            os.link(path, target / relative)


def forget(
    output_dir: Path,
    registry_path: Path | None,
    secret: str | None,
    *,
    org_registry_path: Path | None = None,
    deletions_path: Path | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Remove and mask what the newer registries no longer allow, and the records newer
    tombstones delete. Any of the three may be given (at least one). Returns the forget
    report."""
    if registry_path is None and org_registry_path is None and deletions_path is None:
        raise OutputError("forget needs --registry, --org-registry or --deletions (or several)")
    output_dir = output_dir.resolve()
    with output_lock(output_dir):
        return _forget_locked(
            output_dir, registry_path, secret, now, org_registry_path, deletions_path
        )


def _forget_gate(
    manifest: Manifest,
    registry_path: Path | None,
    org_registry_path: Path | None,
    deletions_path: Path | None,
) -> ConsentGate:
    """The gate forget decides with, under the policy and purpose the output was built
    with. Without a newer user registry the user level keeps every record (nothing new to
    apply there); an org registry for an output built without org keys is refused."""
    policy = manifest.consent_policy
    if org_registry_path is not None and policy.org_policy is None:
        raise OutputError(
            "this output was built without an org registry (no org keys in its lineage): "
            "forget cannot apply one; rebuild it with consent.org_registry set"
        )
    consent = ConsentConfig(
        registry=str(registry_path),
        policy=policy.policy if registry_path is not None else "opt_out",
        excluded_regions=policy.excluded_regions if registry_path is not None else [],
        mask_non_consented_mentions=policy.mask_non_consented_mentions,
        org_policy=policy.org_policy or "opt_in",  # type: ignore[arg-type]
        purpose=policy.purpose,
    )
    sources = sorted({shard.source for shard in manifest.shards} | set(manifest.schemas))
    if registry_path is not None:
        return ConsentGate.load(
            consent,
            registry_path,
            org_registry_path=org_registry_path,
            deletions_path=deletions_path,
            sources=sources,
        )
    # No user registry given: the user level has no say (every user passes), and the
    # output's registry fingerprint stays.
    with tempfile.TemporaryDirectory(prefix="redact-forget-") as temp:
        empty = Path(temp) / "empty-registry.parquet"
        pl.DataFrame(
            schema={
                "user_id": pl.String,
                "status": pl.String,
                "region": pl.String,
                "updated_at": pl.Datetime("us", "UTC"),
            }
        ).write_parquet(empty)
        gate = ConsentGate.load(
            consent,
            empty,
            org_registry_path=org_registry_path,
            deletions_path=deletions_path,
            sources=sources,
        )
    return dataclasses.replace(
        gate, missing_user_reason=None, registry_fingerprint=manifest.consent_registry
    )


def _forget_locked(
    output_dir: Path,
    registry_path: Path | None,
    secret: str | None,
    now: datetime | None,
    org_registry_path: Path | None = None,
    deletions_path: Path | None = None,
) -> dict[str, Any]:
    started = time.perf_counter()
    manifest = _load_manifest(output_dir)
    key = secret_key(secret, required=True)
    if secret_fingerprint(key) != manifest.secret_fingerprint:
        raise SecretError(
            "REDACT_SECRET is not the secret this output was built with (fingerprints "
            "differ): lineage keys would not match, so forget refuses to guess"
        )
    gate = _forget_gate(manifest, registry_path, org_registry_path, deletions_path)
    mentions = (
        NonConsentedMentions.from_gate(gate)
        if manifest.consent_policy.mask_non_consented_mentions and registry_path is not None
        else None
    )
    masker = Masker(MaskingConfig.model_validate(manifest.masking), [NON_CONSENTED_ENTITY], key)

    lineage_table = read_lineage(output_dir / LINEAGE_FILE)
    if gate.org_lookup is not None and lineage_table["org_key"].null_count:
        raise OutputError(
            f"{output_dir}: {lineage_table['org_key'].null_count} lineage row(s) have no org "
            "key (written before org keys were kept): forget cannot apply an org registry to "
            "them; rebuild the output with `redact run --rebuild`"
        )
    lineage = lineage_reasons(
        lineage_table,
        gate,
        reasons_by_user_key(gate, key) if registry_path is not None else {},
        org_reasons=reasons_by_org_key(gate, key),
        sources={shard.path: shard.source for shard in manifest.shards},
    )
    forgotten = lineage.filter(~pl.col("reason").is_in(KEPT_REASONS))
    removed_by_shard: dict[str, set[int]] = {}
    for shard, row in forgotten.select("shard", "row").iter_rows():
        removed_by_shard.setdefault(shard, set()).add(row)
    lineage_rows = dict(lineage.group_by("shard").len().iter_rows())

    run_id = new_run_id()
    staging = staging_dir_for(output_dir, run_id, "forget")
    rewritten: dict[str, pa.Table] = {}
    mentions_masked = 0
    for shard in manifest.shards:
        table = pq.read_table(output_dir / shard.path)
        if lineage_rows.get(shard.path, 0) != table.num_rows:
            raise OutputError(
                f"{output_dir}: lineage does not match {shard.path} "
                f"({lineage_rows.get(shard.path, 0)} vs {table.num_rows} rows); refusing"
            )
        drop = removed_by_shard.get(shard.path, set())
        keep = [row not in drop for row in range(table.num_rows)]  # by position
        change = apply_to_shard(table, keep, mentions, masker)
        if change.changed:
            rewritten[shard.path] = change.table
            mentions_masked += sum(change.added)

    if not rewritten:
        return {"changed": False, "records_removed": 0, "mentions_masked": 0, "shards_rewritten": 0}

    at = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    identity = next_identity(
        content_id(
            [(s.path, s.sha256) for s in manifest.shards if s.path not in rewritten]
            + [(path, table_digest(t)) for path, t in rewritten.items() if t.num_rows]
        ),
        manifest.to_json(),
        output_dir,
    )
    removed_by_reason = Counter(forgotten["reason"].to_list())
    new_shards: list[ShardEntry] = []
    new_twins: dict[str, FileEntry] = {}
    try:
        staging.mkdir()
        has_jsonl = bool(manifest.jsonl)
        twins = {Path(jsonl_twin_path(p)) for p in rewritten} if has_jsonl else set()
        skip = (
            {Path(p) for p in rewritten}
            | twins
            | {
                Path(MANIFEST),
                Path(LINEAGE_FILE),
                Path(FORGET_REPORT),
                Path(REPORT_JSON),
                Path(REPORT_HTML),
                Path(CARD),
                Path(APPLIED_DELETIONS_FILE),
            }
        )
        _link_tree(output_dir, staging, skip)
        write_applied_deletions(
            staging, merged_deletions(read_applied_deletions(output_dir), gate.deletions)
        )
        # The loaders' cache goes in this swap; copies out of reach are listed.
        downstream = refresh_copies(output_dir, staging, manifest)
        for shard in manifest.shards:
            table = rewritten.get(shard.path)
            if table is None:
                new_shards.append(shard)
            elif table.num_rows:
                path = staging / shard.path
                table = stamp_table(table, identity["output_id"], shard.path)
                _write_shard(table, path, manifest.shard_writer)
                if has_jsonl:
                    new_twins[jsonl_twin_path(shard.path)] = FileEntry.model_validate(
                        write_jsonl_twin(table, staging, shard.path)
                    )
                new_shards.append(
                    shard.model_copy(
                        update={
                            "rows": table.num_rows,
                            "bytes": path.stat().st_size,
                            "sha256": sha256_file(path),
                            "output_id": identity["output_id"],
                        }
                    )
                )
            # a shard left with no rows is dropped from the output
        kept = kept_lineage(lineage, sorted(shard.path for shard in new_shards))
        write_lineage(staging / LINEAGE_FILE, kept.to_arrow().cast(LINEAGE_SCHEMA))
        entry = ForgetEntry(
            action="forget",
            id=run_id,
            at=at,
            registry=gate.registry_fingerprint,
            records_removed=forgotten.height,
            records_removed_by_reason=dict(sorted(removed_by_reason.items())),
            users_forgotten=forgotten["user_key"].n_unique(),
            mentions_masked=mentions_masked,
            shards_rewritten=sum(1 for t in rewritten.values() if t.num_rows),
            shards_removed=sum(1 for t in rewritten.values() if not t.num_rows),
        )
        if org_registry_path is not None:
            entry.org_registry = gate.org_fingerprint
        if deletions_path is not None:
            entry.deletions = gate.deletions_fingerprint
        manifest = manifest.model_copy(
            update={
                "consent_provenance": _provenance_after(
                    manifest,
                    gate,
                    registry_path,
                    org_registry_path,
                    deletions_path,
                    removed_by_reason,
                ),
                "shards": new_shards,
                "consent_registry": gate.registry_fingerprint,
                "totals": ShardTotals(
                    rows=sum(s.rows for s in new_shards), bytes=sum(s.bytes for s in new_shards)
                ),
                "lineage": FileEntry(
                    path=LINEAGE_FILE,
                    rows=kept.height,
                    sha256=sha256_file(staging / LINEAGE_FILE),
                ),
                "history": [*manifest.history, entry],
                **identity,
                "jsonl": (
                    [
                        new_twins.get(jsonl_twin_path(s.path))
                        or next(j for j in manifest.jsonl if j.path == jsonl_twin_path(s.path))
                        for s in new_shards
                    ]
                    if manifest.jsonl
                    else manifest.jsonl
                ),
            }
        )
        write_json(staging / MANIFEST, manifest.to_json())
        report = {
            "changed": True,
            **entry.to_json(),
            "seconds": round(time.perf_counter() - started, 3),
            "consent_epoch": identity["consent_epoch"],
            "downstream_copies_to_refresh": downstream,
        }
        write_json(staging / FORGET_REPORT, report)
        _update_run_report(output_dir, staging, manifest, downstream)
        # The state store still holds the forgotten records as the units first wrote them:
        # drop it before the commit, so no later run can bring them back (it rebuilds).
        UnitStore.for_output(output_dir).clear()
        commit_output(staging, output_dir, run_id)
    except BaseException:
        discard_staging(staging)
        raise
    return report
