"""One batch of consented rows of one source: its text redacted into shard rows, with stats.

A unit's rows come here batch by batch, read, screened and consent-gated
(``gated_batches``); the consented rows' text columns are cleaned, redacted in one call to
the redactor, optionally re-scanned for leaks, and turned into the shard schema's Arrow
table. The user ids come back beside it, for the lineage index: they are never written to
shards.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from typing import Any, NamedTuple

import polars as pl
import pyarrow as pa

from redactors.config import LeakScanConfig, RunConfig, SourceConfig
from redactors.consent import ConsentGate
from redactors.engine import RedactedText, TextRedactor
from redactors.io import WorkUnit, read_unit, shard_schema
from redactors.leakscan import scan_record
from redactors.quarantine import Screened, screen_batch
from redactors.report import SourceStats
from redactors.textclean import clean_texts


def source_config(config: RunConfig, name: str) -> SourceConfig:
    return next(source for source in config.sources if source.name == name)


class GatedBatch(NamedTuple):
    """One batch of a unit's rows as every reader of a unit takes it (``gated_batches``)."""

    rows_in: int
    screened: Screened  # the rows that can be processed, and the quarantined ones
    consented: pl.DataFrame  # of the screened rows, those with consent
    dropped: Counter[str]  # rows dropped for consent, by reason
    kept_unregistered: int


def gated_batches(
    unit: WorkUnit, source: SourceConfig, gate: ConsentGate, batch_rows: int
) -> Iterator[GatedBatch]:
    """A unit's rows, batch by batch: read, screened (rows that cannot be processed safely
    are quarantined, or the run fails, and never passed on), then consent-gated. The unit
    redacts the consented rows; ``ahead.redact_ahead`` takes the first ones early."""
    for first_row, batch in read_unit(unit, source, batch_rows):
        screened = screen_batch(batch, source, unit.path, first_row)
        consented, dropped, kept_unregistered = gate.split_source(screened.rows, source)
        yield GatedBatch(batch.height, screened, consented, dropped, kept_unregistered)


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


def redaction_texts(batch: pl.DataFrame, source: SourceConfig) -> list[str]:
    """The texts ``redact_batch`` gives the redactor for a batch of consented rows, in order."""
    return _to_redact(_text_fields(batch, source))


def _to_redact(fields: list[list[str | None]]) -> list[str]:
    """Every non-empty text of every text field, field by field: one redactor call's texts."""
    return [text for field in fields for text in field if text]


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
    org_ids: list[str | None] | None = None,
) -> tuple[pa.Table, list[str]]:
    """Consented rows in, shard rows out (empty-text rows are counted and left out), with
    the user id of each row written (for the lineage index; never written to shards).
    ``org_ids``, if given, is extended with the org id of each row written (sources with
    an org_column)."""
    fields = _text_fields(batch, source)
    has_text = [any(field[i] for field in fields) for i in range(batch.height)]
    stats.skipped_empty += has_text.count(False)
    keep = pl.Series(has_text, dtype=pl.Boolean)
    rows = batch.filter(keep)
    fields = [
        [value for value, kept in zip(field, has_text, strict=True) if kept] for field in fields
    ]

    flat = _to_redact(fields)
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
    if org_ids is not None and source.org_column is not None:
        org_ids += rows[source.org_column].cast(pl.String).to_list()
    return pa.Table.from_pydict(arrays, schema=schema), user_ids
