"""One-line loaders for the shards, in the tools ML teams already use.

    from redactors.loaders import scan_polars, duckdb_relation, hf_dataset, torch_dataset
    scan_polars("out/sample").collect()                        # polars
    duckdb_relation("out/sample", split="train").fetchall()    # DuckDB
    hf_dataset("out/sample")                                   # Hugging Face DatasetDict
    torch_dataset("out/sample", split="train")                 # PyTorch IterableDataset

Shard lists come from the manifest (never a directory listing), so a loader reads exactly
the committed output, and the lineage index is never among them. With no splits configured
everything is ``train``.

None of them serves stale data: polars, DuckDB and the PyTorch dataset read the shards
directly (the PyTorch dataset re-reads the manifest at every pass over the data);
``hf_dataset`` keeps its ``datasets`` cache inside the output (``<output>/.cache/``, one
entry per output version), which every run and every ``redact forget`` removes in the same
atomic swap that replaces the shards. And each of them refuses (``StaleCopyError``) a shard
whose stamp is not the one the manifest lists, and a copied folder whose version is older
than the output it was copied from (the manifest's ``location``, or ``against``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from redactors.epoch import LOADER_CACHE, OUTPUT_ID_KEY, StaleCopyError, read_stamp
from redactors.manifest import Manifest
from redactors.output import MANIFEST


def _manifest(output_dir: str | Path) -> Manifest:
    return Manifest.read(Path(output_dir) / MANIFEST)


def _select(output: Path, manifest: Manifest, split: str | None) -> list[Path]:
    # No splits configured: every shard is in `train` (as the card says).
    everything = split is None or (split == "train" and not manifest.splits())
    return [output / shard.path for shard in manifest.shards if everything or shard.split == split]


def shard_files(output_dir: str | Path, split: str | None = None) -> list[Path]:
    output = Path(output_dir)
    return _select(output, _manifest(output), split)


def _same_place(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or a.samefile(b)
    except OSError:
        return False


def check_current(output_dir: str | Path, against: str | Path | None = None) -> Manifest:
    """The output's manifest, once it is known not to be stale; else ``StaleCopyError``.

    - every shard must carry the stamp the manifest lists for it (an older shard file put
      back, or a folder mixing versions, is refused);
    - a copied folder is compared with the output it was taken from: ``against`` if given,
      else the manifest's ``location`` if that is another directory holding an output.
      Refused when its version is older than that output's; with ``against`` also when its
      version is not one that output ever had.
    """
    output = Path(output_dir)
    manifest = _manifest(output)
    for shard in manifest.shards:
        if shard.output_id is None:
            continue  # written before versions were stamped
        found = read_stamp(output / shard.path).get(OUTPUT_ID_KEY)
        if found != shard.output_id:
            raise StaleCopyError(
                f"{output / shard.path}: shard of output version {found or 'unknown'}, but "
                f"{output / MANIFEST} lists version {shard.output_id}: the folder mixes "
                "versions (an older shard copied back?); copy the output again"
            )
    explicit = against is not None
    reference = Path(against) if against is not None else None
    if reference is None and manifest.location:
        location = Path(manifest.location)
        if not _same_place(location, output) and (location / MANIFEST).is_file():
            reference = location
    if reference is None or manifest.output_id is None:
        return manifest
    current = _manifest(reference)
    if current.output_id == manifest.output_id:
        return manifest
    epoch = current.epochs.get(manifest.output_id)
    if epoch is None:
        if explicit:
            raise StaleCopyError(
                f"{output} is not a version of {reference} (its version "
                f"{manifest.output_id} is not in {reference / MANIFEST}'s epochs)"
            )
        return manifest
    if current.consent_epoch is not None and epoch < current.consent_epoch:
        raise StaleCopyError(
            f"{output} is a copy of {reference} at consent epoch {epoch} (version "
            f"{manifest.output_id}); {reference} is now at epoch {current.consent_epoch} "
            f"(version {current.output_id}): records were removed or masked since. Load "
            f"{reference} itself, or copy it again; `redact verify {output} --against "
            f"{reference}` counts what changed"
        )
    return manifest


def current_shard_files(
    output_dir: str | Path, split: str | None = None, against: str | Path | None = None
) -> list[Path]:
    """``shard_files`` after ``check_current``."""
    output = Path(output_dir)
    return _select(output, check_current(output, against), split)


def scan_polars(
    output_dir: str | Path, split: str | None = None, against: str | Path | None = None
) -> pl.LazyFrame:
    files = current_shard_files(output_dir, split, against)
    if not files:
        raise FileNotFoundError(f"no shards in {output_dir} (split {split!r})")
    return pl.scan_parquet(files)


def duckdb_relation(
    output_dir: str | Path,
    split: str | None = None,
    connection: Any = None,
    against: str | Path | None = None,
) -> Any:
    import duckdb

    files = [str(path) for path in current_shard_files(output_dir, split, against)]
    if not files:
        raise FileNotFoundError(f"no shards in {output_dir} (split {split!r})")
    return (connection or duckdb).read_parquet(files)


def loader_cache_dir(output_dir: str | Path, manifest: Manifest | None = None) -> Path:
    """Where ``hf_dataset`` keeps its cache: inside the output, per version."""
    manifest = manifest or _manifest(output_dir)
    return Path(output_dir) / LOADER_CACHE / "datasets" / (manifest.output_id or "unversioned")


def hf_dataset(
    output_dir: str | Path,
    split: str | None = None,
    *,
    streaming: bool = False,
    cache_dir: str | Path | None = None,
    against: str | Path | None = None,
) -> Any:
    """The shards as a ``datasets`` DatasetDict (or one split; ``streaming``: an
    IterableDataset, no cache). The cache goes to ``<output>/.cache/datasets/<version>``
    (removed by the next run or forget with the version it holds); if the output is not
    writable, to ``datasets``' own cache, keyed there by the files' modification times."""
    import datasets

    output = Path(output_dir)
    manifest = check_current(output, against)
    names = [split] if split is not None else (manifest.splits() or ["train"])
    data_files = {name: [str(p) for p in _select(output, manifest, name)] for name in names}
    empty = [name for name, files in data_files.items() if not files]
    if empty:
        raise FileNotFoundError(f"no shards in {output} for split(s) {empty}")
    if streaming:
        return datasets.load_dataset("parquet", data_files=data_files, split=split, streaming=True)
    if cache_dir is None and os.access(output, os.W_OK):
        cache_dir = loader_cache_dir(output, manifest)
    return datasets.load_dataset(
        "parquet",
        data_files=data_files,
        split=split,
        cache_dir=str(cache_dir) if cache_dir is not None else None,
    )


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


class ShardRecords:
    """The records of an output's current shards, for one (rank, worker) share or all.
    Torch-free (``torch_dataset`` wraps it): the shard list is read from the manifest, and
    checked, at every pass, so a forget between two epochs of training is followed."""

    def __init__(
        self,
        output_dir: str | Path,
        split: str | None = None,
        against: str | Path | None = None,
        batch_rows: int = 1024,
    ) -> None:
        self.output_dir = Path(output_dir)
        self.split = split
        self.against = against
        self.batch_rows = batch_rows

    def files(self) -> list[Path]:
        return current_shard_files(self.output_dir, self.split, self.against)

    def share(
        self, rank: int = 0, world_size: int = 1, worker: int = 0, num_workers: int = 1
    ) -> Iterator[dict[str, Any]]:
        files = shards_for(self.files(), rank, world_size, worker, num_workers)
        yield from iter_records(files, self.batch_rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self.share()


def torch_dataset(
    output_dir: str | Path, split: str | None = None, against: str | Path | None = None
) -> Any:
    """A ``torch.utils.data.IterableDataset`` over the shards that splits them across
    DataLoader workers and distributed ranks without overlap. Needs PyTorch (imported here,
    not when this module is)."""
    try:
        import torch.distributed as dist
        from torch.utils.data import IterableDataset, get_worker_info
    except ImportError:
        raise ImportError(
            "torch_dataset needs PyTorch (not a dependency of this project): install it, "
            "e.g. the CPU wheel; ShardRecords gives the same records without it"
        ) from None

    records = ShardRecords(output_dir, split, against)
    records.files()  # refuse a stale copy now, not in a DataLoader worker

    class ShardDataset(IterableDataset):  # type: ignore[misc]
        def __iter__(self) -> Iterator[dict[str, Any]]:
            info = get_worker_info()
            worker, workers = (info.id, info.num_workers) if info else (0, 1)
            distributed = dist.is_available() and dist.is_initialized()
            rank = dist.get_rank() if distributed else 0
            world = dist.get_world_size() if distributed else 1
            yield from records.share(rank, world, worker, workers)

    return ShardDataset()
