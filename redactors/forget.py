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

import json
import os
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
from redactors.consent import KEPT_NOT_IN_REGISTRY, ConsentGate
from redactors.engine import Masker, secret_key
from redactors.errors import OutputError, SecretError
from redactors.io import jsonl_twin_path, sha256_file, write_jsonl_twin, write_parquet_atomic
from redactors.lineage import (
    LINEAGE_FILE,
    LINEAGE_SCHEMA,
    read_lineage,
    reasons_by_user_key,
    write_lineage,
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
from redactors.refresh import mask_mentions_in_table
from redactors.report import render_html, write_json
from redactors.state import UnitStore

_KEPT = ("", KEPT_NOT_IN_REGISTRY)


def _load_manifest(output_dir: Path) -> dict[str, Any]:
    manifest = read_manifest_json(output_dir)
    if manifest is None:
        raise OutputError(f"{output_dir} is not an output of this pipeline (no valid {MANIFEST})")
    if not manifest.get("lineage"):
        raise OutputError(
            f"{output_dir} has no lineage index (built with output.lineage: false): "
            "forget cannot tell whose records a shard holds; rebuild it with `redact run`"
        )
    return manifest


def _write_shard(table: pa.Table, path: Path, writer_settings: dict[str, Any]) -> None:
    settings = OutputConfig.model_validate(
        {k: v for k, v in writer_settings.items() if k in ("compression", "compression_level")}
    )
    write_parquet_atomic(table, path, *settings.parquet_compression())


def _update_run_report(output_dir: Path, staging: Path, manifest: dict[str, Any]) -> None:
    """The run report describes the run; after forget it also says what the output holds
    now, so a reviewer opening report.html is not misled by the run's counts."""
    path = output_dir / REPORT_JSON
    if not path.exists():
        return
    report = json.loads(path.read_text(encoding="utf-8"))
    report["after_forget"] = {
        "history": manifest["history"],
        "shards": {
            "count": len(manifest["shards"]),
            "rows": manifest["totals"]["rows"],
            "bytes": manifest["totals"]["bytes"],
        },
        "consent_registry": manifest["consent_registry"],
    }
    write_json(staging / REPORT_JSON, report)
    (staging / REPORT_HTML).write_text(render_html(report), encoding="utf-8")
    write_card(staging, manifest, report)


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
    output_dir: Path, registry_path: Path, secret: str | None, *, now: datetime | None = None
) -> dict[str, Any]:
    """Remove and mask what the new registry no longer allows. Returns the forget report."""
    output_dir = output_dir.resolve()
    with output_lock(output_dir):
        return _forget_locked(output_dir, registry_path, secret, now)


def _forget_locked(
    output_dir: Path, registry_path: Path, secret: str | None, now: datetime | None
) -> dict[str, Any]:
    started = time.perf_counter()
    manifest = _load_manifest(output_dir)
    key = secret_key(secret, required=True)
    if secret_fingerprint(key) != manifest.get("secret_fingerprint"):
        raise SecretError(
            "REDACT_SECRET is not the secret this output was built with (fingerprints "
            "differ): lineage keys would not match, so forget refuses to guess"
        )
    policy = manifest["consent_policy"]
    consent = ConsentConfig(
        registry=str(registry_path),
        policy=policy["policy"],
        excluded_regions=policy["excluded_regions"],
        mask_non_consented_mentions=policy.get("mask_non_consented_mentions", True),
    )
    gate = ConsentGate.load(consent, registry_path)
    mentions = NonConsentedMentions.from_gate(gate) if consent.mask_non_consented_mentions else None
    masker = Masker(MaskingConfig.model_validate(manifest["masking"]), [NON_CONSENTED_ENTITY], key)

    lineage = pl.from_arrow(read_lineage(output_dir / LINEAGE_FILE))
    assert isinstance(lineage, pl.DataFrame)
    missing = gate.missing_user_reason or KEPT_NOT_IN_REGISTRY
    reasons = reasons_by_user_key(gate, key)
    lineage = lineage.with_columns(
        pl.col("user_key")
        .replace_strict(
            old=list(reasons), new=list(reasons.values()), default=missing, return_dtype=pl.String
        )
        .alias("reason")
    )
    forgotten = lineage.filter(~pl.col("reason").is_in(_KEPT))
    removed_by_shard: dict[str, set[int]] = {}
    for shard, row in forgotten.select("shard", "row").iter_rows():
        removed_by_shard.setdefault(shard, set()).add(row)
    lineage_rows = dict(lineage.group_by("shard").len().iter_rows())

    run_id = new_run_id()
    staging = staging_dir_for(output_dir, run_id, "forget")
    rewritten: dict[str, pa.Table] = {}
    mentions_masked = 0
    for shard in manifest["shards"]:
        table = pq.read_table(output_dir / shard["path"])
        if lineage_rows.get(shard["path"], 0) != table.num_rows:
            raise OutputError(
                f"{output_dir}: lineage does not match {shard['path']} "
                f"({lineage_rows.get(shard['path'], 0)} vs {table.num_rows} rows); refusing"
            )
        drop = removed_by_shard.get(shard["path"], set())
        if drop:  # by position: record ids need not be unique
            table = table.filter(pa.array([row not in drop for row in range(table.num_rows)]))
        table, added = mask_mentions_in_table(table, mentions, masker)
        if drop or any(added):
            index = table.column_names.index("pii_masked")
            counts = [c + a for c, a in zip(table["pii_masked"].to_pylist(), added, strict=True)]
            table = table.set_column(index, "pii_masked", pa.array(counts, pa.int32()))
            rewritten[shard["path"]] = table
            mentions_masked += sum(added)

    if not rewritten:
        return {"changed": False, "records_removed": 0, "mentions_masked": 0, "shards_rewritten": 0}

    at = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    removed_by_reason = Counter(forgotten["reason"].to_list())
    new_shards = []
    new_twins: dict[str, dict[str, Any]] = {}
    try:
        staging.mkdir()
        has_jsonl = bool(manifest.get("jsonl"))
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
            }
        )
        _link_tree(output_dir, staging, skip)
        for shard in manifest["shards"]:
            table = rewritten.get(shard["path"])
            if table is None:
                new_shards.append(shard)
            elif table.num_rows:
                path = staging / shard["path"]
                _write_shard(table, path, manifest.get("shard_writer", {}))
                if has_jsonl:
                    new_twins[jsonl_twin_path(shard["path"])] = write_jsonl_twin(
                        table, staging, shard["path"]
                    )
                new_shards.append(
                    {
                        **shard,
                        "rows": table.num_rows,
                        "bytes": path.stat().st_size,
                        "sha256": sha256_file(path),
                    }
                )
            # a shard left with no rows is dropped from the output
        surviving = {s["path"] for s in new_shards}
        kept_lineage = (
            lineage.filter(pl.col("reason").is_in(_KEPT) & pl.col("shard").is_in(surviving))
            .drop("reason")
            .sort("shard", "row")
            # renumber: rows after a removed one move up
            .with_columns(pl.int_range(pl.len()).over("shard").cast(pl.Int32).alias("row"))
        )
        write_lineage(staging / LINEAGE_FILE, kept_lineage.to_arrow().cast(LINEAGE_SCHEMA))
        entry = {
            "action": "forget",
            "id": run_id,
            "at": at,
            "registry": gate.registry_fingerprint,
            "records_removed": forgotten.height,
            "records_removed_by_reason": dict(sorted(removed_by_reason.items())),
            "users_forgotten": forgotten["user_key"].n_unique(),
            "mentions_masked": mentions_masked,
            "shards_rewritten": sum(1 for t in rewritten.values() if t.num_rows),
            "shards_removed": sum(1 for t in rewritten.values() if not t.num_rows),
        }
        manifest = {
            **manifest,
            "shards": new_shards,
            "consent_registry": gate.registry_fingerprint,
            "totals": {
                "rows": sum(s["rows"] for s in new_shards),
                "bytes": sum(s["bytes"] for s in new_shards),
            },
            "lineage": {
                "path": LINEAGE_FILE,
                "rows": kept_lineage.height,
                "sha256": sha256_file(staging / LINEAGE_FILE),
            },
            "history": [*manifest.get("history", []), entry],
            "jsonl": (
                [
                    new_twins.get(jsonl_twin_path(s["path"]))
                    or next(j for j in manifest["jsonl"] if j["path"] == jsonl_twin_path(s["path"]))
                    for s in new_shards
                ]
                if has_jsonl
                else manifest.get("jsonl")
            ),
        }
        write_json(staging / MANIFEST, manifest)
        report = {"changed": True, **entry, "seconds": round(time.perf_counter() - started, 3)}
        write_json(staging / FORGET_REPORT, report)
        _update_run_report(output_dir, staging, manifest)
        # The state store still holds the forgotten records as the units first wrote them:
        # drop it before the commit, so no later run can bring them back (it rebuilds).
        UnitStore.for_output(output_dir).clear()
        commit_output(staging, output_dir, run_id)
    except BaseException:
        discard_staging(staging)
        raise
    return report
