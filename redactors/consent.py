"""Consent registry and policy: which records may go to training, and why the others may not.

Fail closed: a record is kept only when the registry says yes under the configured policy.
Anything unknown or ambiguous drops the record (or refuses the whole run, for an ambiguous
registry), and only counts by reason leave this module, never user ids.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from redactors.config import ISO_COUNTRIES, ConsentConfig
from redactors.errors import ConsentError
from redactors.io import sha256_file

STATUSES = ("opted_in", "opted_out", "deleted")
REGISTRY_COLUMNS = ("user_id", "status", "region", "updated_at")
# Optional: how people are named in text, so mentions of non-consented users can be masked.
IDENTITY_COLUMNS = ("handle", "display_name", "real_name")

# Drop reasons, in the order they are checked: a record gets the first that applies.
MISSING_USER_ID = "missing_user_id"
FLAGGED_DELETED = "flagged_deleted"  # the export itself marks the record deleted
DELETED = "deleted"
OPTED_OUT = "opted_out"
REGION_EXCLUDED = "region_excluded"
REGION_UNKNOWN = "region_unknown"
NOT_IN_REGISTRY = "not_in_registry"
DROP_REASONS = (
    MISSING_USER_ID,
    FLAGGED_DELETED,
    DELETED,
    OPTED_OUT,
    REGION_EXCLUDED,
    REGION_UNKNOWN,
    NOT_IN_REGISTRY,
)
_KEEP = ""  # sentinel reason for consented users inside the lookup table
# Kept under opt_out although not in the registry: counted, so a reviewer sees how many
# records rest on the absence of an opt-out rather than on a registry row.
KEPT_NOT_IN_REGISTRY = "kept_not_in_registry"


def _read_registry(path: Path) -> pl.DataFrame:
    if not path.exists():
        raise ConsentError(f"consent registry not found: {path}")
    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise ConsentError(
            f"consent registry {path} is not a readable Parquet file: {exc}"
        ) from None
    missing = [column for column in REGISTRY_COLUMNS if column not in schema.names]
    if missing:
        raise ConsentError(f"consent registry {path} lacks column(s) {missing}")
    identity = [column for column in IDENTITY_COLUMNS if column in schema.names]
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
    for column, (kind, accepts) in expected.items():
        if not accepts(registry.schema[column]):
            raise ConsentError(
                f"consent registry {path}: column {column!r} must be {kind}, "
                f"got {registry.schema[column]}"
            )
    # Ids are compared as exact strings (an integer id 42 matches "42"; " 42" does not).
    return registry.with_columns(
        pl.col("user_id").cast(pl.String),
        pl.col("region").cast(pl.String).str.strip_chars().str.to_uppercase(),
        pl.col("handle").cast(pl.String),
        pl.col("display_name").cast(pl.String),
        pl.col("real_name").cast(pl.String),
    )


def _first_bad_row(registry: pl.DataFrame, condition: pl.Expr) -> int | None:
    rows = registry.with_row_index("_row").filter(condition)["_row"]
    return None if rows.is_empty() else int(rows[0])


def _validate(registry: pl.DataFrame, path: Path) -> None:
    """Refuse a registry we would have to guess about (row indexes only, never values)."""
    checks = [
        (pl.col("user_id").is_null(), "user_id is null"),
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
                f"consent registry {path}: {problem} at row {row} ({count} row(s) in all); "
                "fix the registry, the run will not guess"
            )
    conflicting = (
        registry.select(REGISTRY_COLUMNS)
        .unique()
        .group_by("user_id", "updated_at")
        .len()
        .filter(pl.col("len") > 1)
    )
    if conflicting.height:
        row = _first_bad_row(
            registry,
            pl.struct("user_id", "updated_at").is_in(
                conflicting.select(pl.struct("user_id", "updated_at")).to_series().implode()
            ),
        )
        raise ConsentError(
            f"consent registry {path}: {conflicting.height} user(s) have different rows with "
            f"the same updated_at (first at row {row}), so the current status (or region) is "
            "ambiguous; the run will not guess"
        )


@dataclass(frozen=True)
class ConsentGate:
    """Per-user decision table built once from the registry, applied to every batch."""

    lookup: pl.DataFrame  # user_id -> drop reason ("" when consented)
    missing_user_reason: str | None  # reason for users not in the registry (None: keep)
    registry_fingerprint: dict[str, Any]
    # user_id, handle, display_name, real_name (any registry row) of users whose records
    # are dropped
    non_consented_identities: pl.DataFrame
    # display and real names of every user in the registry, consented or not: chat names
    # colleagues, so their names are masked as PERSON (recognizers/directory_name.py)
    people_names: tuple[str, ...] = ()

    @classmethod
    def load(cls, config: ConsentConfig, registry_path: Path) -> ConsentGate:
        registry = _read_registry(registry_path)
        _validate(registry, registry_path)
        latest = registry.sort("updated_at").group_by("user_id").last()
        excluded = sorted(config.excluded_countries())
        reason = (
            pl.when(pl.col("status") == "deleted")
            .then(pl.lit(DELETED))
            .when(pl.col("status") == "opted_out")
            .then(pl.lit(OPTED_OUT))
            .when(pl.col("region").is_in(excluded))
            .then(pl.lit(REGION_EXCLUDED))
        )
        if excluded:
            # An unknown region cannot be shown to be outside the excluded ones.
            reason = reason.when(pl.col("region").is_null()).then(pl.lit(REGION_UNKNOWN))
        # Statuses are validated to three values, so what is left here is opted_in (or, under
        # opt_out, anything not opted out): consented.
        lookup = latest.select("user_id", reason.otherwise(pl.lit(_KEEP)).alias("reason"))
        dropped_users = lookup.filter(pl.col("reason") != _KEEP)["user_id"]
        identities = (
            registry.filter(pl.col("user_id").is_in(dropped_users.implode()))
            .select("user_id", "handle", "display_name", "real_name")
            .unique()
            .sort("user_id", "handle", "display_name", "real_name", nulls_last=True)
        )
        if config.policy == "opt_in":
            missing_reason: str | None = NOT_IN_REGISTRY
        elif excluded:
            missing_reason = REGION_UNKNOWN
        else:
            missing_reason = None
        fingerprint = {
            "path": str(registry_path),
            "sha256": sha256_file(registry_path),
            "rows": registry.height,
            "users": latest.height,
            "latest_update": str(registry["updated_at"].max()),
        }
        return cls(
            lookup=lookup,
            missing_user_reason=missing_reason,
            registry_fingerprint=fingerprint,
            non_consented_identities=identities,
            people_names=tuple(
                sorted(
                    set(registry["display_name"].drop_nulls().to_list())
                    | set(registry["real_name"].drop_nulls().to_list())
                )
            ),
        )

    def reasons(self, user_ids: pl.Series) -> pl.Series:
        """Drop reason per record, in input order; "" or KEPT_NOT_IN_REGISTRY: kept."""
        if not (user_ids.dtype in (pl.String, pl.Null) or user_ids.dtype.is_integer()):
            raise ConsentError(f"user ids must be strings or integers, got {user_ids.dtype}")
        as_text = user_ids.cast(pl.String)
        missing = self.missing_user_reason or KEPT_NOT_IN_REGISTRY
        looked_up = as_text.replace_strict(
            old=self.lookup["user_id"],
            new=self.lookup["reason"],
            default=missing,
            return_dtype=pl.String,
        )
        return (
            pl.select(pl.when(as_text.is_null()).then(pl.lit(MISSING_USER_ID)).otherwise(looked_up))
            .to_series()
            .alias("drop_reason")
        )

    @cached_property
    def _reason_by_user(self) -> dict[str, str]:
        return dict(zip(self.lookup["user_id"], self.lookup["reason"], strict=True))

    def is_consented(self, user_id: str) -> bool:
        """One id (e.g. from a mention token); same rules as reasons()."""
        reason = self._reason_by_user.get(user_id, self.missing_user_reason or "")
        return reason == _KEEP

    def split(
        self, batch: pl.DataFrame, user_column: str, deleted_column: str | None = None
    ) -> tuple[pl.DataFrame, Counter[str], int]:
        """Consented rows (order kept), counts of the others by reason, and how many kept
        rows have no registry row (possible under opt_out only)."""
        reasons = self.reasons(batch[user_column])
        if deleted_column is not None:
            flagged = flagged_deleted(batch[deleted_column])
            reasons = (
                pl.select(
                    pl.when(reasons == MISSING_USER_ID)
                    .then(reasons)
                    .when(flagged)
                    .then(pl.lit(FLAGGED_DELETED))
                    .otherwise(reasons)
                )
                .to_series()
                .alias("drop_reason")
            )
        keep = reasons.is_in([_KEEP, KEPT_NOT_IN_REGISTRY])
        dropped = Counter(
            {
                str(row["drop_reason"]): int(row["count"])
                for row in reasons.filter(~keep).value_counts().iter_rows(named=True)
            }
        )
        kept_unregistered = int((reasons == KEPT_NOT_IN_REGISTRY).sum())
        return batch.filter(keep), dropped, kept_unregistered


def flagged_deleted(flags: pl.Series) -> pl.Series:
    """True where the export marks a record deleted. A boolean flag counts when true or null
    (unknown: fail closed); a timestamp/date column (``deleted_at``) when set."""
    if flags.dtype == pl.Boolean:
        return flags.fill_null(True)
    if flags.dtype.is_temporal():
        return flags.is_not_null()
    raise ConsentError(f"a deleted flag must be boolean or a timestamp, got {flags.dtype}")
