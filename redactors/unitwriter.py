"""What one work unit writes: shard parts (per split), their lineage rows, their text hashes,
and the positions of the rows it quarantined.

Splits are assigned by a keyed hash of the user, so all of one person's records land in one
split (no person in both train and test), and the assignment is the same in every run with
the same secret. Text hashes feed the run-wide exact dedup in ``redactors.dedup``.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from redactors.config import OutputConfig, SourceConfig
from redactors.errors import OutputError
from redactors.io import shard_prefix, shard_schema
from redactors.lineage import LINEAGE_DIR, lineage_table, org_key, user_key, write_lineage
from redactors.quarantine import unit_quarantine_path, write_unit_quarantine
from redactors.shards import ShardInfo, ShardWriter

DEDUP_DIR = "dedup"
DEDUP_SCHEMA = pa.schema([("shard", pa.string()), ("row", pa.int32()), ("hash", pa.uint64())])


def split_of(key: bytes, user_id: str, splits: dict[str, float]) -> str:
    """The split of a user: a keyed hash mapped onto the cumulative ratios (config order)."""
    digest = hmac.new(key, b"split/v1\x1f" + user_id.encode(), hashlib.sha256).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64
    cumulative = 0.0
    for name, ratio in splits.items():
        cumulative += ratio
        if point < cumulative:
            return name
    return next(reversed(splits))  # rounding at the very top end


def text_hash(values: list[str | None]) -> int:
    """64-bit hash of a record's redacted text columns (exact-duplicate detection)."""
    joined = "\x1f".join("\x00" if value is None else value for value in values)
    return int.from_bytes(hashlib.sha256(joined.encode()).digest()[:8], "big")


class UnitWriter:
    def __init__(
        self,
        staging_dir: Path,
        source: SourceConfig,
        unit_id: str,
        output: OutputConfig,
        key: bytes | None,
    ) -> None:
        self.staging_dir = staging_dir
        self.source = source
        self.unit_id = unit_id
        self.output = output
        self.key = key
        self.schema = shard_schema(source)
        self._writers: dict[str, ShardWriter] = {}
        self._record_ids: dict[str, list[str]] = {}
        self._user_keys: dict[str, list[str]] = {}
        self._org_keys: dict[str, list[str | None]] = {}
        self._hashes: dict[str, list[int]] = {}
        self._quarantined: list[pa.Table] = []

    @contextmanager
    def _disk_full_is_an_output_error(self) -> Iterator[None]:
        """No space (or quota) left: say so, with the directory, instead of a bare OSError
        (the run then fails; the staging dir goes, the previous output stays)."""
        try:
            yield
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            raise OutputError(
                f"work unit {self.unit_id}: {os.strerror(exc.errno)} while writing into "
                f"{self.staging_dir} (disk full?); nothing was published"
            ) from None

    def quarantine(self, rows: pa.Table) -> None:
        """Positions of rows this unit quarantined (written at close, if configured)."""
        if rows.num_rows and self.output.quarantine_file:
            self._quarantined.append(rows)

    def _writer(self, split: str) -> ShardWriter:
        if split not in self._writers:
            self._writers[split] = ShardWriter(
                self.staging_dir / "shards",
                self.source.name,
                shard_prefix(self.unit_id, split or None),
                self.schema,
                self.output,
                self.staging_dir,
                split or None,
            )
            self._record_ids[split], self._user_keys[split], self._hashes[split] = [], [], []
            self._org_keys[split] = []
        return self._writers[split]

    def write(
        self, table: pa.Table, user_ids: list[str], org_ids: list[str | None] | None = None
    ) -> None:
        """Shard rows and, per row, its user id and (sources with org_column) org id: only
        their keyed hashes are kept, in the lineage index."""
        with self._disk_full_is_an_output_error():
            self._write(table, user_ids, org_ids)

    def _write(
        self, table: pa.Table, user_ids: list[str], org_ids: list[str | None] | None = None
    ) -> None:
        if not table.num_rows:
            return
        splits = self.output.splits
        if splits:
            assert self.key is not None  # config.needs_secret() guarantees it
            names = [split_of(self.key, user_id, splits) for user_id in user_ids]
        else:
            names = [""] * table.num_rows
        text_columns = self.source.output_text_columns()
        texts = [table[name].to_pylist() for name in text_columns]
        for split in sorted(set(names)):
            mask = [name == split for name in names]
            part = table.filter(pa.array(mask)) if splits else table
            self._writer(split).write(part)
            rows = [i for i, keep in enumerate(mask) if keep]
            self._record_ids[split] += part["record_id"].to_pylist()
            if self.output.lineage and self.key is not None:
                self._user_keys[split] += [user_key(self.key, user_ids[i]) for i in rows]
                self._org_keys[split] += [
                    None if org_ids is None or org_ids[i] is None else org_key(self.key, org_ids[i])
                    for i in rows
                ]
            if self.output.dedup == "exact":
                self._hashes[split] += [text_hash([column[i] for column in texts]) for i in rows]

    def close(self) -> list[ShardInfo]:
        with self._disk_full_is_an_output_error():
            return self._close()

    def _close(self) -> list[ShardInfo]:
        shards: list[ShardInfo] = []
        lineage_parts, dedup_parts = [], []
        for split in sorted(self._writers):
            written = self._writers[split].close()
            shards += written
            shard_rows = [(shard.path, shard.rows) for shard in written]
            if self.output.lineage and self.key is not None:
                lineage_parts.append(
                    lineage_table(
                        shard_rows,
                        self._record_ids[split],
                        self._user_keys[split],
                        self._org_keys[split],
                    )
                )
            if self.output.dedup == "exact":
                paths = [path for path, rows in shard_rows for _ in range(rows)]
                positions = [row for _, rows in shard_rows for row in range(rows)]
                dedup_parts.append(
                    pa.table(
                        {"shard": paths, "row": positions, "hash": self._hashes[split]},
                        schema=DEDUP_SCHEMA,
                    )
                )
        if lineage_parts:
            write_lineage(
                self.staging_dir / LINEAGE_DIR / "units" / f"{self.unit_id}.parquet",
                pa.concat_tables(lineage_parts),
            )
        if dedup_parts:
            path = self.staging_dir / DEDUP_DIR / f"{self.unit_id}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.concat_tables(dedup_parts), path)
        write_unit_quarantine(self.staging_dir, self.unit_id, self._quarantined)
        return shards

    def abort(self) -> None:
        for writer in self._writers.values():
            writer.abort()
        unit_quarantine_path(self.staging_dir, self.unit_id).unlink(missing_ok=True)
