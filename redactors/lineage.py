"""Lineage index: which pseudonymous user each shard record belongs to.

Kept next to the shards (``<output>/lineage/``), never inside them, so ML teams loading
``shards/`` do not get it. It holds no raw user id: a user key is a keyed HMAC of the id,
so only the holder of the secret can tell whose records a shard holds, which is exactly
what ``redact forget`` needs when consent is withdrawn later.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

LINEAGE_DIR = "lineage"
LINEAGE_FILE = f"{LINEAGE_DIR}/lineage.parquet"
# Tombstones (source, record_id) applied to this output by runs and forgets: a later run
# must apply them too (consent.check_applied_deletions), so no deleted record comes back.
APPLIED_DELETIONS_FILE = f"{LINEAGE_DIR}/deletions.parquet"
# row: position in the shard, so forget removes exactly these rows even if ids repeat.
LINEAGE_SCHEMA = pa.schema(
    [
        ("shard", pa.string()),
        ("row", pa.int32()),
        ("record_id", pa.string()),
        ("user_key", pa.string()),
        # keyed HMAC of the record's org id (null: the source has no org_column)
        ("org_key", pa.string()),
    ]
)


def user_key(key: bytes, user_id: str) -> str:
    return hmac.new(key, b"lineage/user/v1\x1f" + user_id.encode(), hashlib.sha256).hexdigest()[:32]


def org_key(key: bytes, org_id: str) -> str:
    return hmac.new(key, b"lineage/org/v1\x1f" + org_id.encode(), hashlib.sha256).hexdigest()[:32]


def lineage_table(
    shard_rows: Sequence[tuple[str, int]],
    record_ids: Sequence[str],
    user_keys: Sequence[str],
    org_keys: Sequence[str | None] | None = None,
) -> pa.Table:
    """Rows in write order, split over shards by their row counts."""
    shards: list[str] = []
    positions: list[int] = []
    for shard, rows in shard_rows:
        shards += [shard] * rows
        positions += range(rows)
    if not len(shards) == len(record_ids) == len(user_keys):
        raise ValueError("lineage rows do not match shard rows")
    return pa.table(
        {
            "shard": shards,
            "row": positions,
            "record_id": list(record_ids),
            "user_key": list(user_keys),
            "org_key": list(org_keys) if org_keys is not None else [None] * len(shards),
        },
        schema=LINEAGE_SCHEMA,
    )


def write_lineage(path: Path, table: pa.Table) -> None:
    """Write under a temp name, then rename: never into an existing file, which may be a hard
    link shared with the state store."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, temp, compression="zstd")
    os.replace(temp, path)


def read_lineage(path: Path) -> pa.Table:
    """The lineage rows; an index written before org keys existed gets a null org_key."""
    table = pq.read_table(path)
    if "org_key" not in table.column_names:
        table = table.append_column("org_key", pa.nulls(table.num_rows, pa.string()))
    return table.select(LINEAGE_SCHEMA.names).cast(LINEAGE_SCHEMA)
