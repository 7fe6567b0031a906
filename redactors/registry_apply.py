"""Applying a newer consent registry to shards that already exist, without re-detection.

Used by ``redact forget`` (a whole committed output) and by a run's refresh of a stored unit
(refresh.py). Both know, from the lineage index, whose record each shard row is; here:

- the gate's decision for every lineage row ("" or kept: the record stays): a tombstone
  (source, record id), then the org registry (lineage org key), then the user registry;
- one shard rewritten: rows of users no longer consented dropped by position (record ids
  need not be unique), and mentions of non-consented users masked in what stays, with the
  run's operator for NON_CONSENTED_USER; ``pii_masked`` counts updated;
- the lineage rows that stay, renumbered to the rewritten shards' positions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl
import pyarrow as pa
from presidio_analyzer import RecognizerResult

from redactors.config import NON_CONSENTED_ENTITY
from redactors.consent import (
    KEPT_NOT_IN_REGISTRY,
    MISSING_ORG_ID,
    RECORD_DELETED,
    ConsentGate,
)
from redactors.engine import Masker
from redactors.mentions import NonConsentedMentions

# Lineage reasons of records that stay: consented, or kept though not in the registry.
KEPT_REASONS = ("", KEPT_NOT_IN_REGISTRY)


def lineage_reasons(
    lineage: pa.Table,
    gate: ConsentGate,
    reasons: dict[str, str],
    *,
    org_reasons: dict[str, str] | None = None,
    sources: str | Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """Lineage rows with the gate's decision for each record (``reasons``: by lineage user
    key; a key the registry lacks gets the gate's decision for missing users). With an org
    level, ``org_reasons`` by lineage org key decides first (a row without an org key is
    dropped: fail closed); a tombstone (``sources``: the source of every shard, or of all)
    before both."""
    frame = pl.from_arrow(lineage)
    assert isinstance(frame, pl.DataFrame)
    missing = gate.missing_user_reason or KEPT_NOT_IN_REGISTRY
    user = pl.col("user_key").replace_strict(
        old=list(reasons), new=list(reasons.values()), default=missing, return_dtype=pl.String
    )
    decided = pl.when(pl.lit(False)).then(pl.lit(None, dtype=pl.String))
    if gate.deletions is not None and sources is not None:
        source = (
            pl.lit(sources)
            if isinstance(sources, str)
            else pl.col("shard").replace_strict(dict(sources), return_dtype=pl.String)
        )
        tombstones = gate.deletions.select(pl.struct("source", "record_id")).to_series()
        decided = decided.when(
            pl.struct(source.alias("source"), pl.col("record_id")).is_in(tombstones.implode())
        ).then(pl.lit(RECORD_DELETED))
    if gate.org_lookup is not None:
        org_reasons = org_reasons or {}
        org = (
            pl.when(pl.col("org_key").is_null())
            .then(pl.lit(MISSING_ORG_ID))
            .otherwise(
                pl.col("org_key").replace_strict(
                    old=list(org_reasons) or [""],
                    new=list(org_reasons.values()) or [""],
                    default=gate.missing_org_reason or KEPT_NOT_IN_REGISTRY,
                    return_dtype=pl.String,
                )
            )
        )
        decided = decided.when(~org.is_in(KEPT_REASONS)).then(org)
    return frame.with_columns(decided.otherwise(user).alias("reason"))


def mask_mentions_in_table(
    table: pa.Table, mentions: NonConsentedMentions | None, masker: Masker
) -> tuple[pa.Table, list[int]]:
    """Mask non-consented mentions in every text column; masks added per row."""
    added = [0] * table.num_rows
    if mentions is None:
        return table, added
    for index, name in enumerate(table.column_names):
        if not name.startswith("text"):
            continue
        texts = table[name].to_pylist()
        changed = False
        for row, text in enumerate(texts):
            if not text:
                continue
            spans = mentions.find(text)
            if not spans:
                continue
            findings = [RecognizerResult(NON_CONSENTED_ENTITY, s, e, 1.0) for s, e in spans]
            redacted = masker.mask(text, findings)
            texts[row] = redacted.text
            added[row] += len(redacted.spans)
            changed = True
        if changed:
            table = table.set_column(index, name, pa.array(texts, pa.string()))
    return table, added


@dataclass(frozen=True)
class ShardChange:
    """One shard under the newer registry."""

    table: pa.Table  # the rows that stay, mentions masked
    keep: list[bool]  # per row of the shard as it was
    masked_before: list[int]  # pii_masked per row of the shard as it was
    added: list[int]  # mentions masked per row that stays

    @property
    def changed(self) -> bool:
        return not all(self.keep) or any(self.added)


def apply_to_shard(
    table: pa.Table, keep: list[bool], mentions: NonConsentedMentions | None, masker: Masker
) -> ShardChange:
    """Drop the rows not kept (by position), mask mentions in the rest, update pii_masked."""
    masked_before = table["pii_masked"].to_pylist()
    if not all(keep):
        table = table.filter(pa.array(keep))
    table, added = mask_mentions_in_table(table, mentions, masker)
    if any(added):
        kept_before = [m for m, k in zip(masked_before, keep, strict=True) if k]
        counts = [m + a for m, a in zip(kept_before, added, strict=True)]
        index = table.column_names.index("pii_masked")
        table = table.set_column(index, "pii_masked", pa.array(counts, pa.int32()))
    return ShardChange(table, keep, masked_before, added)


def kept_lineage(lineage: pl.DataFrame, shards: list[str]) -> pl.DataFrame:
    """Lineage rows (with their ``reason``) of records that stay in the given shards, in
    that shard order, positions renumbered: rows after a removed one move up."""
    order = {path: position for position, path in enumerate(shards)}
    return (
        lineage.filter(pl.col("reason").is_in(KEPT_REASONS) & pl.col("shard").is_in(shards))
        .drop("reason")
        .with_columns(pl.col("shard").replace_strict(order, return_dtype=pl.Int64).alias("_at"))
        .sort("_at", "row")
        .drop("_at")
        .with_columns(pl.int_range(pl.len()).over("shard").cast(pl.Int32).alias("row"))
    )
