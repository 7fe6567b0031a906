"""Run state next to an output: finished work units, kept so a rerun does only what is new.

``.<output>.state/units/<key>/`` holds what one work unit wrote (shard parts, its lineage and
dedup rows) and ``entry.json`` with its stats and the sha256 of every file. The key is a hash
of everything the unit's output depends on: the input file's content and row range, the
config hash, the secret's fingerprint, the consent registry's content, the spaCy model and the
package versions. So

- a run killed at any point resumes: units finished before the kill are found again;
- a nightly run over a growing export directory processes only new or changed files;
- a changed config, secret, registry or model changes every key, so everything is rebuilt.

An entry is used only if every file still has the checksum it was stored with (not by trust);
otherwise it is deleted and the unit redone. Files are hard links between the store and a
run's staging directory (same file system, next to the output), so a unit's shards take disk
space once. Nothing here is ever modified in place: rewrites (dedup, forget) write new files.

The store holds the same redacted records as the output, never raw text: back it up and
delete it like the output. After each commit it is pruned to the units of that output.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from collections import Counter
from dataclasses import fields
from pathlib import Path
from typing import Any

from redactors.io import sha256_file
from redactors.leakscan import LeakStats
from redactors.report import SourceStats
from redactors.shards import ShardInfo, fsync_dir

# Part of every unit's key: bump it when a change in redactors/ changes what a unit writes
# (findings, masking, stats), so stored units are redone, not reused. 2: NER stages, address
# pattern precision. 3: address patterns case-sensitive; units may be slices of a row group.
# 4: leak re-scan stats count partial masks, residual names and non-Latin records.
STATE_VERSION = 4
ENTRY = "entry.json"


def state_dir(output_dir: Path) -> Path:
    return output_dir.parent / f".{output_dir.name}.state"


def unit_key(parts: dict[str, Any]) -> str:
    canonical = json.dumps(
        {"state_version": STATE_VERSION, **parts}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def stats_to_json(stats: SourceStats) -> dict[str, Any]:
    # Not dataclasses.asdict: it rebuilds a Counter from (key, count) pairs, counting pairs.
    data = {f.name: getattr(stats, f.name) for f in fields(stats)}
    leaks = stats.leaks
    return {
        **data,
        "dropped": dict(stats.dropped),
        "quarantined": dict(stats.quarantined),
        "entities": dict(stats.entities),
        "recognizers": dict(stats.recognizers),
        "nlp_stages": dict(stats.nlp_stages),
        "entities_by_column": {c: dict(v) for c, v in stats.entities_by_column.items()},
        "leaks": {f.name: getattr(leaks, f.name) for f in fields(leaks)}
        | {"hits": dict(leaks.hits)},
    }


def stats_from_json(data: dict[str, Any]) -> SourceStats:
    leaks = data["leaks"]
    return SourceStats(
        **{
            **data,
            "dropped": Counter(data["dropped"]),
            "quarantined": Counter(data["quarantined"]),
            "entities": Counter(data["entities"]),
            "recognizers": Counter(data["recognizers"]),
            "nlp_stages": Counter(data.get("nlp_stages", {})),
            "entities_by_column": {c: Counter(v) for c, v in data["entities_by_column"].items()},
            "leaks": LeakStats(**{**leaks, "hits": Counter(leaks["hits"])}),
        }
    )


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed: same bytes either way
        shutil.copy2(source, target)


def _digest(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class UnitStore:
    """Finished work units of one output location, by unit key."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.units = root / "units"

    @classmethod
    def for_output(cls, output_dir: Path) -> UnitStore:
        return cls(state_dir(output_dir))

    def entry_dir(self, key: str) -> Path:
        return self.units / key

    def load(self, key: str, staging_dir: Path) -> dict[str, Any] | None:
        """The stored unit (entry body) with its files linked into ``staging_dir``, or None
        if there is none or any of its files does not match its checksum (then removed)."""
        directory = self.entry_dir(key)
        try:
            entry = json.loads((directory / ENTRY).read_text(encoding="utf-8"))
            body = entry["body"]
            valid = entry["digest"] == _digest(body) and all(
                (directory / name).is_file() and sha256_file(directory / name) == sha256
                for name, sha256 in body["files"].items()
            )
        except (OSError, ValueError, KeyError, TypeError):
            valid = False
        if not valid:
            shutil.rmtree(directory, ignore_errors=True)
            return None
        for name in body["files"]:
            _link_or_copy(directory / name, staging_dir / name)
        result: dict[str, Any] = body
        return result

    def save(self, key: str, staging_dir: Path, files: list[str], body: dict[str, Any]) -> None:
        """Store a finished unit: link its files (paths relative to the staging dir), write
        the entry with their checksums, fsync, and rename the entry into place."""
        self.units.mkdir(parents=True, exist_ok=True)
        temp = self.units / f".tmp-{key}-{secrets.token_hex(4)}"
        temp.mkdir()
        try:
            checksums = {}
            for name in files:
                _link_or_copy(staging_dir / name, temp / name)
                checksums[name] = sha256_file(temp / name)
            body = {**body, "files": checksums}
            entry = {"digest": _digest(body), "body": body}
            with (temp / ENTRY).open("w", encoding="utf-8") as handle:
                json.dump(entry, handle, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            for directory in [temp, *(p for p in temp.rglob("*") if p.is_dir())]:
                fsync_dir(directory)
            target = self.entry_dir(key)
            if target.exists():  # a stale or broken copy of the same unit
                shutil.rmtree(target)
            os.replace(temp, target)
            fsync_dir(self.units)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise

    def prune(self, keep: set[str]) -> int:
        """Delete every entry not in ``keep`` and any half-written one; returns how many."""
        if not self.units.is_dir():
            return 0
        removed = 0
        for directory in self.units.iterdir():
            if directory.name not in keep:
                shutil.rmtree(directory, ignore_errors=True)
                removed += 1
        return removed

    def count(self) -> int:
        if not self.units.is_dir():
            return 0
        return sum(1 for p in self.units.iterdir() if not p.name.startswith("."))

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def shard_infos(data: list[dict[str, Any]]) -> list[ShardInfo]:
    return [ShardInfo(**shard) for shard in data]
