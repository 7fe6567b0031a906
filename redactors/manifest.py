"""The manifest (``manifest.json``): what an output holds and how it was made, typed.

Built by finalize (a run) and rewritten by forget; read by field by the card, forget and
the loaders' users. On disk it is the same JSON as ever: models keep keys they do not know
(``extra="allow"``) and write back only the keys they were given (``exclude_unset``), so a
manifest an older version wrote loads, and is written back, unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Record(BaseModel):
    """A JSON object of an output file: known keys typed, unknown ones kept."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    def to_json(self) -> dict[str, Any]:
        """The object as it is written to disk (only the keys it was built or loaded with)."""
        return self.model_dump(mode="json", exclude_unset=True)


class ShardEntry(Record):
    path: str  # relative to the output directory
    source: str
    rows: int
    bytes: int
    sha256: str
    split: str | None = None
    output_id: str | None = None  # the output version that wrote it (also in its metadata)


class FileEntry(Record):
    """A file beside the shards (lineage index, quarantine, a JSONL twin)."""

    path: str
    rows: int
    sha256: str
    bytes: int | None = None  # JSONL twins


class ConsentPolicy(Record):
    policy: str
    excluded_regions: list[str]
    mask_non_consented_mentions: bool = True  # older manifests do not say
    org_policy: str | None = None  # set when an org registry was used
    purpose: str | None = None  # the run's consent purpose, when set


class ShardWriterSettings(Record):
    compression: str | None = None
    compression_level: int | None = None


class ShardTotals(Record):
    rows: int
    bytes: int


class ForgetEntry(Record):
    """One `redact forget` applied to the output (manifest history)."""

    action: str
    id: str
    at: str
    registry: dict[str, Any]
    records_removed: int
    records_removed_by_reason: dict[str, int]
    users_forgotten: int
    mentions_masked: int
    shards_rewritten: int
    shards_removed: int
    # What else forget applied (None: not given): the org registry and tombstones file.
    org_registry: dict[str, Any] | None = None
    deletions: dict[str, Any] | None = None


class Manifest(Record):
    manifest_version: int
    run_id: str
    created_at: str
    config_hash: str
    secret_fingerprint: str | None
    versions: dict[str, str]
    model: dict[str, Any]
    inputs: list[dict[str, Any]]
    consent_registry: dict[str, Any]
    consent_policy: ConsentPolicy
    shards: list[ShardEntry]
    schemas: dict[str, list[dict[str, Any]]]
    totals: ShardTotals
    lineage: FileEntry | None = None
    quarantine: FileEntry | None = None  # positions of rows that could not be processed
    jsonl: list[FileEntry] | None = None
    # How shards were written and masked, so `forget` rewrites them the same way.
    shard_writer: ShardWriterSettings = ShardWriterSettings()
    masking: dict[str, Any] = Field(default_factory=dict)
    history: list[ForgetEntry] = Field(default_factory=list)
    # Per consent level (user, org, record): registry fingerprint, as-of time, purpose and
    # records dropped by reason (consent.consent_provenance); forget updates it.
    consent_provenance: dict[str, Any] | None = None
    # Which version this is (redactors.epoch): content id, consent epoch (advances with
    # every run or forget that changes the shards), every id this location had -> its
    # epoch, and the location itself (so a copied folder knows what it is a copy of).
    output_id: str | None = None
    consent_epoch: int | None = None
    epochs: dict[str, int] = Field(default_factory=dict)
    location: str | None = None
    # Set when gates failed and the run was published anyway (`--accept-risk`): who, why,
    # when, which gates.
    risk_acceptance: dict[str, Any] | None = None

    @classmethod
    def read(cls, path: Path) -> Manifest:
        return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))

    def splits(self) -> list[str]:
        """The splits the shards are in (none when no split was configured)."""
        return sorted({shard.split for shard in self.shards} - {None})  # type: ignore[type-var]
