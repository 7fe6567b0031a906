"""Parquet in: source checks, work-unit planning, streaming reads (shards.py writes).

Work units are (file, row range) pairs, numbered in a fixed order (source, sorted file
path, row), so shard names and contents do not depend on how many workers ran them.
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from redactors.config import RunConfig, SourceConfig
from redactors.errors import InputError, OutputError, RedactError

SHARD_SCHEMA_BASE = [
    ("record_id", pa.string()),
    ("source", pa.string()),
]
SHARD_SCHEMA_TAIL = [
    ("created_at", pa.timestamp("us", tz="UTC")),
    ("pii_masked", pa.int32()),
]


def shard_schema(source: SourceConfig) -> pa.Schema:
    text_fields = [(name, pa.string()) for name in source.output_text_columns()]
    return pa.schema(SHARD_SCHEMA_BASE + text_fields + SHARD_SCHEMA_TAIL)


def sha256_file(path: Path, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def source_files(config: RunConfig, source: SourceConfig) -> list[Path]:
    pattern = str(config.resolve(source.path))
    files = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
    if not files:
        raise InputError(f"source {source.name!r}: no file matches {pattern}")
    return files


def _check_type(path: Path, column: str, actual: pa.DataType, role: str) -> None:
    ok = {
        "id": pa.types.is_string(actual)
        or pa.types.is_large_string(actual)
        or pa.types.is_integer(actual),
        "user": pa.types.is_string(actual)
        or pa.types.is_large_string(actual)
        or pa.types.is_integer(actual),
        "time": pa.types.is_timestamp(actual) or pa.types.is_date(actual),
        "text": pa.types.is_string(actual)
        or pa.types.is_large_string(actual)
        or pa.types.is_null(actual),
        "deleted": pa.types.is_boolean(actual)
        or pa.types.is_timestamp(actual)
        or pa.types.is_date(actual),
        "org": pa.types.is_string(actual)
        or pa.types.is_large_string(actual)
        or pa.types.is_integer(actual)
        or pa.types.is_null(actual),
    }[role]
    if not ok:
        expected = {
            "id": "string or integer",
            "user": "string or integer",
            "time": "timestamp or date",
            "text": "string",
            "deleted": "boolean, timestamp or date",
            "org": "string or integer",
        }[role]
        raise InputError(
            f"{path}: column {column!r} ({role}) has type {actual}, expected {expected}"
        )


def check_source_file(path: Path, source: SourceConfig) -> pq.FileMetaData:
    """Open the file's footer and check the configured columns exist with usable types."""
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... for bad files
        raise InputError(f"{path}: not a readable Parquet file ({type(exc).__name__})") from None
    schema = parquet.schema_arrow
    roles = [("id", source.id_column), ("user", source.user_column), ("time", source.time_column)]
    roles += [("text", column) for column in source.text_columns]
    if source.deleted_column:
        roles.append(("deleted", source.deleted_column))
    if source.org_column:
        roles.append(("org", source.org_column))
    missing = [column for _, column in roles if column not in schema.names]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {missing} configured for source {source.name!r}; "
            f"the file has {schema.names}"
        )
    for role, column in roles:
        _check_type(path, column, schema.field(column).type, role)
    return parquet.metadata


@dataclass(frozen=True)
class WorkUnit:
    """Contiguous rows of one file: whole row groups, or a slice of one large row group.
    Small and picklable: passed to workers."""

    unit_id: str
    source: str
    path: str
    row_groups: tuple[int, ...]
    first_row: int  # index in the file of the unit's first row, for error messages
    rows: int
    skip_rows: int = 0  # rows of the first row group before the unit's first row (a slice)
    # What the unit's output depends on, hashed (set by the run's preflight; see state.py).
    key: str = ""


@dataclass(frozen=True)
class InputFile:
    source: str
    path: str
    rows: int
    bytes: int
    sha256: str


@dataclass
class Plan:
    units: list[WorkUnit] = field(default_factory=list)
    inputs: list[InputFile] = field(default_factory=list)


UnitRows = tuple[tuple[int, ...], int, int]  # (row groups, rows skipped in the first, rows)


AUTO_UNITS_PER_FILE = 16
AUTO_MIN_UNIT_ROWS = 2_000
AUTO_MAX_UNIT_ROWS = 100_000


def auto_unit_rows(file_rows: int) -> int:
    """``runner.unit_rows: auto``: the unit size that cuts a file into about 16 units
    (several per worker on a few workers, so the last ones end together), but not under
    2,000 rows (a unit should take seconds: Prefect/Dask cost ~0.1 s per task) or over
    100,000 (bounded retries and progress). Units then come out at 8-32 per file: a split
    row group gives equal slices of at most this size, packed small row groups at least it
    (up to about twice). From the file's own row count only: adding files or workers
    re-plans nothing."""
    wanted = -(-file_rows // AUTO_UNITS_PER_FILE)
    return min(AUTO_MAX_UNIT_ROWS, max(AUTO_MIN_UNIT_ROWS, wanted))


def plan_row_ranges(metadata: pq.FileMetaData, unit_rows: int) -> list[UnitRows]:
    """The file's rows as units of about ``unit_rows``: consecutive small row groups packed
    together (at least unit_rows; the last may have less), and a row group of more than
    unit_rows split into equal slices of at most unit_rows. Exports often come with row
    groups of a million rows: whole, they would be too few units to keep workers busy."""
    planned: list[UnitRows] = []
    groups: list[int] = []
    rows = 0
    for group in range(metadata.num_row_groups):
        group_rows = metadata.row_group(group).num_rows
        if group_rows > unit_rows:
            if groups:
                planned.append((tuple(groups), 0, rows))
                groups, rows = [], 0
            slices = -(-group_rows // unit_rows)
            start = 0
            for index in range(slices):
                size = group_rows // slices + (index < group_rows % slices)
                planned.append(((group,), start, size))
                start += size
            continue
        groups.append(group)
        rows += group_rows
        if rows >= unit_rows:
            planned.append((tuple(groups), 0, rows))
            groups, rows = [], 0
    if groups:
        planned.append((tuple(groups), 0, rows))
    return planned


def _glob_root(pattern: str) -> Path:
    """The directory part of a glob pattern before its first wildcard."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts[:-1]:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


FILE_TAG_CHARS = 10


def unit_name(source: str, tag: str, index: int, width: int = 4) -> str:
    """A work unit's id: source, file tag and its index in the file, zero-padded to
    ``width`` so that ids sort in plan order."""
    return f"{source}-{tag}-u{index:0{width}d}"


def shard_prefix(unit_id: str, split: str | None) -> str:
    """What a unit's shard names start with: its split, if any, then its id."""
    return f"{split}-{unit_id}" if split else unit_id


def shard_name(prefix: str, part: int) -> str:
    return f"{prefix}-p{part:03d}.parquet"


def file_tag(source: SourceConfig, path: Path, pattern: str) -> str:
    """A short stable name for an input file: a hash of its path below the pattern's fixed
    directory. Unit ids and shard names derive from it, so adding or removing other files
    never renames the shards of this one (incremental runs), and moving the whole export
    directory renames nothing."""
    relative = path.relative_to(_glob_root(pattern)).as_posix()
    digest = hashlib.sha256(f"{source.name}\x1f{relative}".encode()).hexdigest()
    return digest[:FILE_TAG_CHARS]


def plan_units(config: RunConfig) -> Plan:
    """Check every input file, then plan units of about runner.unit_rows (plan_row_ranges).
    Units are listed in a fixed order (source, sorted path, row): the run-wide dedup
    keeps the first copy in this order."""
    plan = Plan()
    for source in config.sources:
        pattern = str(config.resolve(source.path))
        for path in source_files(config, source):
            tag = file_tag(source, path, pattern)
            metadata = check_source_file(path, source)
            plan.inputs.append(
                InputFile(
                    source.name,
                    str(path),
                    metadata.num_rows,
                    path.stat().st_size,
                    sha256_file(path),
                )
            )
            first_row = 0
            configured = config.runner.unit_rows
            unit_rows = (
                configured if isinstance(configured, int) else auto_unit_rows(metadata.num_rows)
            )
            ranges = plan_row_ranges(metadata, unit_rows)
            width = max(4, len(str(len(ranges) - 1)))
            for unit_index, (groups, skip_rows, rows) in enumerate(ranges):
                plan.units.append(
                    WorkUnit(
                        unit_id=unit_name(source.name, tag, unit_index, width),
                        source=source.name,
                        path=str(path),
                        row_groups=groups,
                        first_row=first_row,
                        rows=rows,
                        skip_rows=skip_rows,
                    )
                )
                first_row += rows
    return plan


def read_unit(
    unit: WorkUnit, source: SourceConfig, batch_rows: int
) -> Iterator[tuple[int, pl.DataFrame]]:
    """Yield (index in file of the batch's first row, batch) with only the needed columns.
    A slice of a row group decodes the rows before it too (Parquet has no row offset), so
    the k slices of a row group decode it about (k + 1) / 2 times in all: ~1 ms per 10,000
    short texts skipped, against ~25 s to detect in 10,000 (README, Scaling out)."""
    parquet = pq.ParquetFile(unit.path)
    row = unit.first_row
    to_skip, to_read = unit.skip_rows, unit.rows
    batches = parquet.iter_batches(
        batch_size=batch_rows, row_groups=list(unit.row_groups), columns=source.needed_columns()
    )
    while to_read > 0:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except RedactError:
            raise
        except Exception as exc:  # pyarrow: OSError, ArrowInvalid, ... (may quote bytes)
            raise _unreadable(parquet, unit, source, exc) from None
        if to_skip >= batch.num_rows:
            to_skip -= batch.num_rows
            continue
        batch = batch.slice(to_skip, to_read)
        to_skip, to_read = 0, to_read - batch.num_rows
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        yield row, frame
        row += frame.height


def _unreadable(
    parquet: pq.ParquetFile, unit: WorkUnit, source: SourceConfig, exc: Exception
) -> InputError:
    """A file whose footer was fine but whose data is not: find the first row group and
    column that cannot be decoded, so the error can name them (rows of the row group)."""
    first = unit.first_row - unit.skip_rows  # the first row group's first row
    for group in unit.row_groups:
        rows = parquet.metadata.row_group(group).num_rows
        for column in source.needed_columns():
            try:
                parquet.read_row_group(group, columns=[column])
            except Exception:
                return InputError(
                    f"{unit.path}: column {column!r} cannot be decoded in row group {group} "
                    f"(rows {first}..{first + rows - 1}): the file is corrupt or truncated "
                    f"({type(exc).__name__})"
                )
        first += rows
    return InputError(
        f"{unit.path}: rows {unit.first_row}..{unit.first_row + unit.rows - 1} cannot be read: "
        f"the file is corrupt or truncated ({type(exc).__name__})"
    )


def _glob_matches(pattern: tuple[str, ...], path: tuple[str, ...]) -> bool:
    """Whether a glob (by path components, ``**``: any number of directories) matches."""
    if not pattern:
        return not path
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_glob_matches(rest, path[i:]) for i in range(len(path) + 1))
    return bool(path) and fnmatch.fnmatchcase(path[0], head) and _glob_matches(rest, path[1:])


def check_output_apart_from_inputs(config: RunConfig, plan: Plan, output_dir: Path) -> None:
    """Refuse an output that a source would read back as input: an input file inside the
    output, or a source path pattern that matches the output's own Parquet files (e.g.
    ``exports/**/*.parquet`` with the output at ``exports/redacted``). An output merely next
    to the inputs is fine."""
    for item in plan.inputs:
        if output_dir in Path(item.path).resolve().parents:
            raise OutputError(
                f"input file {item.path} (source {item.source!r}) is inside the output "
                f"directory {output_dir}, which a run replaces: choose another output"
            )
    for source in config.sources:
        pattern = Path(os.path.realpath(config.resolve(source.path))).parts
        # Shard names as the run writes them (a unit of this source, with and without a
        # split), then the other files of an output.
        unit_id = unit_name(source.name, "0" * FILE_TAG_CHARS, 0)
        probes = [
            *(f"shards/{shard_name(shard_prefix(unit_id, split), 0)}" for split in (None, "train")),
            "lineage/lineage.parquet",
            "quarantine.parquet",
        ]
        for probe in probes:
            if _glob_matches(pattern, (output_dir / probe).parts):
                raise OutputError(
                    f"output {output_dir} is inside the input directory of source "
                    f"{source.name!r}: its path {source.path!r} would match the output's own "
                    f"files ({probe}), so a later run would read them as input; choose an "
                    "output directory outside it"
                )
