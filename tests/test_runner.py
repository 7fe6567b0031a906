"""Library-level run pieces with the real redactor: text columns, planning, shard sizing."""

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from redactors.batch import redact_batch
from redactors.config import OutputConfig, SourceConfig
from redactors.errors import OutputError, UnitError
from redactors.io import WorkUnit, auto_unit_rows, plan_row_ranges, plan_units, read_unit
from redactors.output import commit_output
from redactors.preflight import preflight
from redactors.report import SourceStats
from redactors.shards import ShardWriter
from redactors.unit import Engines, process_unit

from .conftest import SECRET_A

BATCH = pl.DataFrame(
    {
        "id": [1, 2, 3],
        "user": ["a", "b", "c"],
        "at": [datetime(2026, 1, 1, 12)] * 3,  # naive: read as UTC
        "title": ["Call Maria", None, ""],
        "body": ["her number is (415) 867-5309", "nothing here", None],
    }
)


def source(mode: str) -> SourceConfig:
    return SourceConfig(
        name="posts",
        path="x",
        id_column="id",
        user_column="user",
        time_column="at",
        text_columns=["title", "body"],
        text_mode=mode,
    )


def test_join_mode_redacts_the_joined_text_and_skips_empty_records(redactor):
    stats = SourceStats()
    table, user_ids = redact_batch(BATCH, source("join"), redactor, stats)
    assert user_ids == ["a", "b"]
    assert table.column_names == ["record_id", "source", "text", "created_at", "pii_masked"]
    assert table["record_id"].to_pylist() == ["1", "2"]  # record 3 has no text at all
    first, second = table["text"].to_pylist()
    assert "867-5309" not in first and "\n\n" in first and second == "nothing here"
    assert table["pii_masked"].to_pylist()[1] == 0 and table["pii_masked"].to_pylist()[0] >= 1
    assert table["created_at"].to_pylist()[0] == datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert stats.skipped_empty == 1 and stats.records_out == 2
    assert stats.entities["PHONE_NUMBER"] == 1


def test_separate_mode_keeps_one_redacted_column_per_text_column(redactor):
    table, _ = redact_batch(BATCH, source("separate"), redactor, SourceStats())
    assert table.column_names == [
        "record_id",
        "source",
        "text_title",
        "text_body",
        "created_at",
        "pii_masked",
    ]
    assert table["text_title"].to_pylist()[1] is None
    assert "867-5309" not in table["text_body"].to_pylist()[0]


def test_shards_roll_over_at_the_row_limit(tmp_path, redactor):
    table, _ = redact_batch(BATCH, source("join"), redactor, SourceStats())
    writer = ShardWriter(
        tmp_path / "shards",
        "posts",
        "posts-f0000-u0000",
        table.schema,
        OutputConfig(shard_max_rows=3),
        tmp_path,
    )
    (tmp_path / "shards").mkdir()
    for _ in range(4):
        writer.write(table)
    written = writer.close()
    assert [s.rows for s in written] == [3, 3, 2]
    assert [s.path for s in written] == [
        f"shards/posts-f0000-u0000-p{i:03d}.parquet" for i in range(3)
    ]
    assert not list((tmp_path / "shards").glob(".*.tmp"))
    assert sum(pq.ParquetFile(tmp_path / s.path).metadata.num_rows for s in written) == 8


def test_row_groups_are_packed_into_units(tmp_path):
    path = tmp_path / "f.parquet"
    pl.DataFrame({"x": list(range(2300))}).write_parquet(path, row_group_size=500)
    metadata = pq.ParquetFile(path).metadata
    assert plan_row_ranges(metadata, 1000) == [
        ((0, 1), 0, 1000),
        ((2, 3), 0, 1000),
        ((4,), 0, 300),
    ]
    assert plan_row_ranges(metadata, 500) == [((i,), 0, 500) for i in range(4)] + [((4,), 0, 300)]


def test_auto_unit_rows_gives_each_file_about_16_units_of_2000_to_100000_rows(
    tmp_path, sample_config
):
    assert [auto_unit_rows(rows) for rows in (0, 500, 32_000, 40_000, 10**6, 10**8)] == [
        2_000,
        2_000,
        2_000,
        2_500,
        62_500,
        100_000,
    ]
    # From each file's own rows: a small file and a large one (one row group each).
    exports = tmp_path / "exports"
    exports.mkdir()
    messages = pl.read_parquet(sample_config.resolve(sample_config.sources[0].path))
    copies = 40_000 // messages.height + 1
    pl.concat([messages] * copies).head(40_000).write_parquet(exports / "big.parquet")
    messages.head(900).write_parquet(exports / "small.parquet")
    source = sample_config.sources[0].model_copy(update={"path": str(exports / "*.parquet")})
    config = sample_config.model_copy(
        update={
            "sources": [source],
            "runner": sample_config.runner.model_copy(update={"unit_rows": "auto"}),
        }
    )
    planned = plan_units(config).units
    rows_by_file: dict[str, list[int]] = {}
    for unit in planned:
        rows_by_file.setdefault(Path(unit.path).name, []).append(unit.rows)
    assert rows_by_file == {"big.parquet": [2_500] * 16, "small.parquet": [900]}
    # The big file alone is planned the same: other files never change a file's units.
    (exports / "small.parquet").unlink()
    assert plan_units(config).units == [u for u in planned if u.path.endswith("big.parquet")]


def test_large_row_groups_are_split_into_slices_read_exactly(tmp_path, sample_config):
    """An export with row groups far larger than unit_rows still gives many units; together
    they read every row once, in order, each under its index in the file."""
    path = tmp_path / "f.parquet"
    frame = pl.DataFrame(
        {
            "message_id": [f"m{i}" for i in range(2600)],
            "user_id": ["u"] * 2600,
            "ts": [datetime(2026, 1, 1, tzinfo=UTC)] * 2600,
            "text": [f"text {i}" for i in range(2600)],
        }
    )
    pq.write_table(frame.to_arrow(), path, row_group_size=1200)  # groups: 1200, 1200, 200
    metadata = pq.ParquetFile(path).metadata
    assert plan_row_ranges(metadata, 500) == [
        ((0,), 0, 400),
        ((0,), 400, 400),
        ((0,), 800, 400),
        ((1,), 0, 400),
        ((1,), 400, 400),
        ((1,), 800, 400),
        ((2,), 0, 200),
    ]
    source = sample_config.sources[0]
    first_row, seen = 0, []
    for groups, skip_rows, rows in plan_row_ranges(metadata, 500):
        unit = WorkUnit("u", source.name, str(path), groups, first_row, rows, skip_rows)
        for batch_first_row, batch in read_unit(unit, source, batch_rows=150):
            assert batch["text"][0] == f"text {batch_first_row}"
            seen.extend(batch["message_id"].to_list())
        first_row += rows
    assert seen == frame["message_id"].to_list()


def test_null_typed_text_column_is_treated_as_empty(redactor):
    batch = BATCH.with_columns(pl.lit(None).alias("title"))
    assert batch.schema["title"] == pl.Null
    table, _ = redact_batch(batch, source("join"), redactor, SourceStats())
    assert table["record_id"].to_pylist() == ["1", "2"]


def test_commit_swaps_in_the_new_output_and_removes_the_old(tmp_path):
    output, staging = tmp_path / "out", tmp_path / ".out.staging-r2"
    for directory, run in ((output, "r1"), (staging, "r2")):
        (directory / "shards").mkdir(parents=True)
        (directory / "manifest.json").write_text(json.dumps({"run_id": run}))
    commit_output(staging, output, "r2")
    assert json.loads((output / "manifest.json").read_text())["run_id"] == "r2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_directory_that_is_not_our_output_is_never_replaced(tmp_path, sample_config):
    foreign = tmp_path / "webapp"
    (foreign / "src").mkdir(parents=True)
    (foreign / "src" / "app.js").write_text("// not ours")
    (foreign / "manifest.json").write_text(json.dumps({"manifest_version": 1, "run_id": "x"}))
    with pytest.raises(OutputError, match="not a previous output"):
        preflight(sample_config, foreign, SECRET_A)
    assert (foreign / "src" / "app.js").exists()


def test_library_errors_inside_a_unit_do_not_carry_data(tmp_path, sample_config, monkeypatch):
    from redactors.consent import ConsentGate

    class Exploding:
        def redact(self, texts, stages=None):
            raise ValueError(f"could not parse {texts[0]!r}")

    plan = plan_units(sample_config)
    gate = ConsentGate.load(
        sample_config.consent, sample_config.resolve(sample_config.consent.registry)
    )
    (tmp_path / "shards").mkdir()
    engines = Engines(gate=gate, redactor=Exploding(), key=SECRET_A.encode())
    with pytest.raises(UnitError) as error:
        process_unit(plan.units[0], sample_config, engines, tmp_path)
    message = str(error.value)
    assert "ValueError" in message and plan.units[0].unit_id in message
    assert "could not parse" not in message
    assert not list((tmp_path / "shards").iterdir())
