"""One-line loaders for the shards, in the tools ML teams already use.

    from redactors.loaders import scan_polars, duckdb_relation, shard_files
    scan_polars("out/sample").collect()                        # polars
    duckdb_relation("out/sample", split="train").fetchall()    # DuckDB
    datasets.load_dataset("out/sample")                        # Hugging Face (card configs)
    ShardDataset("out/sample", split="train")                  # PyTorch IterableDataset

Shard lists come from the manifest (never a directory listing), so a loader reads exactly
the committed output, and the lineage index is never among them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq


def shard_files(output_dir: str | Path, split: str | None = None) -> list[Path]:
    output = Path(output_dir)
    manifest = json.loads((output / "manifest.json").read_text(encoding="utf-8"))
    return [
        output / shard["path"]
        for shard in manifest["shards"]
        if split is None or shard.get("split") == split
    ]


def scan_polars(output_dir: str | Path, split: str | None = None) -> pl.LazyFrame:
    files = shard_files(output_dir, split)
    if not files:
        raise FileNotFoundError(f"no shards in {output_dir} (split {split!r})")
    return pl.scan_parquet(files)


def duckdb_relation(output_dir: str | Path, split: str | None = None, connection: Any = None):
    import duckdb

    files = [str(path) for path in shard_files(output_dir, split)]
    return (connection or duckdb).read_parquet(files)


def partition(items: Sequence[Any], part: int, parts: int) -> list[Any]:
    """Round-robin share ``part`` of ``parts``: disjoint, and together all items."""
    if not 0 <= part < parts:
        raise ValueError(f"part {part} not in 0..{parts - 1}")
    return list(items[part::parts])


def shards_for(
    files: Sequence[Path], rank: int, world_size: int, worker: int, num_workers: int
) -> list[Path]:
    """Shards of one DataLoader worker on one rank: no two (rank, worker) pairs overlap."""
    return partition(files, rank * num_workers + worker, world_size * num_workers)


def iter_records(files: Sequence[Path], batch_rows: int = 1024) -> Iterator[dict[str, Any]]:
    for path in files:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
            yield from batch.to_pylist()


def torch_dataset(output_dir: str | Path, split: str | None = None) -> Any:
    """A ``torch.utils.data.IterableDataset`` over the shards that splits them across
    DataLoader workers and distributed ranks without overlap. Needs PyTorch."""
    import torch
    import torch.distributed as dist
    from torch.utils.data import IterableDataset, get_worker_info

    files = shard_files(output_dir, split)

    class ShardDataset(IterableDataset):  # type: ignore[misc]
        def __iter__(self) -> Iterator[dict[str, Any]]:
            info = get_worker_info()
            worker, workers = (info.id, info.num_workers) if info else (0, 1)
            distributed = dist.is_available() and dist.is_initialized()
            rank = dist.get_rank() if distributed else 0
            world = dist.get_world_size() if distributed else 1
            yield from iter_records(shards_for(files, rank, world, worker, workers))

    del torch
    return ShardDataset()
