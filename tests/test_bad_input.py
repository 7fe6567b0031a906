"""Bad input, case by case: each one is a clear error (naming file, column and row, never a
value) that leaves nothing behind, or documented handling (README "Bad input").

Small synthetic Parquet files in tmp_path and ``run_local`` (no Prefect). The run's
detection + masking engine is the session's (the sample config's detection and masking,
spaCy loaded once): building it per run would cost seconds and test nothing here.
"""

from __future__ import annotations

import errno
import json
import os
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from redactors.config import ConsentConfig, RunConfig, load_config
from redactors.consent import ConsentGate
from redactors.engine import TextRedactor
from redactors.errors import (
    ConfigError,
    ConsentError,
    InputError,
    OutputError,
    RedactError,
    SecretError,
    UnitError,
)
from redactors.io import WorkUnit, read_unit
from redactors.preflight import preflight
from redactors.render import render_markdown
from redactors.report import Report
from redactors.run import run_local
from redactors.state import UnitStore
from redactors.textclean import clean_text, clean_texts
from tests.test_consent import registry as consent_registry

from .conftest import SECRET_A

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
# Values that must never appear in an error message, report or quarantine file.
PLANTED_USER = "user-planted-4711"
PLANTED_TEXT = "planted-text-0815"


# ---------------------------------------------------------------------------------- helpers


def write_registry(root: Path, users: list[str], regions: list[str | None] | None = None) -> None:
    pl.DataFrame(
        {
            "user_id": users,
            "status": ["opted_in"] * len(users),
            "region": regions or ["US"] * len(users),
            "updated_at": [T0 - timedelta(days=30)] * len(users),
        },
        schema={
            "user_id": pl.String,
            "status": pl.String,
            "region": pl.String,
            "updated_at": pl.Datetime("us", "UTC"),
        },
    ).write_parquet(root / "consent.parquet")


def export_table(n: int = 3, **columns: Any) -> pa.Table:
    """A valid export of n rows (ids m0.., users a/b, times T0+i min); columns override."""
    data: dict[str, Any] = {
        "id": pa.array([f"m{i}" for i in range(n)], pa.string()),
        "user": pa.array(["a", "b"] * (n // 2) + ["a"] * (n % 2), pa.string()),
        "ts": pa.array([T0 + timedelta(minutes=i) for i in range(n)], pa.timestamp("us", "UTC")),
        "text": pa.array([f"message number {i}" for i in range(n)], pa.string()),
    }
    for name, value in columns.items():
        if value is None:
            del data[name]
        else:
            data[name] = value if isinstance(value, pa.Array) else pa.array(value)
    return pa.table(data)


def write_export(path: Path, table: pa.Table, **options: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, **options)
    return path


def make_config(
    root: Path, sample: RunConfig, path: str = "exports/*.parquet", **changes: Any
) -> RunConfig:
    """One source over ``path``; the sample's detection and masking (the session engine)."""
    source: dict[str, Any] = {
        "name": "messages",
        "path": path,
        "id_column": "id",
        "user_column": "user",
        "time_column": "ts",
        "text_columns": ["text"],
    }
    source.update(changes.pop("source", {}))
    data: dict[str, Any] = {
        "run_name": "bad-input",
        "sources": [source],
        "consent": {"registry": "consent.parquet", "mask_non_consented_mentions": False},
        "detection": sample.detection.model_dump(mode="json"),
        "masking": sample.masking.model_dump(mode="json"),
        "canaries": {"count": 0},
        "runner": {"unit_rows": 1000, "batch_rows": 1000},
        "base_dir": str(root),
    }
    for key, value in changes.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return RunConfig.model_validate(data)


def nothing_left(output: Path, units_done: bool = False) -> None:
    """No output directory and no staging directory next to it (the lock file may stay, and,
    with ``units_done``, the state store of units that finished before the failure)."""
    assert not output.exists()
    leftovers = [p.name for p in output.parent.iterdir() if p.name.startswith(f".{output.name}.")]
    allowed = {f".{output.name}.lock"} | ({f".{output.name}.state"} if units_done else set())
    assert set(leftovers) <= allowed, leftovers


def tree(output: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(output)): p.read_bytes() for p in sorted(output.rglob("*")) if p.is_file()
    }


def clean_message(error: BaseException) -> str:
    message = str(error)
    assert PLANTED_USER not in message and PLANTED_TEXT not in message, message
    return message


def shard_rows(output: Path) -> pl.DataFrame:
    files = sorted((output / "shards").glob("*.parquet"))
    return pl.concat([pl.read_parquet(f) for f in files]) if files else pl.DataFrame()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    write_registry(tmp_path, ["a", "b", PLANTED_USER])
    return tmp_path


Run = Callable[..., dict[str, Any]]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, redactor: TextRedactor, sample_config: RunConfig) -> Run:
    """run_local, with the session's engine whenever the run would build the same one."""
    build = TextRedactor.build.__func__  # type: ignore[attr-defined]

    def same_engine(
        cls: type, detection: Any, masking: Any, key: Any, mentions: Any = None, *rest: Any
    ) -> Any:
        if (detection, masking, key, mentions) == (
            sample_config.detection,
            sample_config.masking,
            SECRET_A.encode(),
            None,
        ):
            return redactor
        return build(cls, detection, masking, key, mentions, *rest)

    monkeypatch.setattr(TextRedactor, "build", classmethod(same_engine))

    def run_it(config: RunConfig, output: Path, secret: str | None = SECRET_A) -> dict[str, Any]:
        return run_local(config, "bad-input.yaml", output, secret)

    return run_it


# ------------------------------------------------------------ refused before anything runs


def test_truncated_and_empty_files_are_refused_at_preflight(root: Path, sample_config: RunConfig):
    good = write_export(root / "exports" / "a.parquet", export_table())
    data = good.read_bytes()
    cases = {"truncated": data[: len(data) // 2], "empty": b"", "not parquet": b"PAR1 garbage"}
    for name, content in cases.items():
        good.write_bytes(content)
        with pytest.raises(InputError, match="not a readable Parquet file") as error:
            preflight(make_config(root, sample_config), root / "out", SECRET_A)
        assert str(good) in str(error.value), name
    nothing_left(root / "out")


@pytest.mark.parametrize("column", ["id", "user", "ts", "text"])
def test_a_missing_column_is_named_with_the_file(root: Path, sample_config: RunConfig, column):
    path = write_export(root / "exports" / "a.parquet", export_table(**{column: None}))
    with pytest.raises(InputError) as error:
        preflight(make_config(root, sample_config), root / "out", SECRET_A)
    message = clean_message(error.value)
    assert str(path) in message and f"missing column(s) [{column!r}]" in message
    nothing_left(root / "out")


WRONG_TYPES = {
    "int text": ("text", pa.array([1, 2, 3]), "int64"),
    # binary is refused by type, so bytes that are not UTF-8 never get near detection
    "binary text (invalid UTF-8)": ("text", pa.array([b"ok", b"caf\xe9", b"\xff\xfe"]), "binary"),
    "list text": ("text", pa.array([[PLANTED_TEXT], ["b"], []]), "list"),
    "float id": ("id", pa.array([1.0, 2.0, 3.0]), "double"),
    "struct user": ("user", pa.array([{"id": PLANTED_USER}] * 3), "struct"),
    "string time": ("ts", pa.array(["2026-03-01T09:30:00Z"] * 3), "string"),
    "int time": ("ts", pa.array([1, 2, 3]), "int64"),
}


@pytest.mark.parametrize("case", sorted(WRONG_TYPES))
def test_wrong_column_types_are_refused_with_file_column_and_type(
    root: Path, sample_config: RunConfig, case: str
):
    column, values, type_name = WRONG_TYPES[case]
    path = write_export(root / "exports" / "a.parquet", export_table(**{column: values}))
    with pytest.raises(InputError) as error:
        preflight(make_config(root, sample_config), root / "out", SECRET_A)
    message = clean_message(error.value)
    assert str(path) in message and f"column {column!r}" in message and type_name in message
    nothing_left(root / "out")


def test_a_glob_matching_no_file_is_an_error(root: Path, sample_config: RunConfig):
    config = make_config(root, sample_config, path="exports/2026-*/msgs-*.parquet")
    with pytest.raises(InputError, match=r"source 'messages': no file matches .*msgs-\*\.parquet"):
        preflight(config, root / "out", SECRET_A)
    nothing_left(root / "out")


def test_an_output_the_inputs_would_read_back_is_refused(root: Path, sample_config: RunConfig):
    write_export(root / "exports" / "2026-03" / "a.parquet", export_table())
    recursive = make_config(root, sample_config, path="exports/**/*.parquet")
    with pytest.raises(OutputError, match="inside the input directory of source 'messages'"):
        preflight(recursive, root / "exports" / "redacted", SECRET_A)
    nothing_left(root / "exports" / "redacted")
    # a pattern that matches only this pipeline's shard names (source-<10-char tag>-u...)
    write_export(
        root / "exports" / "2026-03" / "messages-0a1b2c3d4e-u0000-p000.parquet", export_table()
    )
    shard_like = make_config(
        root, sample_config, path="exports/**/messages-??????????-u[0-9]*-p[0-9]*.parquet"
    )
    with pytest.raises(OutputError, match="inside the input directory of source 'messages'"):
        preflight(shard_like, root / "exports" / "redacted", SECRET_A)
    # next to the inputs, where the pattern cannot reach, is fine
    flat = make_config(root, sample_config, path="exports/2026-03/*.parquet")
    assert preflight(flat, root / "exports" / "redacted", SECRET_A).plan.units
    # an input file inside the output directory (which a run replaces) is refused
    inside = make_config(root, sample_config, path="out/*.parquet")
    write_export(root / "out" / "a.parquet", export_table())
    with pytest.raises(OutputError, match="is inside the output directory"):
        preflight(inside, root / "out", SECRET_A)


@pytest.fixture
def read_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], None]]:
    """Make a directory read-only; as root (who writes anyway), also make os.access say so,
    which is what the checks ask."""
    locked: list[Path] = []
    access = os.access

    def fake_access(path: Any, mode: int, **kwargs: Any) -> bool:
        if mode & os.W_OK and Path(path).resolve() in locked:
            return False
        return access(path, mode, **kwargs)

    if os.geteuid() == 0:
        monkeypatch.setattr(os, "access", fake_access)

    def lock(directory: Path) -> None:
        directory.chmod(0o555)
        locked.append(directory.resolve())

    yield lock
    for directory in locked:
        directory.chmod(0o755)


def test_an_output_location_that_is_not_writable_is_refused(
    root: Path, sample_config: RunConfig, run: Run, read_only: Callable[[Path], None]
):
    write_export(root / "exports" / "a.parquet", export_table())
    config = make_config(root, sample_config)
    # the output's parent (where staging happens) is read-only
    parent = root / "readonly"
    parent.mkdir()
    read_only(parent)
    with pytest.raises(OutputError, match="cannot write to"):
        run(config, parent / "out")
    assert not (parent / "out").exists() and not list(parent.glob(".out.staging-*"))
    # a previous output with a read-only directory in it: the swap would work, the clean-up
    # of the old output would not; refused before any work
    output = root / "out"
    run(config, output)
    before = tree(output)
    read_only(output / "shards")
    with pytest.raises(OutputError, match=r"cannot replace .*shards is not writable"):
        run(config, output)
    assert tree(output) == before and not list(root.glob(".out.staging-*"))


def test_unknown_entity_or_operator_in_the_config_names_the_key(
    root: Path, sample_config: RunConfig
):
    write_export(root / "exports" / "a.parquet", export_table())
    base = make_config(root, sample_config).model_dump(mode="json", exclude={"base_dir"})
    entities = base["detection"]["entities"]
    cases = {
        "entity": (
            {"detection": {**base["detection"], "entities": [*entities, "PERSN"]}},
            "detection.entities: unknown entity name(s): 'PERSN' (did you mean 'PERSON'?)",
        ),
        "entity the countries leave out": (
            {"detection": {**base["detection"], "entities": [*entities, "UK_NHS"]}},
            None,
        ),
        "operator type": (
            {"masking": {"operators": {"PERSON": {"type": "scramble"}}}},
            "masking.operators.PERSON",
        ),
        "operator of an unknown entity": (
            {"masking": {"operators": {"PERSN": {"type": "tag"}}}},
            "masking.operators: unknown entity name(s): 'PERSN' (did you mean 'PERSON'?)",
        ),
    }
    for name, (change, key) in cases.items():
        path = root / f"{name.replace(' ', '-')}.yaml"
        path.write_text(yaml.safe_dump({**base, **change}))
        if key is not None:  # refused while loading
            with pytest.raises(ConfigError, match=re.escape(key)):
                load_config(path)
        else:  # known only to Presidio: refused at preflight
            with pytest.raises(ConfigError, match=r"detection.entities: unknown .*'UK_NHS'"):
                preflight(load_config(path), root / "out", SECRET_A)
    nothing_left(root / "out")


def test_a_secret_set_but_empty_is_refused_when_one_is_needed(root: Path, sample_config: RunConfig):
    write_export(root / "exports" / "a.parquet", export_table())
    with pytest.raises(SecretError, match=r"REDACT_SECRET is too short \(0 bytes"):
        preflight(make_config(root, sample_config), root / "out", "")
    # a run that needs no secret (tag operators only, no lineage) ignores it
    keyless = make_config(
        root,
        sample_config,
        masking={"default_operator": {"type": "tag"}, "operators": {}},
        output={"lineage": False},
    )
    assert preflight(keyless, root / "out", "").secret_fingerprint is None
    nothing_left(root / "out")


def test_registry_with_a_user_in_two_regions(tmp_path: Path):
    def gate(rows: list[tuple[str, str, datetime]]) -> ConsentGate:
        path = consent_registry(tmp_path, [(u, "opted_in", r, at) for u, r, at in rows])
        return ConsentGate.load(ConsentConfig(registry=path.name, excluded_regions=["DE"]), path)

    # at different times: the latest row wins (moved to DE: excluded; moved away: kept)
    later = T0 + timedelta(days=1)
    moved = gate([("a", "US", T0), ("a", "DE", later), ("b", "DE", T0), ("b", "US", later)])
    assert moved.reasons(pl.Series(["a", "b"])).to_list() == ["region_excluded", ""]
    # at the same time: ambiguous, refused with the row
    with pytest.raises(ConsentError, match=r"same updated_at \(first at row 1\)") as error:
        gate([("x", "US", T0), ("a", "US", T0), ("a", "DE", T0)])
    assert "'a'" not in str(error.value)


# -------------------------------------------------------------------- handled in the run


def export_with_corrupt_row_group_2(root: Path) -> Path:
    """400 rows in row groups of 100; the "text" data of row group 2 scrambled."""
    path = write_export(
        root / "exports" / "a.parquet",
        export_table(400),
        row_group_size=100,
        compression="zstd",
        use_dictionary=False,
    )
    metadata = pq.ParquetFile(path).metadata
    text_chunk = metadata.row_group(2).column(3)  # row group 2, column "text"
    data = bytearray(path.read_bytes())
    start = text_chunk.data_page_offset
    for i in range(start + 20, start + text_chunk.total_compressed_size - 8):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    return path


def test_corrupt_data_read_by_a_slice_is_named_by_its_row_group(
    root: Path, sample_config: RunConfig
):
    """A unit that is the second half of row group 2 names the row group's rows."""
    path = export_with_corrupt_row_group_2(root)
    source = make_config(root, sample_config).sources[0]
    unit = WorkUnit("u", source.name, str(path), (2,), first_row=250, rows=50, skip_rows=50)
    with pytest.raises(InputError) as error:
        list(read_unit(unit, source, batch_rows=20))
    message = clean_message(error.value)
    assert str(path) in message and "column 'text'" in message
    assert "row group 2 (rows 200..299)" in message and "corrupt" in message


@pytest.mark.parametrize("unit_rows", [1000, 30], ids=["whole-row-groups", "slices"])
def test_corrupt_data_in_a_readable_file_names_file_column_and_rows(
    root: Path, sample_config: RunConfig, run: Run, unit_rows: int
):
    path = export_with_corrupt_row_group_2(root)
    output = root / "out"
    config = make_config(root, sample_config, runner={"unit_rows": unit_rows, "batch_rows": 20})
    with pytest.raises(InputError) as error:
        run(config, output)
    message = clean_message(error.value)
    assert str(path) in message and "column 'text'" in message
    assert "row group 2 (rows 200..299)" in message and "corrupt" in message
    nothing_left(output, units_done=unit_rows < 100)


def test_a_file_with_zero_rows_gives_an_empty_output(
    root: Path, sample_config: RunConfig, run: Run
):
    write_export(root / "exports" / "a.parquet", export_table(0))
    report = run(make_config(root, sample_config), root / "out")
    assert report["totals"]["records_in"] == 0 and report["shards"]["count"] == 0
    manifest = json.loads((root / "out" / "manifest.json").read_text())
    assert manifest["inputs"][0]["rows"] == 0 and manifest["shards"] == []
    assert manifest["quarantine"] is None and not (root / "out" / "quarantine.parquet").exists()


def test_null_and_empty_texts_are_skipped_and_counted(
    root: Path, sample_config: RunConfig, run: Run
):
    texts = pa.array([None, "", "   ", "hello there"], pa.string())
    write_export(root / "exports" / "a.parquet", export_table(4, text=texts))
    report = run(make_config(root, sample_config), root / "out")
    # whitespace is text: it goes through (detection finds nothing in it)
    assert report["totals"]["records_skipped_empty"] == 2
    assert shard_rows(root / "out")["record_id"].to_list() == ["m2", "m3"]


BAD_ROWS = {  # row -> (column, value, reason)
    1: ("id", None, "null_record_id"),
    2: ("user", None, "null_user_id"),
    3: ("ts", None, "null_timestamp"),
    4: ("ts", 10**17, "invalid_timestamp"),  # ms: year ~3.2 million (polars used to panic)
    5: ("ts", -(10**17), "invalid_timestamp"),
    6: ("text", b"caf\xe9 " + PLANTED_TEXT.encode(), "invalid_utf8"),  # polars used to panic
    7: ("id", b"m\xff7", "invalid_utf8"),
}


def bad_rows_table(n: int = 10) -> pa.Table:
    """n rows; the rows of BAD_ROWS broken. Time in milliseconds (as exports often are)."""
    ids: list[Any] = [f"m{i}".encode() for i in range(n)]
    users: list[Any] = [PLANTED_USER if i in BAD_ROWS else "a" for i in range(n)]
    times: list[Any] = [int((T0 + timedelta(minutes=i)).timestamp() * 1000) for i in range(n)]
    texts: list[Any] = [f"row {i} {PLANTED_TEXT}".encode() for i in range(n)]
    columns = {"id": ids, "user": users, "ts": times, "text": texts}
    for row, (column, value, _) in BAD_ROWS.items():
        columns[column][row] = value
    as_text = pa.binary()
    return pa.table(
        {
            "id": pa.array(ids, as_text).view(pa.string()),  # bytes as they are, unchecked
            "user": pa.array(users, pa.string()),
            "ts": pa.array(times, pa.timestamp("ms", "UTC")),
            "text": pa.array(texts, as_text).view(pa.string()),
        }
    )


def test_bad_rows_are_quarantined_counted_and_never_passed_on(
    root: Path, sample_config: RunConfig, run: Run
):
    path = write_export(root / "exports" / "a.parquet", bad_rows_table(10))
    output = root / "out"
    # 7 of 10 rows are bad: far above the quarantine gate, which this test is not about
    gates = {"max_quarantine_rate": 1.0}
    config = make_config(root, sample_config, output={"dedup": "none"}, gates=gates)
    report = run(config, output)

    expected = {"null_record_id": 1, "null_user_id": 1, "null_timestamp": 1}
    expected |= {"invalid_timestamp": 2, "invalid_utf8": 2}
    totals = report["totals"]
    assert totals["quarantined_by_reason"] == expected and totals["records_quarantined"] == 7
    assert report["sources"]["messages"]["quarantined_by_reason"] == expected
    assert totals["records_in"] == 10 and totals["records_out"] == 3
    assert (
        totals["records_out"]
        + totals["records_quarantined"]
        + totals["records_dropped"]
        + totals["records_skipped_empty"]
        + totals["records_deduplicated"]
        == totals["records_in"]
    )
    assert shard_rows(output)["record_id"].to_list() == ["m0", "m8", "m9"]
    assert totals["dropped_by_reason"]["missing_user_id"] == 0  # quarantined before consent

    quarantine = pl.read_parquet(output / "quarantine.parquet")
    assert quarantine.columns == ["source", "file", "row", "record_id", "reason"]
    assert quarantine.rows() == [
        ("messages", str(path), row, None if row in (1, 7) else f"m{row}", reason)
        for row, (_, _, reason) in sorted(BAD_ROWS.items())
    ]
    manifest = json.loads((output / "manifest.json").read_text())
    assert manifest["quarantine"]["rows"] == 7
    # no text, no user id anywhere in what the run wrote (lineage holds keyed hashes)
    for name, content in tree(output).items():
        assert PLANTED_USER.encode() not in content, name
        assert PLANTED_TEXT.encode() not in content or name.startswith("shards/"), name
    assert all(PLANTED_TEXT in text for text in shard_rows(output)["text"])  # good rows kept it

    html = (output / "report.html").read_text()
    assert "<h2>Quarantine</h2>" in html and "invalid_timestamp" in html
    markdown = render_markdown(Report.model_validate(report))
    assert "**7 input row(s) quarantined**" in markdown and "| invalid_utf8 | 2 |" in markdown
    # the file can be switched off; the counts stay
    quiet = make_config(
        root, sample_config, output={"dedup": "none", "quarantine_file": False}, gates=gates
    )
    assert run(quiet, root / "quiet")["totals"]["records_quarantined"] == 7
    assert not (root / "quiet" / "quarantine.parquet").exists()


def test_bad_rows_fail_the_run_under_on_bad_record_fail(
    root: Path, sample_config: RunConfig, run: Run
):
    path = write_export(root / "exports" / "a.parquet", export_table(6))
    output = root / "out"
    strict = make_config(root, sample_config, source={"on_bad_record": "fail"})
    run(strict, output)
    before = tree(output)
    for row, (column, _, reason) in BAD_ROWS.items():
        table = bad_rows_table(10)
        # only this row broken: take the good rows and this one
        keep = [i for i in range(10) if i not in BAD_ROWS or i == row]
        write_export(path, table.take(keep))
        with pytest.raises(InputError) as error:
            run(strict, output)
        message = clean_message(error.value)
        index = keep.index(row)
        assert f"{path}: column {column!r}" in message and f"at row {index} " in message, reason
        assert "on_bad_record: fail" in message
        assert tree(output) == before and not list(root.glob(".out.staging-*"))
    # the message of the old null-id check is kept
    write_export(path, bad_rows_table(10).take([0, 1]))
    with pytest.raises(InputError, match=r"column 'id' is null at row 1 \(1 bad row"):
        run(strict, output)


def test_invisible_characters_inside_pii_do_not_hide_it(
    root: Path, sample_config: RunConfig, run: Run
):
    texts = [
        "mail john\u200d.smith@acme.com today",  # zero-width joiner
        "mail jo\u00adhn@acme.com today",  # soft hyphen
        "mail bob\x00@acme.com today",  # NUL
        "call 415\u200b-867-\u20605309 now",  # zero-width space, word joiner
        "ssn 536-\u200c90-4399 please",  # zero-width non-joiner
        "bell\x07 and form\x0cfeed",
        "👨\u200d👩\u200d👧 family emoji stays",  # ZWJ between emoji: kept
        "שלום, dani@acme.com כתובת \u200fשלי 🙂",  # right-to-left, RLM, emoji
        "مرحبا 👋🏽 بكم",  # Arabic, emoji with skin tone
    ]
    n = len(texts)
    write_export(root / "exports" / "a.parquet", export_table(n, text=pa.array(texts)))
    run(make_config(root, sample_config, output={"dedup": "none"}), root / "out")
    out = dict(shard_rows(root / "out").select("record_id", "text").rows())
    assert set(out) == {f"m{i}" for i in range(n)}
    leaks = {
        "m0": ["john", "smith", "acme.com"],
        "m1": ["jo\u00adhn", "john", "acme.com"],
        "m2": ["bob", "acme.com"],
        "m3": ["415", "867", "5309"],
        "m4": ["536", "90", "4399"],
        "m7": ["dani", "acme.com"],
    }
    for record, parts in leaks.items():
        assert not [part for part in parts if part in out[record]], out[record]
    assert out["m5"] == "bell and form feed"
    assert out["m6"] == texts[6]  # emoji sequence untouched
    # right-to-left text and emoji go through; the English model may over-mask words of
    # other scripts (a surrogate instead of a Hebrew word), never the other way round
    assert out["m7"].startswith("שלום, ") and out["m8"].startswith("مرحبا")


def test_text_cleaning_keeps_what_carries_meaning():
    assert clean_text("jo\u00adhn\u200b@acme\u2060.com") == "john@acme.com"
    assert clean_text("a\x00b\x1bc\td\ne\rf\x0bg\x85h") == "abc\td\ne\rf g h"
    kept = [
        "👨\u200d👩\u200d👧",  # family: ZWJ between emoji
        "می\u200cخواهم",  # Persian: ZWNJ between Arabic letters
        "שלום \u200fdani",  # RLM after a space
        "x \u200b y",  # zero-width space next to spaces: harmless
    ]
    assert [clean_text(text) for text in kept] == kept
    assert clean_texts(pl.Series(["ok", None, "a\u200db"])).to_list() == ["ok", None, "ab"]


def test_duplicate_record_ids_are_kept_and_only_identical_texts_deduplicated(
    root: Path, sample_config: RunConfig, run: Run
):
    same = pa.array(["m1", "m1", "m2"])
    write_export(root / "exports" / "a.parquet", export_table(3, id=same, text=["x", "y", "z"]))
    write_export(root / "exports" / "b.parquet", export_table(3, id=same, text=["x", "y", "w"]))
    report = run(make_config(root, sample_config), root / "out")
    rows = shard_rows(root / "out").select("record_id", "text").rows()
    # ids are carried, not keys: both m1 of a.parquet are written; b.parquet's copies of the
    # same texts are exact duplicates (the first copy is kept), its new text is written
    assert rows == [("m1", "x"), ("m1", "y"), ("m2", "z"), ("m2", "w")]
    assert report["totals"]["records_deduplicated"] == 2


def test_times_in_any_zone_unit_or_date_become_utc_microseconds(
    root: Path, sample_config: RunConfig, run: Run
):
    instant = datetime(2026, 3, 1, 14, 30, tzinfo=UTC)
    files = {
        "a-utc": pa.array([instant], pa.timestamp("us", "UTC")),
        "b-new-york": pa.array([instant], pa.timestamp("ms", "America/New_York")),
        "c-tokyo-ns": pa.array([instant], pa.timestamp("ns", "Asia/Tokyo")),
        "d-naive": pa.array([instant.replace(tzinfo=None)], pa.timestamp("us")),  # read as UTC
        "e-date": pa.array([date(2026, 3, 1)], pa.date32()),
        "f-edge": pa.array([datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59)], pa.timestamp("us")),
    }
    for name, times in files.items():
        n = len(times)
        table = export_table(n, id=[f"{name}-{i}" for i in range(n)], ts=times)
        write_export(root / "exports" / f"{name}.parquet", table)
    run(make_config(root, sample_config, output={"dedup": "none"}), root / "out")
    created = dict(shard_rows(root / "out").select("record_id", "created_at").rows())
    assert {created[f"{n}-0"] for n in ("a-utc", "b-new-york", "c-tokyo-ns", "d-naive")} == {
        instant
    }
    assert created["e-date-0"] == datetime(2026, 3, 1, tzinfo=UTC)
    assert created["f-edge-0"].year == 1 and created["f-edge-1"].year == 9999


def test_users_missing_from_the_registry_are_dropped_under_opt_in(
    root: Path, sample_config: RunConfig, run: Run
):
    users = pa.array(["a", "stranger", "b", "stranger"])
    write_export(root / "exports" / "a.parquet", export_table(4, user=users))
    report = run(make_config(root, sample_config), root / "out")
    assert report["totals"]["dropped_by_reason"]["not_in_registry"] == 2
    assert shard_rows(root / "out")["record_id"].to_list() == ["m0", "m2"]


def test_disk_full_at_any_write_leaves_the_previous_output_intact(
    root: Path, sample_config: RunConfig, run: Run, monkeypatch: pytest.MonkeyPatch
):
    write_export(root / "exports" / "a.parquet", export_table(40), row_group_size=10)
    output = root / "out"
    # four units, lineage, dedup and quarantine files: many Parquet writes
    config = make_config(root, sample_config, runner={"unit_rows": 10, "batch_rows": 5})
    write_table = pq.ParquetWriter.write_table
    calls = {"count": 0, "fail_at": 0}

    def write_or_fail(self: pq.ParquetWriter, table: pa.Table, *args: Any, **kwargs: Any) -> None:
        calls["count"] += 1
        if calls["count"] == calls["fail_at"]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        write_table(self, table, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", write_or_fail)
    UnitStore.for_output(output.resolve()).clear()
    run(config, output)  # counts the writes of a whole run
    writes = calls["count"]
    before = tree(output)
    assert writes >= 10
    failed_in = set()
    for fail_at in range(1, writes + 1):
        calls["count"], calls["fail_at"] = 0, fail_at
        # Units a failed attempt finished would be reused (fewer writes): start from none.
        UnitStore.for_output(output.resolve()).clear()
        with pytest.raises(OutputError) as error:  # never a bare OSError
            run(config, output)
        assert "No space left on device" in str(error.value)
        in_unit = re.search(r"work unit messages-\S+-u\d{4}: No space", str(error.value))
        failed_in.add("unit" if in_unit else "finalize")
        assert tree(output) == before
        assert not list(root.glob(".out.staging-*")) and not list(root.glob(".out.previous-*"))
    assert failed_in == {"unit", "finalize"}


@pytest.mark.heavy  # minutes: not in `make test`; `make test-heavy` runs it
def test_a_five_megabyte_text_is_redacted_whole(root: Path, sample_config: RunConfig, run: Run):
    """Five times spaCy's max_length in one cell: analyzed in overlapping windows, written
    whole, every planted email masked. (tests/test_longtext.py covers the same path in CI
    with a 1.26M-character text.)"""
    line = "lorem ipsum dolor sit amet " * 40 + "write to bob.jones@acme.com\n"
    big = line * (5_000_000 // len(line) + 1)
    texts = pa.array(["short one", big, "short two"])
    write_export(root / "exports" / "a.parquet", export_table(3, text=texts))
    output = root / "out"
    report = run(make_config(root, sample_config), output)
    texts_out = shard_rows(output)["text"].to_list()
    assert len(texts_out) == 3
    assert not [t for t in texts_out if "bob.jones@acme.com" in t]
    assert report["totals"]["entities"]["EMAIL_ADDRESS"]["count"] == big.count("bob.jones")
    assert len(max(texts_out, key=len)) > 4_900_000


def test_every_bad_input_error_is_a_redact_error():
    """The CLI prints RedactErrors without a traceback: every error above is one."""
    for error in (InputError, OutputError, ConfigError, ConsentError, SecretError, UnitError):
        assert issubclass(error, RedactError)
