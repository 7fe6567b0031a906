"""Copies of an output that ML teams load: cleaned where we can reach them, found and
checked where we cannot.

- ``refresh_copies`` (forget, inside its atomic swap): removes the loaders' cache from the
  new version and lists the copies to refresh: ``datasets`` cache entries made from this
  output on this machine (found by the card description ``datasets`` copies into them), and
  a plain instruction for every other kind of copy.
- ``verify_copy`` (``redact verify COPY --against OUT``): is a copy (a folder of shards, or a
  ``datasets`` cache directory) current, and how many of its records does the output no
  longer hold, matched by record id. Counts and record ids only, never text.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from redactors.epoch import (
    LOADER_CACHE,
    OUTPUT_ID_KEY,
    SHARD_KEY,
    parse_card_description,
    read_stamp,
)
from redactors.errors import OutputError
from redactors.lineage import LINEAGE_DIR
from redactors.manifest import Manifest
from redactors.output import MANIFEST
from redactors.quarantine import QUARANTINE_FILE

DATASET_INFO = "dataset_info.json"


def datasets_cache_root() -> Path:
    """Where ``datasets`` caches by default (its own rules: HF_DATASETS_CACHE, HF_HOME,
    XDG_CACHE_HOME)."""
    if os.environ.get("HF_DATASETS_CACHE"):
        return Path(os.environ["HF_DATASETS_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "~/.cache")
    home = os.environ.get("HF_HOME") or os.path.join(xdg, "huggingface")
    return Path(home).expanduser() / "datasets"


def _entry_version(entry: Path) -> dict[str, str] | None:
    """Output id, epoch and location a ``datasets`` cache entry was made from (None if the
    entry was not made from a card of ours)."""
    try:
        info = json.loads((entry / DATASET_INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return parse_card_description(info.get("description", "")) if isinstance(info, dict) else None


def datasets_cache_entries(output_dir: Path, manifest: Manifest) -> list[tuple[Path, int]]:
    """``datasets`` cache entries (``<cache>/<name>/<config>/<version>/<hash>/``) made from
    a version of this output, with the epoch of that version."""
    root = datasets_cache_root()
    if not root.is_dir():
        return []
    found = []
    for info in sorted(root.glob(f"*/*/*/*/{DATASET_INFO}")):
        version = _entry_version(info.parent)
        if version is None or version["location"] != str(output_dir):
            continue
        epoch = manifest.epochs.get(version["output_id"])
        if epoch is not None:
            found.append((info.parent, epoch))
    return found


def refresh_copies(output_dir: Path, staging: Path, manifest: Manifest) -> list[str]:
    """In a forget's staging dir (the next version): remove the loaders' cache (linked over
    from the current version). Returns the downstream copies to refresh, found ones first;
    ``manifest`` is the version being replaced."""
    shutil.rmtree(staging / LOADER_CACHE, ignore_errors=True)
    found = [
        f"{entry} (datasets cache of consent epoch {epoch}): delete it, then load "
        f"{output_dir} again"
        for entry, epoch in datasets_cache_entries(output_dir, manifest)
    ]
    instruction = (
        f"every other copy of {output_dir} made before this forget (DuckDB or other tables, "
        "copied folders, caches on other machines, tokenized or packed datasets): load it "
        f"again from {output_dir}; check one with `redact verify COPY --against {output_dir}`"
    )
    return [*found, instruction]


# ---- verify --------------------------------------------------------------------------


@dataclass
class CopyCheck:
    copy: str
    against: str
    kind: str  # "shards" | "datasets cache"
    records: int
    output_epoch: int | None
    copy_epochs: list[int | None]  # per part (shard file or cache entry); None: unknown
    parts: int
    stale_parts: int
    removed: list[tuple[str | None, str]] = field(default_factory=list)  # (source, record_id)
    changed: int = 0
    missing: int = 0  # records of the output the copy does not hold (a partial copy?)

    @property
    def current(self) -> bool:
        return not self.removed and not self.changed and not self.stale_parts

    def lines(self) -> list[str]:
        epochs = sorted({e for e in self.copy_epochs if e is not None})
        known = ", ".join(str(e) for e in epochs) or "unknown"
        state = "current" if self.current else "NOT current"
        lines = [
            f"{self.copy} ({self.kind}, {self.parts} file(s), {self.records} records): "
            f"{state}; consent epoch of the copy: {known}, of {self.against}: "
            f"{self.output_epoch if self.output_epoch is not None else 'unknown'}",
            f"  records the output no longer holds: {len(self.removed)} (by record id)",
            f"  records changed since (masked): {self.changed}",
        ]
        if self.stale_parts:
            lines.append(f"  files from an older version: {self.stale_parts} of {self.parts}")
        if self.missing:
            lines.append(f"  records of the output not in the copy: {self.missing}")
        if not self.current:
            lines.append(f"  load it again from {self.against}")
        return lines


def _read_arrow(path: Path) -> pa.Table:
    """A ``datasets`` cache file (Arrow IPC stream; older versions: IPC file)."""
    with pa.memory_map(str(path)) as source:
        try:
            return pa.ipc.open_stream(source).read_all()
        except pa.ArrowInvalid:
            source.seek(0)
            return pa.ipc.open_file(source).read_all()


def _comparable(table: pa.Table, path: Path) -> pl.DataFrame:
    names = table.column_names
    if "record_id" not in names:
        raise OutputError(f"{path}: no record_id column; not a copy of an output's shards")
    keep = [n for n in names if n in ("source", "record_id") or n.startswith("text")]
    frame = pl.from_arrow(table.select(keep))
    assert isinstance(frame, pl.DataFrame)
    return frame


def _copy_parts(copy: Path) -> tuple[str, list[Path]]:
    if copy.is_file():
        return ("datasets cache" if copy.suffix == ".arrow" else "shards"), [copy]
    if not copy.is_dir():
        raise OutputError(f"{copy}: no such file or directory")
    arrows = sorted(copy.rglob("*.arrow"))
    if arrows:
        return "datasets cache", arrows
    if (copy / MANIFEST).is_file():
        manifest = Manifest.read(copy / MANIFEST)
        return "shards", [copy / shard.path for shard in manifest.shards]
    files = [
        p
        for p in sorted(copy.rglob("*.parquet"))
        if LINEAGE_DIR not in p.relative_to(copy).parts[:-1] and p.name != QUARANTINE_FILE
    ]
    if not files:
        raise OutputError(f"{copy}: neither Parquet shards nor a datasets cache in it")
    return "shards", files


def _entry_of(arrow: Path) -> Path | None:
    for parent in arrow.parents:
        if (parent / DATASET_INFO).is_file():
            return parent
    return None


def verify_copy(copy: Path, against: Path) -> CopyCheck:
    """Compare a copy with the output's current shards, by (source, record_id)."""
    if not (against / MANIFEST).is_file():
        raise OutputError(f"{against}: not an output (no {MANIFEST})")
    manifest = Manifest.read(against / MANIFEST)
    kind, parts = _copy_parts(copy)
    current_stamps = {(s.path, s.output_id) for s in manifest.shards}
    epochs: list[int | None] = []
    stale = 0
    tables = []
    for part in parts:
        if kind == "shards":
            table = pq.read_table(part)
            stamp = read_stamp(part)
            output_id = stamp.get(OUTPUT_ID_KEY)
            if output_id is not None and (stamp.get(SHARD_KEY), output_id) not in current_stamps:
                stale += 1
        else:
            table = _read_arrow(part)
            entry = _entry_of(part)
            version = _entry_version(entry) if entry else None
            output_id = version["output_id"] if version else None
            if output_id is not None and output_id != manifest.output_id:
                stale += 1
        epochs.append(manifest.epochs.get(output_id) if output_id else None)
        tables.append(_comparable(table, part))
    copied = pl.concat(tables, how="diagonal_relaxed") if tables else pl.DataFrame()
    output = (
        pl.concat(
            [
                _comparable(pq.read_table(against / s.path), against / s.path)
                for s in manifest.shards
            ],
            how="diagonal_relaxed",
        )
        if manifest.shards
        else copied.clear()
    )
    keys = [c for c in ("source", "record_id") if c in copied.columns and c in output.columns]
    values = sorted(set(copied.columns) & set(output.columns) - set(keys))

    def hashed(frame: pl.DataFrame) -> pl.DataFrame:
        content = pl.struct(values).hash() if values else pl.lit(0, pl.UInt64)
        return frame.select(*keys, content.alias("__content")).unique()

    copy_rows, output_rows = hashed(copied), hashed(output)
    gone = copy_rows.join(output_rows.select(keys).unique(), on=keys, how="anti")
    changed = (
        copy_rows.join(gone.select(keys), on=keys, how="anti")
        .join(output_rows, on=[*keys, "__content"], how="anti")
        .select(keys)
        .unique()
        .height
    )
    removed = sorted(
        (row.get("source"), str(row["record_id"]))
        for row in gone.select(keys).unique().iter_rows(named=True)
    )
    missing = output_rows.select(keys).unique().join(copy_rows.select(keys), on=keys, how="anti")
    return CopyCheck(
        copy=str(copy),
        against=str(against),
        kind=kind,
        records=copied.height,
        output_epoch=manifest.consent_epoch,
        copy_epochs=epochs,
        parts=len(parts),
        stale_parts=stale,
        removed=removed,
        changed=changed,
        missing=missing.height,
    )
