"""Consent files: the user registry, the org registry and the tombstones file, read and
validated (fail closed: a file the run would have to guess about is refused, naming the file,
column and row, never an id), and the tombstones recorded with an output.

The decisions taken from them are redactors.consent's.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from redactors.config import ISO_COUNTRIES
from redactors.errors import ConsentError
from redactors.io import sha256_file
from redactors.lineage import APPLIED_DELETIONS_FILE

STATUSES = ("opted_in", "opted_out", "deleted")
REGISTRY_COLUMNS = ("user_id", "status", "region", "updated_at")
# Optional: how people are named in text, so mentions of non-consented users can be masked.
IDENTITY_COLUMNS = ("handle", "display_name", "real_name")
ORG_REGISTRY_COLUMNS = ("org_id", "status", "region", "updated_at")
DELETIONS_COLUMNS = ("source", "record_id", "deleted_at")
PURPOSE = "purpose"


def _schema_of(path: Path, what: str) -> list[str]:
    if not path.exists():
        raise ConsentError(f"{what} not found: {path}")
    try:
        return list(pq.read_schema(path).names)
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise ConsentError(f"{what} {path} is not a readable Parquet file: {exc}") from None


def _require_columns(names: list[str], required: tuple[str, ...], path: Path, what: str) -> None:
    missing = [column for column in required if column not in names]
    if missing:
        raise ConsentError(f"{what} {path} lacks column(s) {missing}")


TypeCheck = tuple[str, Callable[[pl.DataType], bool]]  # what to say, which types pass


def _check_types(
    frame: pl.DataFrame, expected: dict[str, TypeCheck], path: Path, what: str
) -> None:
    for column, (kind, accepts) in expected.items():
        if not accepts(frame.schema[column]):
            raise ConsentError(
                f"{what} {path}: column {column!r} must be {kind}, got {frame.schema[column]}"
            )


def _with_purpose(registry: pl.DataFrame, path: Path, names: list[str], what: str) -> pl.DataFrame:
    """The registry with a ``purpose`` column (null: all purposes) and each row's index."""
    if PURPOSE in names:
        registry = registry.with_columns(pl.read_parquet(path, columns=[PURPOSE])[PURPOSE])
        if registry.schema[PURPOSE] not in (pl.String, pl.Null):
            raise ConsentError(
                f"{what} {path}: column 'purpose' must be string, got {registry.schema[PURPOSE]}"
            )
    else:
        registry = registry.with_columns(pl.lit(None, dtype=pl.String).alias(PURPOSE))
    return registry.with_columns(pl.col(PURPOSE).cast(pl.String)).with_row_index("_row")


def for_purpose(registry: pl.DataFrame, purpose: str | None, path: Path, what: str) -> pl.DataFrame:
    """Only the rows that count for the run's purpose: rows for it, or with a null purpose
    (all purposes). Without a run purpose, a registry whose rows name purposes is refused:
    consent given for one use is not consent for another, and the run will not guess."""
    named = registry.filter(pl.col(PURPOSE).is_not_null())
    if purpose is None and named.height:
        purposes = sorted(set(named[PURPOSE].to_list()))
        raise ConsentError(
            f"{what} {path}: column 'purpose' names purposes ({', '.join(purposes[:5])}"
            f"{', ...' if len(purposes) > 5 else ''}; first at row {int(named['_row'][0])}) "
            "but consent.purpose is not set: set it to the purpose of this run"
        )
    if purpose is None:
        return registry.filter(pl.col(PURPOSE).is_null())
    return registry.filter(pl.col(PURPOSE).is_null() | (pl.col(PURPOSE) == purpose))


def read_registry(path: Path) -> pl.DataFrame:
    names = _schema_of(path, "consent registry")
    _require_columns(names, REGISTRY_COLUMNS, path, "consent registry")
    identity = [column for column in IDENTITY_COLUMNS if column in names]
    registry = pl.read_parquet(path, columns=[*REGISTRY_COLUMNS, *identity])
    for column in IDENTITY_COLUMNS:
        if column not in identity:
            registry = registry.with_columns(pl.lit(None, dtype=pl.String).alias(column))
    expected = {
        "user_id": ("string or integer", lambda t: t == pl.String or t.is_integer()),
        "status": ("string", lambda t: t == pl.String),
        "region": ("string", lambda t: t in (pl.String, pl.Null)),
        "updated_at": ("timestamp", lambda t: isinstance(t, pl.Datetime)),
        "handle": ("string", lambda t: t in (pl.String, pl.Null)),
        "display_name": ("string", lambda t: t in (pl.String, pl.Null)),
        "real_name": ("string", lambda t: t in (pl.String, pl.Null)),
    }
    _check_types(registry, expected, path, "consent registry")
    # Ids are compared as exact strings (an integer id 42 matches "42"; " 42" does not).
    registry = registry.with_columns(
        pl.col("user_id").cast(pl.String),
        pl.col("region").cast(pl.String).str.strip_chars().str.to_uppercase(),
        pl.col("handle").cast(pl.String),
        pl.col("display_name").cast(pl.String),
        pl.col("real_name").cast(pl.String),
    )
    return _with_purpose(registry, path, names, "consent registry")


def read_org_registry(path: Path) -> pl.DataFrame:
    what = "org registry"
    names = _schema_of(path, what)
    _require_columns(names, ORG_REGISTRY_COLUMNS, path, what)
    registry = pl.read_parquet(path, columns=list(ORG_REGISTRY_COLUMNS))
    expected = {
        "org_id": ("string or integer", lambda t: t == pl.String or t.is_integer()),
        "status": ("string", lambda t: t == pl.String),
        "region": ("string", lambda t: t in (pl.String, pl.Null)),
        "updated_at": ("timestamp", lambda t: isinstance(t, pl.Datetime)),
    }
    _check_types(registry, expected, path, what)
    registry = registry.with_columns(
        pl.col("org_id").cast(pl.String),
        pl.col("region").cast(pl.String).str.strip_chars().str.to_uppercase(),
    )
    return _with_purpose(registry, path, names, what)


def _first_bad_row(registry: pl.DataFrame, condition: pl.Expr) -> int | None:
    if "_row" not in registry.columns:
        registry = registry.with_row_index("_row")
    rows = registry.filter(condition)["_row"]
    return None if rows.is_empty() else int(rows[0])


def validate_registry(
    registry: pl.DataFrame,
    path: Path,
    id_column: str = "user_id",
    what: str = "consent registry",
    purpose: str | None = None,
) -> pl.DataFrame:
    """Refuse a registry we would have to guess about (row indexes only, never values).
    Returns the rows that count for the run's purpose."""
    columns = (id_column, "status", "region", "updated_at")
    checks = [
        (pl.col(id_column).is_null(), f"{id_column} is null"),
        (pl.col("updated_at").is_null(), "updated_at is null"),
        (
            pl.col("status").is_null() | ~pl.col("status").is_in(STATUSES),
            f"status is not one of {list(STATUSES)}",
        ),
        (
            pl.col("region").is_not_null() & ~pl.col("region").is_in(sorted(ISO_COUNTRIES)),
            "region is not an ISO 3166 alpha-2 country code (e.g. 'GB', not 'UK')",
        ),
    ]
    for condition, problem in checks:
        row = _first_bad_row(registry, condition)
        if row is not None:
            count = registry.filter(condition).height
            raise ConsentError(
                f"{what} {path}: {problem} at row {row} ({count} row(s) in all); "
                "fix the registry, the run will not guess"
            )
    registry = for_purpose(registry, purpose, path, what)
    conflicting = (
        registry.select(columns)
        .unique()
        .group_by(id_column, "updated_at")
        .len()
        .filter(pl.col("len") > 1)
    )
    if conflicting.height:
        row = _first_bad_row(
            registry,
            pl.struct(id_column, "updated_at").is_in(
                conflicting.select(pl.struct(id_column, "updated_at")).to_series().implode()
            ),
        )
        kind = "user(s)" if id_column == "user_id" else "org(s)"
        raise ConsentError(
            f"{what} {path}: {conflicting.height} {kind} have different rows with "
            f"the same updated_at (first at row {row}), so the current status (or region) is "
            "ambiguous; the run will not guess"
        )
    return registry


def read_deletions(path: Path, sources: list[str] | None) -> pl.DataFrame:
    """Tombstones (source, record_id as text), one row per deleted record; refused when a
    row is incomplete or names a source the run does not have (a typo must not keep a
    deleted record)."""
    what = "deletions file"
    names = _schema_of(path, what)
    _require_columns(names, DELETIONS_COLUMNS, path, what)
    frame = pl.read_parquet(path, columns=list(DELETIONS_COLUMNS))
    expected = {
        "source": ("string", lambda t: t == pl.String),
        "record_id": ("string or integer", lambda t: t == pl.String or t.is_integer()),
        "deleted_at": ("timestamp", lambda t: isinstance(t, pl.Datetime)),
    }
    _check_types(frame, expected, path, what)
    frame = frame.with_row_index("_row")
    for column in DELETIONS_COLUMNS:
        row = _first_bad_row(frame, pl.col(column).is_null())
        if row is not None:
            raise ConsentError(
                f"{what} {path}: {column} is null at row {row}; fix the file, the run will "
                "not guess"
            )
    if sources is not None:
        row = _first_bad_row(frame, ~pl.col("source").is_in(sources))
        if row is not None:
            raise ConsentError(
                f"{what} {path}: source at row {row} is not one of this run's sources "
                f"{sorted(sources)}; fix the file, the run will not guess"
            )
    return frame.with_columns(pl.col("record_id").cast(pl.String))


def row_count(path: Path) -> int:
    return int(pq.ParquetFile(path).metadata.num_rows)


def file_fingerprint(path: Path, frame: pl.DataFrame, ids: int, time_column: str) -> dict[str, Any]:
    as_of = frame[time_column].max() if frame.height else None
    return {
        "path": str(path),
        "sha256": sha256_file(path),
        "rows": frame.height,
        "ids": ids,
        "as_of": None if as_of is None else str(as_of),
    }


def read_applied_deletions(output_dir: Path) -> pl.DataFrame | None:
    """The tombstones an output says were applied to it (None: none recorded)."""
    path = output_dir / APPLIED_DELETIONS_FILE
    if not path.is_file():
        return None
    return pl.read_parquet(path, columns=["source", "record_id"])


def write_applied_deletions(directory: Path, deletions: pl.DataFrame | None) -> None:
    """Record the tombstones applied to an output (in its staging dir); none: no file."""
    if deletions is None or deletions.is_empty():
        return
    path = directory / APPLIED_DELETIONS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    deletions.select("source", "record_id").unique().sort("source", "record_id").write_parquet(
        temp, compression="zstd"
    )
    temp.replace(path)


def merged_deletions(*parts: pl.DataFrame | None) -> pl.DataFrame | None:
    frames = [part.select("source", "record_id") for part in parts if part is not None]
    if not frames:
        return None
    return pl.concat(frames).unique().sort("source", "record_id")
