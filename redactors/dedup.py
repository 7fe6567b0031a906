"""Run-wide exact dedup of redacted texts, after all units have written their shards.

Each unit recorded a 64-bit hash of every row's redacted text (``UnitWriter``). Here the
hashes of the whole run are read in a fixed order (unit id, then the order the unit wrote
them), the first copy of each text is kept, and only the shards that lose rows are
rewritten. Memory: 8 bytes per output row plus shard/row ids, for the hash table.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from redactors.config import OutputConfig
from redactors.io import sha256_file
from redactors.shards import write_parquet_atomic
from redactors.unit import UnitResult
from redactors.unitwriter import DEDUP_DIR


def dedup_run(
    staging_dir: Path, results: list[UnitResult], output: OutputConfig
) -> dict[str, set[int]]:
    """Drop later exact copies; returns shard path -> removed row positions. Updates the
    results' shard lists and per-source stats in place."""
    dedup_dir = staging_dir / DEDUP_DIR
    paths = [dedup_dir / f"{r.unit_id}.parquet" for r in results]
    paths = [p for p in paths if p.exists()]
    removed: dict[str, set[int]] = {}
    if paths:
        hashes = pl.concat([pl.read_parquet(p) for p in paths])
        duplicates = hashes.filter(~pl.col("hash").is_first_distinct())
        for shard, rows in duplicates.group_by("shard").agg("row").iter_rows():
            removed[shard] = set(rows)
    codec, level = output.parquet_compression()
    for result in results:
        kept_shards = []
        for shard in result.shards:
            drop = removed.get(shard.path)
            if not drop:
                kept_shards.append(shard)
                continue
            path = staging_dir / shard.path
            table = pq.read_table(path)
            table = table.filter(pa.array([row not in drop for row in range(table.num_rows)]))
            result.stats.records_out -= len(drop)
            result.stats.records_deduplicated += len(drop)
            if table.num_rows == 0:
                path.unlink()
                continue
            write_parquet_atomic(table, path, codec, level)
            kept_shards.append(
                dataclasses.replace(
                    shard,
                    rows=table.num_rows,
                    bytes=path.stat().st_size,
                    sha256=sha256_file(path),
                )
            )
        result.shards = kept_shards
    shutil.rmtree(dedup_dir, ignore_errors=True)
    return removed
