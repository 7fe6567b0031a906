"""Which version of an output a shard, a card or a copy is: output id and consent epoch.

Every committed output has an **output id**, a hash of its shards' content (the same shards
give the same id, so the same inputs and secret still give byte-identical shards), and a
**consent epoch**, a counter per output location that advances whenever a run or a forget
commits different shards. The manifest keeps both and ``epochs`` (every id the location has
had → the epoch it had it at), so any copy can be placed in time.

Each shard carries, in its Parquet key-value metadata, the id of the output version that
wrote it (``redact.output_id``) and its own path (``redact.shard``): a run stamps every shard
in finalize; a forget stamps the shards it rewrites (the others keep their bytes and id,
listed per shard in the manifest). The dataset card carries the id and the epoch too, in a
``dataset_info`` description that ``datasets`` copies into its cache entries, so its cache key
changes with every new version and a stale cache entry names the version it holds.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from redactors.errors import RedactError
from redactors.io import sha256_file
from redactors.shards import fsync_dir

OUTPUT_ID_KEY = "redact.output_id"
SHARD_KEY = "redact.shard"
# The loaders' cache (``redactors.loaders.hf_dataset``): inside the output, so the atomic
# swap of every run and forget removes it with the version it was made from.
LOADER_CACHE = ".cache"
CARD_DESCRIPTION = "pii-redact output {output_id}, consent epoch {epoch}, location {location}"
_DESCRIPTION = re.compile(
    r"pii-redact output (?P<output_id>[0-9a-f]+), consent epoch (?P<epoch>\d+), "
    r"location (?P<location>.*)"
)


class StaleCopyError(RedactError):
    """A copy (or a shard) of an output is older than the output it was taken from."""


def content_id(parts: Iterable[tuple[str, str]]) -> str:
    """The output id: a hash of (shard path, content digest) pairs, in any order."""
    digest = hashlib.sha256(b"pii-redact-output/v1\n")
    for path, sha in sorted(parts):
        digest.update(f"{path}\x1f{sha}\n".encode())
    return digest.hexdigest()[:24]


def table_digest(table: pa.Table) -> str:
    """A digest of a table's data (not of its metadata), for shards not yet written."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema.remove_metadata()) as writer:
        writer.write_table(table.replace_schema_metadata(None))
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def stamp_table(table: pa.Table, output_id: str, shard_path: str) -> pa.Table:
    """The table with the stamp in its schema metadata (written as Parquet key-value
    metadata)."""
    metadata = dict(table.schema.metadata or {})
    metadata[OUTPUT_ID_KEY.encode()] = output_id.encode()
    metadata[SHARD_KEY.encode()] = shard_path.encode()
    return table.replace_schema_metadata(metadata)


def read_stamp(path: Path) -> dict[str, str]:
    """The ``redact.*`` key-value metadata of a Parquet file (empty if it has none)."""
    metadata = pq.read_metadata(path).metadata or {}
    return {
        key.decode(): value.decode()
        for key, value in metadata.items()
        if key.startswith(b"redact.")
    }


def next_identity(
    output_id: str, previous: dict[str, Any] | None, location: Path
) -> dict[str, Any]:
    """Manifest fields of a new version: the epoch advances only when the content changed."""
    previous = previous or {}
    epochs = {str(k): int(v) for k, v in (previous.get("epochs") or {}).items()}
    last = int(previous.get("consent_epoch") or 0)
    epoch = last if previous.get("output_id") == output_id and last else last + 1
    epochs[output_id] = epoch
    return {
        "output_id": output_id,
        "consent_epoch": epoch,
        "epochs": epochs,
        "location": str(location),
    }


def stamp_run_shards(
    staging_dir: Path,
    shards: list[dict[str, Any]],
    previous_manifest: dict[str, Any] | None,
    location: Path,
    compression: tuple[str | None, int | None],
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Stamp every shard of a run with the run's output id (a hash of the unstamped
    shards, so it depends on content only), row group by row group, under a temp name.
    Returns the shard entries with new bytes/sha256 and the manifest's identity fields."""
    output_id = content_id((shard["path"], shard["sha256"]) for shard in shards)
    codec, level = compression
    stamped = []
    for shard in shards:
        path = staging_dir / shard["path"]
        source = pq.ParquetFile(path)
        schema = stamp_table(source.schema_arrow.empty_table(), output_id, shard["path"]).schema
        temp = path.with_name(f".{path.name}.stamp")
        with pq.ParquetWriter(temp, schema, compression=codec, compression_level=level) as out:
            for index in range(source.num_row_groups):
                out.write_table(
                    source.read_row_group(index).replace_schema_metadata(schema.metadata)
                )
        source.close()
        with temp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, path)  # a new inode: a unit stored in the state store stays as it was
        stamped.append(
            {
                **shard,
                "bytes": path.stat().st_size,
                "sha256": sha256_file(path),
                "output_id": output_id,
            }
        )
    if shards:
        fsync_dir(staging_dir / "shards")
    return stamped, next_identity(output_id, previous_manifest, location)


def card_description(output_id: str, epoch: int, location: str) -> str:
    return CARD_DESCRIPTION.format(output_id=output_id, epoch=epoch, location=location)


def parse_card_description(text: str) -> dict[str, str] | None:
    """Output id, epoch and location from a card's (or a ``datasets`` cache entry's)
    description; None if it is not one of ours."""
    match = _DESCRIPTION.search(text or "")
    return match.groupdict() if match else None
