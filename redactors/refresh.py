"""Apply a newer consent registry to a work unit built under an older one (the forget path,
per unit), instead of redoing its detection.

Consent registries change every day; redoing every unit for that would make nightly runs
full rebuilds. A stored unit keeps its lineage rows (shard, row, user key), so the new
registry's decisions can be applied to what it wrote: records of users who are no longer
consented are removed, and mentions of them in other people's text are masked, with the
same matcher and operator as a run and ``redact forget``. Its lineage and dedup rows are
updated to match, and it is stored again under the new registry, so the store keeps no
record the new registry withdrew.

Tombstones (consent.deletions) and org decisions are applied the same way, by the lineage
rows' record ids and org keys: a record deleted since the unit was stored never comes back.

Not done here: a person who newly consented has records that the unit dropped when it was
built; they come in when the unit is next redone (``redact run --rebuild``). Fail closed.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from redactors.config import NON_CONSENTED_ENTITY, OutputConfig, SourceConfig
from redactors.consent import ConsentGate
from redactors.engine import Masker
from redactors.io import sha256_file
from redactors.lineage import LINEAGE_DIR, LINEAGE_SCHEMA, read_lineage, write_lineage
from redactors.mentions import NonConsentedMentions
from redactors.registry_apply import KEPT_REASONS, apply_to_shard, kept_lineage, lineage_reasons
from redactors.report import SourceStats
from redactors.shards import ShardInfo, write_parquet_atomic
from redactors.unitwriter import DEDUP_DIR, DEDUP_SCHEMA, text_hash


@dataclasses.dataclass
class Refreshed:
    shards: list[ShardInfo]
    stats: SourceStats
    records_removed: int
    mentions_masked: int


def refresh_unit(
    staging_dir: Path,
    unit_id: str,
    source: SourceConfig,
    output: OutputConfig,
    shards: list[ShardInfo],
    stats: SourceStats,
    gate: ConsentGate,
    reasons: dict[str, str],
    mentions: NonConsentedMentions | None,
    masker: Masker,
    *,
    org_reasons: dict[str, str] | None = None,
) -> Refreshed | None:
    """Rewrite the unit's files in ``staging_dir`` under the new registry. None if the unit
    has no lineage (built without lineage or secret): then it must be redone."""
    lineage_path = staging_dir / LINEAGE_DIR / "units" / f"{unit_id}.parquet"
    if not lineage_path.is_file():
        return None if shards else Refreshed(shards, stats, 0, 0)
    lineage = lineage_reasons(
        read_lineage(lineage_path), gate, reasons, org_reasons=org_reasons, sources=source.name
    )
    codec, level = output.parquet_compression()
    text_columns = source.output_text_columns()
    new_shards: list[ShardInfo] = []
    dedup_parts: list[pa.Table] = []
    removed_by_reason: Counter[str] = Counter()
    removed, mentions_masked, pii_removed, pii_rows_delta = 0, 0, 0, 0
    for shard in shards:
        rows = lineage.filter(pl.col("shard") == shard.path).sort("row")
        path = staging_dir / shard.path
        table = pq.read_table(path)
        if rows.height != table.num_rows:
            raise ValueError(f"lineage of unit {unit_id} does not match {shard.path}")
        change = apply_to_shard(
            table, rows["reason"].is_in(KEPT_REASONS).to_list(), mentions, masker
        )
        table, keep, added = change.table, change.keep, change.added
        removed_by_reason.update(r for r, k in zip(rows["reason"], keep, strict=True) if not k)
        removed += keep.count(False)
        mentions_masked += sum(added)
        pii_removed += sum(m for m, k in zip(change.masked_before, keep, strict=True) if not k)
        pii_rows_delta -= sum(
            1 for m, k in zip(change.masked_before, keep, strict=True) if m and not k
        )
        kept_before = [m for m, k in zip(change.masked_before, keep, strict=True) if k]
        pii_rows_delta += sum(1 for m, a in zip(kept_before, added, strict=True) if a and not m)
        if table.num_rows == 0:
            path.unlink()
            continue
        if change.changed:
            path.unlink()  # may be a hard link into the state store: never write through it
            write_parquet_atomic(table, path, codec, level)
            shard = dataclasses.replace(
                shard, rows=table.num_rows, bytes=path.stat().st_size, sha256=sha256_file(path)
            )
        new_shards.append(shard)
        if output.dedup == "exact":
            texts = [table[name].to_pylist() for name in text_columns]
            dedup_parts.append(
                pa.table(
                    {
                        "shard": [shard.path] * table.num_rows,
                        "row": list(range(table.num_rows)),
                        "hash": [
                            text_hash([column[i] for column in texts])
                            for i in range(table.num_rows)
                        ],
                    },
                    schema=DEDUP_SCHEMA,
                )
            )
    lineage_path.unlink()
    kept = kept_lineage(lineage, [shard.path for shard in new_shards])
    if kept.height:
        write_lineage(lineage_path, kept.to_arrow().cast(LINEAGE_SCHEMA))
    dedup_path = staging_dir / DEDUP_DIR / f"{unit_id}.parquet"
    if dedup_path.exists():
        dedup_path.unlink()
    if dedup_parts:
        dedup_path.parent.mkdir(parents=True, exist_ok=True)
        write_parquet_atomic(pa.concat_tables(dedup_parts), dedup_path, None, None)
    stats = dataclasses.replace(stats)
    stats.dropped = stats.dropped + removed_by_reason
    stats.records_out -= removed
    stats.spans_masked += mentions_masked - pii_removed
    stats.records_with_pii += pii_rows_delta
    if mentions_masked:
        stats.entities = stats.entities + Counter({NON_CONSENTED_ENTITY: mentions_masked})
    return Refreshed(new_shards, stats, removed, mentions_masked)
