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

from redactors.config import ConsentConfig, RunConfig, SourceConfig
from redactors.consent_files import (
    file_fingerprint,
    read_applied_deletions,
    read_deletions,
    read_org_registry,
    read_registry,
    row_count,
    validate_registry,
)
from redactors.errors import ConsentError
from redactors.io import sha256_file
from redactors.lineage import org_key, user_key

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
_KEEP = ""  # sentinel reason for consented users inside the lookup table
# Kept under opt_out although not in the registry: counted, so a reviewer sees how many
# records rest on the absence of an opt-out rather than on a registry row.
KEPT_NOT_IN_REGISTRY = "kept_not_in_registry"


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
        everything = read_registry(registry_path)
        registry = validate_registry(everything, registry_path, purpose=config.purpose)
        latest = registry.sort("updated_at").group_by("user_id").last()
        excluded = sorted(config.excluded_countries())
        # Statuses are validated to three values, so what is left here is opted_in (or, under
        # opt_out, anything not opted out): consented.
        lookup = _decisions(latest, "user_id", excluded)
        org_lookup = org_fingerprint = missing_org_reason = None
        if org_registry_path is not None:
            orgs = validate_registry(
                read_org_registry(org_registry_path),
                org_registry_path,
                "org_id",
                "org registry",
                config.purpose,
            )
            org_latest = orgs.sort("updated_at").group_by("org_id").last()
            org_lookup = _decisions(org_latest, "org_id", excluded, prefix="org_")
            missing_org_reason = ORG_NOT_IN_REGISTRY if config.org_policy == "opt_in" else None
            org_fingerprint = {
                **file_fingerprint(org_registry_path, orgs, org_latest.height, "updated_at"),
                "rows": row_count(org_registry_path),
                "rows_for_purpose": orgs.height,
                "policy": config.org_policy,
            }
        deletions = deletions_fingerprint = None
        if deletions_path is not None:
            tombstones = read_deletions(deletions_path, sources)
            deletions = (
                tombstones.select("source", "record_id").unique().sort("source", "record_id")
            )
            deletions_fingerprint = file_fingerprint(
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


def reasons_by_user_key(gate: ConsentGate, key: bytes) -> dict[str, str]:
    """Decision of the registry for every user in it, by lineage user key ("" = keep)."""
    return {
        user_key(key, user_id): reason
        for user_id, reason in zip(gate.lookup["user_id"], gate.lookup["reason"], strict=True)
    }


def reasons_by_org_key(gate: ConsentGate, key: bytes) -> dict[str, str]:
    """Decision of the org registry for every org in it, by lineage org key ("" = keep)."""
    if gate.org_lookup is None:
        return {}
    return {
        org_key(key, org_id): reason
        for org_id, reason in zip(gate.org_lookup["org_id"], gate.org_lookup["reason"], strict=True)
    }
