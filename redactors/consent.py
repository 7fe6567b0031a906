"""Consent registry and policy: which records may go to training, and why the others may not.

Fail closed: a record is kept only when the registry says yes under the configured policy.
Anything unknown or ambiguous drops the record (or refuses the whole run, for an ambiguous
registry), and only counts by reason leave this module, never user ids.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from redactors.config import ISO_COUNTRIES, ConsentConfig, RunConfig, SourceConfig
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
# Record level (tombstones, consent.deletions) and organization level (consent.org_registry):
# checked after the export's own deleted flag and before the user's registry row.
RECORD_DELETED = "record_deleted"
MISSING_ORG_ID = "missing_org_id"
ORG_DELETED = "org_deleted"
ORG_OPTED_OUT = "org_opted_out"
ORG_REGION_EXCLUDED = "org_region_excluded"
ORG_NOT_IN_REGISTRY = "org_not_in_registry"
ORG_DROP_REASONS = (
    MISSING_ORG_ID,
    ORG_DELETED,
    ORG_OPTED_OUT,
    ORG_REGION_EXCLUDED,
    ORG_NOT_IN_REGISTRY,
)
DROP_REASONS = (
    MISSING_USER_ID,
    FLAGGED_DELETED,
    DELETED,
    OPTED_OUT,
    REGION_EXCLUDED,
    REGION_UNKNOWN,
    NOT_IN_REGISTRY,
    RECORD_DELETED,
    *ORG_DROP_REASONS,
)
# Which level each reason belongs to (report and manifest consent provenance).
REASON_LEVELS = {
    MISSING_USER_ID: "user",
    DELETED: "user",
    OPTED_OUT: "user",
    REGION_EXCLUDED: "user",
    REGION_UNKNOWN: "user",
    NOT_IN_REGISTRY: "user",
    FLAGGED_DELETED: "record",
    RECORD_DELETED: "record",
    **{reason: "org" for reason in ORG_DROP_REASONS},
}
ORG_REGISTRY_COLUMNS = ("org_id", "status", "region", "updated_at")
DELETIONS_COLUMNS = ("source", "record_id", "deleted_at")
PURPOSE = "purpose"
_KEEP = ""  # sentinel reason for consented users inside the lookup table
# Kept under opt_out although not in the registry: counted, so a reviewer sees how many
# records rest on the absence of an opt-out rather than on a registry row.
KEPT_NOT_IN_REGISTRY = "kept_not_in_registry"


def _schema_of(path: Path, what: str) -> list[str]:
    if not path.exists():
        raise ConsentError(f"{what} not found: {path}")
    try:
        return list(pq.read_schema(path).names)
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise ConsentError(f"{what} {path} is not a readable Parquet file: {exc}") from None


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


def _read_registry(path: Path) -> pl.DataFrame:
    names = _schema_of(path, "consent registry")
    missing = [column for column in REGISTRY_COLUMNS if column not in names]
    if missing:
        raise ConsentError(f"consent registry {path} lacks column(s) {missing}")
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
    for column, (kind, accepts) in expected.items():
        if not accepts(registry.schema[column]):
            raise ConsentError(
                f"consent registry {path}: column {column!r} must be {kind}, "
                f"got {registry.schema[column]}"
            )
    # Ids are compared as exact strings (an integer id 42 matches "42"; " 42" does not).
    registry = registry.with_columns(
        pl.col("user_id").cast(pl.String),
        pl.col("region").cast(pl.String).str.strip_chars().str.to_uppercase(),
        pl.col("handle").cast(pl.String),
        pl.col("display_name").cast(pl.String),
        pl.col("real_name").cast(pl.String),
    )
    return _with_purpose(registry, path, names, "consent registry")


def _read_org_registry(path: Path) -> pl.DataFrame:
    what = "org registry"
    names = _schema_of(path, what)
    missing = [column for column in ORG_REGISTRY_COLUMNS if column not in names]
    if missing:
        raise ConsentError(f"{what} {path} lacks column(s) {missing}")
    registry = pl.read_parquet(path, columns=list(ORG_REGISTRY_COLUMNS))
    expected = {
        "org_id": ("string or integer", lambda t: t == pl.String or t.is_integer()),
        "status": ("string", lambda t: t == pl.String),
        "region": ("string", lambda t: t in (pl.String, pl.Null)),
        "updated_at": ("timestamp", lambda t: isinstance(t, pl.Datetime)),
    }
    for column, (kind, accepts) in expected.items():
        if not accepts(registry.schema[column]):
            raise ConsentError(
                f"{what} {path}: column {column!r} must be {kind}, got {registry.schema[column]}"
            )
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


def _validate(
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


def _read_deletions(path: Path, sources: list[str] | None) -> pl.DataFrame:
    """Tombstones (source, record_id as text), one row per deleted record; refused when a
    row is incomplete or names a source the run does not have (a typo must not keep a
    deleted record)."""
    what = "deletions file"
    names = _schema_of(path, what)
    missing = [column for column in DELETIONS_COLUMNS if column not in names]
    if missing:
        raise ConsentError(f"{what} {path} lacks column(s) {missing}")
    frame = pl.read_parquet(path, columns=list(DELETIONS_COLUMNS))
    expected = {
        "source": ("string", lambda t: t == pl.String),
        "record_id": ("string or integer", lambda t: t == pl.String or t.is_integer()),
        "deleted_at": ("timestamp", lambda t: isinstance(t, pl.Datetime)),
    }
    for column, (kind, accepts) in expected.items():
        if not accepts(frame.schema[column]):
            raise ConsentError(
                f"{what} {path}: column {column!r} must be {kind}, got {frame.schema[column]}"
            )
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


def _decisions(
    latest: pl.DataFrame, id_column: str, excluded: list[str], prefix: str = ""
) -> pl.DataFrame:
    """id -> drop reason ("" when consented) from the latest row per id."""
    reason = (
        pl.when(pl.col("status") == "deleted")
        .then(pl.lit(prefix + DELETED))
        .when(pl.col("status") == "opted_out")
        .then(pl.lit(prefix + OPTED_OUT))
        .when(pl.col("region").is_in(excluded))
        .then(pl.lit(prefix + REGION_EXCLUDED))
    )
    if excluded and not prefix:
        # An unknown user region cannot be shown to be outside the excluded ones (an org's
        # region is optional: its users' regions decide).
        reason = reason.when(pl.col("region").is_null()).then(pl.lit(REGION_UNKNOWN))
    return latest.select(id_column, reason.otherwise(pl.lit(_KEEP)).alias("reason"))


def _row_count(path: Path) -> int:
    return int(pq.ParquetFile(path).metadata.num_rows)


def _fingerprint(path: Path, frame: pl.DataFrame, ids: int, time_column: str) -> dict[str, Any]:
    as_of = frame[time_column].max() if frame.height else None
    return {
        "path": str(path),
        "sha256": sha256_file(path),
        "rows": frame.height,
        "ids": ids,
        "as_of": None if as_of is None else str(as_of),
    }


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
    # Organization level (None: not configured): org_id -> drop reason ("" when consented)
    org_lookup: pl.DataFrame | None = None
    missing_org_reason: str | None = None  # for orgs not in the org registry (None: keep)
    org_fingerprint: dict[str, Any] | None = None
    # Record level: tombstoned (source, record_id) pairs (None: no deletions file)
    deletions: pl.DataFrame | None = None
    deletions_fingerprint: dict[str, Any] | None = None
    purpose: str | None = None

    @property
    def decision_sha256(self) -> str:
        """What the gate decides with, as one hash: the user registry's sha256 alone when no
        org registry, deletions file or purpose is configured (so stored units and outputs
        made before those levels existed keep matching), else a hash of all of them."""
        if self.org_fingerprint is None and self.deletions_fingerprint is None and not self.purpose:
            return str(self.registry_fingerprint["sha256"])
        parts = {
            "user": self.registry_fingerprint["sha256"],
            "org": (self.org_fingerprint or {}).get("sha256"),
            "deletions": (self.deletions_fingerprint or {}).get("sha256"),
            "purpose": self.purpose,
        }
        canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def levels(self) -> dict[str, dict[str, Any]]:
        """Per level, what its decisions rest on (fingerprint, as-of time, purpose)."""
        fingerprint = self.registry_fingerprint
        levels: dict[str, dict[str, Any]] = {
            "user": {
                "registry": {
                    "path": fingerprint["path"],
                    "sha256": fingerprint["sha256"],
                    "rows": fingerprint["rows"],
                    "ids": fingerprint["users"],
                    "as_of": fingerprint["latest_update"],
                },
                "purpose": self.purpose,
            }
        }
        if self.org_fingerprint is not None:
            levels["org"] = {"registry": self.org_fingerprint, "purpose": self.purpose}
        levels["record"] = {"deletions": self.deletions_fingerprint}
        return levels

    @classmethod
    def load(
        cls,
        config: ConsentConfig,
        registry_path: Path,
        *,
        org_registry_path: Path | None = None,
        deletions_path: Path | None = None,
        sources: list[str] | None = None,
    ) -> ConsentGate:
        """The gate of a run. The org registry and deletions file are given resolved (see
        load_gate); ``sources``: the run's source names, which every tombstone must name."""
        everything = _read_registry(registry_path)
        registry = _validate(everything, registry_path, purpose=config.purpose)
        latest = registry.sort("updated_at").group_by("user_id").last()
        excluded = sorted(config.excluded_countries())
        # Statuses are validated to three values, so what is left here is opted_in (or, under
        # opt_out, anything not opted out): consented.
        lookup = _decisions(latest, "user_id", excluded)
        org_lookup = org_fingerprint = missing_org_reason = None
        if org_registry_path is not None:
            orgs = _validate(
                _read_org_registry(org_registry_path),
                org_registry_path,
                "org_id",
                "org registry",
                config.purpose,
            )
            org_latest = orgs.sort("updated_at").group_by("org_id").last()
            org_lookup = _decisions(org_latest, "org_id", excluded, prefix="org_")
            missing_org_reason = ORG_NOT_IN_REGISTRY if config.org_policy == "opt_in" else None
            org_fingerprint = {
                **_fingerprint(org_registry_path, orgs, org_latest.height, "updated_at"),
                "rows": _row_count(org_registry_path),
                "rows_for_purpose": orgs.height,
                "policy": config.org_policy,
            }
        deletions = deletions_fingerprint = None
        if deletions_path is not None:
            tombstones = _read_deletions(deletions_path, sources)
            deletions = (
                tombstones.select("source", "record_id").unique().sort("source", "record_id")
            )
            deletions_fingerprint = _fingerprint(
                deletions_path, tombstones, deletions.height, "deleted_at"
            )
        if config.policy == "opt_in":
            missing_reason: str | None = NOT_IN_REGISTRY
        elif excluded:
            missing_reason = REGION_UNKNOWN
        else:
            missing_reason = None
        dropped_users = lookup.filter(pl.col("reason") != _KEEP)["user_id"]
        if missing_reason is not None:  # rows only for other purposes: not consented here
            dropped_users = pl.concat(
                [
                    dropped_users,
                    everything["user_id"].filter(
                        ~everything["user_id"].is_in(lookup["user_id"].implode())
                    ),
                ]
            )
        identities = (
            everything.filter(pl.col("user_id").is_in(dropped_users.implode()))
            .select("user_id", "handle", "display_name", "real_name")
            .unique()
            .sort("user_id", "handle", "display_name", "real_name", nulls_last=True)
        )
        fingerprint = {
            "path": str(registry_path),
            "sha256": sha256_file(registry_path),
            "rows": everything.height,
            "users": latest.height,
            "latest_update": str(everything["updated_at"].max()),
        }
        if config.purpose is not None:
            fingerprint["purpose"] = config.purpose
            fingerprint["rows_for_purpose"] = registry.height
        return cls(
            lookup=lookup,
            missing_user_reason=missing_reason,
            registry_fingerprint=fingerprint,
            non_consented_identities=identities,
            people_names=tuple(
                sorted(
                    set(everything["display_name"].drop_nulls().to_list())
                    | set(everything["real_name"].drop_nulls().to_list())
                )
            ),
            org_lookup=org_lookup,
            missing_org_reason=missing_org_reason,
            org_fingerprint=org_fingerprint,
            deletions=deletions,
            deletions_fingerprint=deletions_fingerprint,
            purpose=config.purpose,
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

    def org_reasons(self, org_ids: pl.Series) -> pl.Series:
        """Org-level drop reason per record ("" or KEPT_NOT_IN_REGISTRY: the org passes)."""
        assert self.org_lookup is not None
        if not (org_ids.dtype in (pl.String, pl.Null) or org_ids.dtype.is_integer()):
            raise ConsentError(f"org ids must be strings or integers, got {org_ids.dtype}")
        as_text = org_ids.cast(pl.String)
        looked_up = as_text.replace_strict(
            old=self.org_lookup["org_id"],
            new=self.org_lookup["reason"],
            default=self.missing_org_reason or KEPT_NOT_IN_REGISTRY,
            return_dtype=pl.String,
        )
        return (
            pl.select(pl.when(as_text.is_null()).then(pl.lit(MISSING_ORG_ID)).otherwise(looked_up))
            .to_series()
            .alias("org_reason")
        )

    def deleted_records(self, source: str, record_ids: pl.Series) -> pl.Series:
        """True where a tombstone names the record (ids compared as text)."""
        if self.deletions is None:
            return pl.Series([False] * record_ids.len(), dtype=pl.Boolean)
        ids = self.deletions.filter(pl.col("source") == source)["record_id"]
        return record_ids.cast(pl.String).is_in(ids.implode()).fill_null(False)

    def split(
        self,
        batch: pl.DataFrame,
        user_column: str,
        deleted_column: str | None = None,
        *,
        org_column: str | None = None,
        source: str | None = None,
        id_column: str | None = None,
    ) -> tuple[pl.DataFrame, Counter[str], int]:
        """Consented rows (order kept), counts of the others by reason, and how many kept
        rows have no registry row (possible under opt_out only). A record gets the first
        reason that applies: missing user id, the export's deleted flag, a tombstone
        (``source`` + ``id_column``), its org (``org_column``), its user."""
        user = self.reasons(batch[user_column])
        decided = pl.when(user == MISSING_USER_ID).then(user)
        if deleted_column is not None:
            decided = decided.when(flagged_deleted(batch[deleted_column])).then(
                pl.lit(FLAGGED_DELETED)
            )
        if self.deletions is not None and source is not None and id_column is not None:
            decided = decided.when(self.deleted_records(source, batch[id_column])).then(
                pl.lit(RECORD_DELETED)
            )
        if self.org_lookup is not None:
            if org_column is None:
                raise ConsentError(
                    f"source {source!r} has no org_column but an org registry is set; "
                    "every record must be checked against its organization"
                )
            org = self.org_reasons(batch[org_column])
            decided = decided.when(~org.is_in([_KEEP, KEPT_NOT_IN_REGISTRY])).then(org)
        reasons = pl.select(decided.otherwise(user)).to_series().alias("drop_reason")
        keep = reasons.is_in([_KEEP, KEPT_NOT_IN_REGISTRY])
        dropped = Counter(
            {
                str(row["drop_reason"]): int(row["count"])
                for row in reasons.filter(~keep).value_counts().iter_rows(named=True)
            }
        )
        kept_unregistered = int((reasons == KEPT_NOT_IN_REGISTRY).sum())
        return batch.filter(keep), dropped, kept_unregistered

    def split_source(
        self, batch: pl.DataFrame, source: SourceConfig
    ) -> tuple[pl.DataFrame, Counter[str], int]:
        """split() with every level that applies to one configured source."""
        return self.split(
            batch,
            source.user_column,
            source.deleted_column,
            org_column=source.org_column,
            source=source.name,
            id_column=source.id_column,
        )


def load_gate(config: RunConfig) -> ConsentGate:
    """The gate of a run config: user registry, and the org registry and deletions file
    when configured (paths relative to the config file)."""
    consent = config.consent
    return ConsentGate.load(
        consent,
        config.resolve(consent.registry),
        org_registry_path=config.resolve(consent.org_registry) if consent.org_registry else None,
        deletions_path=config.resolve(consent.deletions) if consent.deletions else None,
        sources=[source.name for source in config.sources],
    )


def read_applied_deletions(output_dir: Path) -> pl.DataFrame | None:
    """The tombstones an output says were applied to it (None: none recorded)."""
    from redactors.lineage import APPLIED_DELETIONS_FILE

    path = output_dir / APPLIED_DELETIONS_FILE
    if not path.is_file():
        return None
    return pl.read_parquet(path, columns=["source", "record_id"])


def write_applied_deletions(directory: Path, deletions: pl.DataFrame | None) -> None:
    """Record the tombstones applied to an output (in its staging dir); none: no file."""
    from redactors.lineage import APPLIED_DELETIONS_FILE

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


def check_applied_deletions(output_dir: Path, gate: ConsentGate) -> None:
    """Refuse a run that would bring back records deleted from this output: every tombstone
    applied to it (by an earlier run or `redact forget --deletions`) must be in the run's
    consent.deletions. Counts only, never record ids."""
    applied = read_applied_deletions(output_dir)
    if applied is None or applied.is_empty():
        return
    have = gate.deletions if gate.deletions is not None else applied.clear()
    missing = applied.join(have, on=["source", "record_id"], how="anti")
    if missing.height:
        raise ConsentError(
            f"{missing.height} record deletion(s) already applied to {output_dir} are not in "
            "consent.deletions"
            + (f" ({gate.deletions_fingerprint['path']})" if gate.deletions_fingerprint else "")
            + ": this run would bring deleted records back. Keep every tombstone in the "
            "deletions file (they are listed in "
            f"{output_dir / 'lineage' / 'deletions.parquet'})"
        )


def consent_provenance(
    levels: dict[str, dict[str, Any]], dropped: Counter[str] | dict[str, int]
) -> dict[str, dict[str, Any]]:
    """Per level, what it rests on and the records it dropped, by reason (counts only)."""
    result = {name: dict(level) for name, level in levels.items()}
    for name, level in result.items():
        level["dropped_by_reason"] = {
            reason: int(dropped.get(reason, 0))
            for reason in DROP_REASONS
            if REASON_LEVELS[reason] == name
        }
    return result


def flagged_deleted(flags: pl.Series) -> pl.Series:
    """True where the export marks a record deleted. A boolean flag counts when true or null
    (unknown: fail closed); a timestamp/date column (``deleted_at``) when set."""
    if flags.dtype == pl.Boolean:
        return flags.fill_null(True)
    if flags.dtype.is_temporal():
        return flags.is_not_null()
    raise ConsentError(f"a deleted flag must be boolean or a timestamp, got {flags.dtype}")
