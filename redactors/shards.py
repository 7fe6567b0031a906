"""Parquet and JSONL out: sized shards written under a temp name and renamed when complete,
atomic single-file writes, fsync of directories, and the shards' gzipped JSON-lines twins.
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from redactors.config import OutputConfig
from redactors.io import sha256_file, shard_name


@dataclass(frozen=True)
class ShardInfo:
    path: str  # relative to the output directory
    source: str
    rows: int
    bytes: int
    sha256: str
    split: str | None = None


class ShardWriter:
    """Writes Parquet shards of at most max rows / about max bytes, each under a temp name
    that is renamed only once the file is complete and fsynced."""

    def __init__(
        self,
        shards_dir: Path,
        source: str,
        prefix: str,
        schema: pa.Schema,
        output: OutputConfig,
        output_root: Path,
        split: str | None = None,
    ) -> None:
        self.shards_dir = shards_dir
        self.source = source
        self.split = split
        self.prefix = prefix
        self.schema = schema
        self.output = output
        self.output_root = output_root
        self.written: list[ShardInfo] = []
        self._writer: pq.ParquetWriter | None = None
        self._temp_path: Path | None = None
        self._rows = 0

    def _open(self) -> pq.ParquetWriter:
        if self._writer is None:
            # Not parents=True: if the run's staging dir is gone, the run was abandoned.
            self.shards_dir.mkdir(exist_ok=True)
            name = shard_name(self.prefix, len(self.written))
            self._temp_path = self.shards_dir / f".{name}.tmp"
            codec, level = self.output.parquet_compression()
            self._writer = pq.ParquetWriter(
                self._temp_path, self.schema, compression=codec, compression_level=level
            )
            self._rows = 0
        return self._writer

    def write(self, table: pa.Table) -> None:
        """Write rows, rolling to a new shard when the current one is full."""
        offset = 0
        while offset < table.num_rows:
            writer = self._open()
            room = self.output.shard_max_rows - self._rows
            piece = table.slice(offset, room)
            writer.write_table(piece)
            self._rows += piece.num_rows
            offset += piece.num_rows
            assert self._temp_path is not None
            full_rows = self._rows >= self.output.shard_max_rows
            full_bytes = self._temp_path.stat().st_size >= self.output.shard_max_bytes
            if full_rows or full_bytes:
                self._finish()

    def _finish(self) -> None:
        if self._writer is None or self._temp_path is None:
            return
        self._writer.close()
        final_path = self._temp_path.with_name(self._temp_path.name[1:].removesuffix(".tmp"))
        with self._temp_path.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(self._temp_path, final_path)
        self.written.append(
            ShardInfo(
                path=str(final_path.relative_to(self.output_root)),
                source=self.source,
                split=self.split,
                rows=self._rows,
                bytes=final_path.stat().st_size,
                sha256=sha256_file(final_path),
            )
        )
        self._writer, self._temp_path, self._rows = None, None, 0

    def close(self) -> list[ShardInfo]:
        self._finish()
        return self.written

    def abort(self) -> None:
        """Remove what this writer wrote, finished shards too (a retry writes them again)."""
        if self._writer is not None:
            self._writer.close()
        if self._temp_path is not None:
            self._temp_path.unlink(missing_ok=True)
        for shard in self.written:
            (self.output_root / shard.path).unlink(missing_ok=True)
        self._writer, self._temp_path, self.written = None, None, []


def fsync_dir(directory: Path) -> None:
    """Make a directory's entries (renames, new files) durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_parquet_atomic(table: pa.Table, path: Path, codec: str | None, level: int | None) -> None:
    """Write a whole table under a temp name, fsync, then rename over ``path``."""
    temp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, temp, compression=codec, compression_level=level)
    with temp.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temp, path)


JSONL_DIR = "jsonl"


def jsonl_twin_path(shard_path: str) -> str:
    """shards/x.parquet -> jsonl/x.jsonl.gz (relative to the output directory)."""
    return f"{JSONL_DIR}/{Path(shard_path).stem}.jsonl.gz"


def write_jsonl_twin(table: pa.Table, output_root: Path, shard_path: str) -> dict[str, object]:
    """The shard as gzipped JSON lines, byte-reproducible (gzip header without time/name)."""
    relative = jsonl_twin_path(shard_path)
    path = output_root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    with temp.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as out:
        for row in table.to_pylist():
            if row.get("created_at") is not None:
                row["created_at"] = row["created_at"].isoformat()
            out.write((json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n").encode())
    os.replace(temp, path)
    return {
        "path": relative,
        "rows": table.num_rows,
        "bytes": path.stat().st_size,
        "sha256": sha256_file(path),
    }
