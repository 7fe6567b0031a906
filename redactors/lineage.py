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
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from redactors.consent import ConsentGate

LINEAGE_DIR = "lineage"
LINEAGE_FILE = f"{LINEAGE_DIR}/lineage.parquet"
# row: position in the shard, so forget removes exactly these rows even if ids repeat.
LINEAGE_SCHEMA = pa.schema(
    [
        ("shard", pa.string()),
        ("row", pa.int32()),
        ("record_id", pa.string()),
        ("user_key", pa.string()),
    ]
)


def user_key(key: bytes, user_id: str) -> str:
    return hmac.new(key, b"lineage/user/v1\x1f" + user_id.encode(), hashlib.sha256).hexdigest()[:32]


def lineage_table(
    shard_rows: Sequence[tuple[str, int]], record_ids: Sequence[str], user_keys: Sequence[str]
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


def reasons_by_user_key(gate: ConsentGate, key: bytes) -> dict[str, str]:
    """Decision of the registry for every user in it, by lineage user key ("" = keep)."""
    return {
        user_key(key, user_id): reason
        for user_id, reason in zip(gate.lookup["user_id"], gate.lookup["reason"], strict=True)
    }


def read_lineage(path: Path) -> pa.Table:
    return pq.read_table(path, schema=LINEAGE_SCHEMA)
