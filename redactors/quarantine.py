"""Rows that cannot be processed safely, in an otherwise good input file.

Each batch is screened before the consent gate. A row with a null record id, user id or
time, a time no reader can represent, or bytes that are not UTF-8 in a string column never
reaches consent, detection or a shard. Under the source's ``on_bad_record``:

- ``quarantine`` (default): the row is counted by reason (report) and listed by position in
  ``quarantine.parquet``: source, file, row index, record id (when it has a readable one)
  and reason. Never its text, never its user id.
- ``fail``: the run stops with an error naming the file, column and row (never a value).

A row is counted once, under the first reason that applies (in ``REASONS`` order).
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from redactors.config import SourceConfig
from redactors.errors import InputError
from redactors.io import sha256_file

QUARANTINE_DIR = "quarantine"
QUARANTINE_FILE = "quarantine.parquet"
QUARANTINE_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("file", pa.string()),
        ("row", pa.int64()),  # index of the row in its file
        ("record_id", pa.string()),
        ("reason", pa.string()),
    ]
)

INVALID_UTF8 = "invalid_utf8"
NULL_RECORD_ID = "null_record_id"
NULL_USER_ID = "null_user_id"
NULL_TIMESTAMP = "null_timestamp"
INVALID_TIMESTAMP = "invalid_timestamp"
REASONS = (INVALID_UTF8, NULL_RECORD_ID, NULL_USER_ID, NULL_TIMESTAMP, INVALID_TIMESTAMP)
_PROBLEM = {
    INVALID_UTF8: "is not valid UTF-8",
    NULL_RECORD_ID: "is null",
    NULL_USER_ID: "is null",
    NULL_TIMESTAMP: "is null",
    INVALID_TIMESTAMP: "is outside the years 1-9999 (not a date-time any reader can hold)",
}

# Row index in the file, carried with the good rows so later errors can name the row.
ROW_INDEX = "__redact_row_index__"

# created_at must be a date-time every reader can hold (Python datetime, JSON lines):
# 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999Z, in microseconds since the epoch.
MIN_MICROS = -62_135_596_800_000_000
MAX_MICROS = 253_402_300_799_999_999
_MICROS_PER_UNIT = {"ms": 1_000, "us": 1, "day": 86_400_000_000}


class Screened(NamedTuple):
    rows: pl.DataFrame  # the good rows, in order, with ROW_INDEX added
    reasons: Counter[str]  # quarantined rows by reason
    quarantined: pa.Table  # QUARANTINE_SCHEMA rows (empty when nothing was quarantined)


def invalid_utf8(series: pl.Series) -> pl.Series | None:
    """Rows of a string column holding bytes that are not UTF-8 (Parquet readers do not
    check; polars panics on them later); None when every value is valid."""
    if series.dtype != pl.String:
        return None
    try:
        series.to_arrow().validate(full=True)
        return None
    except pa.ArrowInvalid:
        pass
    return pl.Series([_not_utf8(value) for value in series.cast(pl.Binary).to_list()])


def _not_utf8(value: bytes | None) -> bool:
    if value is None:
        return False
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def invalid_time(series: pl.Series) -> pl.Series:
    """Set times outside 0001..9999 (UTC). Checked on the stored integers: converting such
    a value (to microseconds, or to text for an error) overflows or panics in polars."""
    dtype = series.dtype
    if dtype == pl.Date:
        unit = "day"
    elif isinstance(dtype, pl.Datetime):
        unit = dtype.time_unit or "us"
    else:
        raise InputError(f"column {series.name!r} is {dtype}, not a timestamp or date")
    if unit == "ns":  # an int64 of nanoseconds cannot leave 1677..2262
        return pl.Series([False] * series.len(), dtype=pl.Boolean)
    per = _MICROS_PER_UNIT[unit]
    low, high = -(-MIN_MICROS // per), MAX_MICROS // per
    stored = series.to_physical().cast(pl.Int64)
    return ((stored < low) | (stored > high)).fill_null(False)


def _checks(batch: pl.DataFrame, source: SourceConfig) -> list[tuple[str, str, pl.Series]]:
    """(reason, column, rows it applies to), in the order reasons are given."""
    checks = []
    for column in source.needed_columns():
        bad = invalid_utf8(batch[column])
        if bad is not None:
            checks.append((INVALID_UTF8, column, bad))
    time = batch[source.time_column]
    checks += [
        (NULL_RECORD_ID, source.id_column, batch[source.id_column].is_null()),
        (NULL_USER_ID, source.user_column, batch[source.user_column].is_null()),
        (NULL_TIMESTAMP, source.time_column, time.is_null()),
        (INVALID_TIMESTAMP, source.time_column, invalid_time(time)),
    ]
    return checks


def screen_batch(batch: pl.DataFrame, source: SourceConfig, path: str, first_row: int) -> Screened:
    """Split a batch (rows ``first_row``.. of ``path``) into the rows that can be processed
    and the quarantined ones; raise InputError instead under ``on_bad_record: fail``."""
    rows = batch.with_row_index(ROW_INDEX, offset=first_row)
    checks = _checks(batch, source)
    if not any(mask.any() for _, _, mask in checks):
        return Screened(rows, Counter(), QUARANTINE_SCHEMA.empty_table())
    masks = pl.DataFrame({f"m{i}": mask for i, (_, _, mask) in enumerate(checks)})
    reason = masks.select(
        pl.coalesce(
            [pl.when(pl.col(f"m{i}")).then(pl.lit(r)) for i, (r, _, _) in enumerate(checks)]
        ).alias("reason")
    )["reason"]
    bad = reason.is_not_null()
    if source.on_bad_record == "fail":
        index = int(bad.arg_true()[0])
        problem, column = next((r, c) for r, c, mask in checks if mask[index])
        raise InputError(
            f"{path}: column {column!r} {_PROBLEM[problem]} at row {first_row + index} "
            f"({int(bad.sum())} bad row(s) in rows {first_row}..{first_row + batch.height - 1}; "
            f"source {source.name!r} has on_bad_record: fail)"
        )
    record_ids = batch[source.id_column].cast(pl.String)
    id_check = (INVALID_UTF8, source.id_column)
    unreadable = next((mask for r, c, mask in checks if (r, c) == id_check), None)
    if unreadable is not None:  # an id that is not UTF-8 is not written anywhere
        nulls = pl.Series([None] * batch.height, dtype=pl.String)
        record_ids = record_ids.zip_with(~unreadable, nulls)
    count = int(bad.sum())
    quarantined = pl.DataFrame(
        {
            "source": pl.Series([source.name] * count, dtype=pl.String),
            "file": pl.Series([path] * count, dtype=pl.String),
            "row": bad.arg_true().cast(pl.Int64) + first_row,
            "record_id": record_ids.filter(bad),
            "reason": reason.filter(bad),
        }
    )
    return Screened(
        rows.filter(~bad),
        Counter(dict(reason.filter(bad).value_counts().iter_rows())),
        quarantined.to_arrow().cast(QUARANTINE_SCHEMA),
    )


def unit_quarantine_path(staging_dir: Path, unit_id: str) -> Path:
    return staging_dir / QUARANTINE_DIR / "units" / f"{unit_id}.parquet"


def write_unit_quarantine(staging_dir: Path, unit_id: str, tables: list[pa.Table]) -> None:
    """A unit's quarantined rows (if any) at quarantine/units/<unit_id>.parquet."""
    tables = [table for table in tables if table.num_rows]
    if not tables:
        return
    path = unit_quarantine_path(staging_dir, unit_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.concat_tables(tables), path)


def merge_quarantine(staging_dir: Path, unit_ids: list[str]) -> dict[str, Any] | None:
    """The units' quarantine files (in the given unit order) as one quarantine.parquet in the
    staging dir; None (and no file) when no row was quarantined."""
    paths = [unit_quarantine_path(staging_dir, unit_id) for unit_id in unit_ids]
    tables = [pq.read_table(path) for path in paths if path.exists()]
    shutil.rmtree(staging_dir / QUARANTINE_DIR, ignore_errors=True)
    if not tables:
        return None
    table = pa.concat_tables(tables).cast(QUARANTINE_SCHEMA)
    path = staging_dir / QUARANTINE_FILE
    pq.write_table(table, path, compression="zstd")
    return {"path": QUARANTINE_FILE, "rows": table.num_rows, "sha256": sha256_file(path)}
