"""The first five minutes of a new user, as the CLI answers them: every bad input is one
clean line (`error: ...` naming the key, file, column or row), exit code 2, no traceback,
in under 3 s, before any Prefect server starts, with nothing written.

Real `redact` subprocesses on a private copy of the sample (configs/ + data/sample/)."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from .conftest import SECRET_A

REDACT = str(Path(sys.executable).parent / "redact")
# The budget for an error found before any work, in CPU seconds of the command (what
# it costs on an idle machine); wall time may stretch by how oversubscribed this machine is
# (other test processes or sessions sharing its cores).
BUDGET_S = 3.0


def wall_budget() -> float:
    return BUDGET_S * max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))


def assert_fast(cpu: float, wall: float, name: str = "") -> None:
    assert cpu < BUDGET_S, f"{name}: {cpu:.2f} CPU s"
    assert wall < wall_budget(), f"{name}: {wall:.2f} s (load {os.getloadavg()[0]:.1f})"


def env_for(home: Path, secret: str | None = SECRET_A) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "REDACT_"))}
    env.update(PREFECT_HOME=str(home / "prefect-home"), DO_NOT_TRACK="1")
    if secret is not None:
        env["REDACT_SECRET"] = secret
    return env


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def redact(
    *args: str, home: Path, secret: str | None = SECRET_A, timeout: int = 120
) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """The CLI's result, CPU seconds and wall seconds."""
    started, cpu = time.perf_counter(), _children_cpu()
    result = subprocess.run(
        [REDACT, *args],
        capture_output=True,
        text=True,
        env=env_for(home, secret),
        timeout=timeout,
    )
    return result, _children_cpu() - cpu, time.perf_counter() - started


def assert_clean_error(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert lines and lines[0].startswith("error: "), result.stderr
    for text in expected:
        assert text in result.stderr, (text, result.stderr)


def _data(config: Path) -> dict:
    return yaml.safe_load(config.read_text())


def _save(config: Path, data: dict) -> None:
    config.write_text(yaml.safe_dump(data))


def _messages(config: Path) -> Path:
    return config.parent.parent / "data" / "sample" / "messages.parquet"


def _rewrite_messages(config: Path, change: Callable[[pa.Table], pa.Table]) -> None:
    path = _messages(config)
    pq.write_table(change(pq.read_table(path)), path)


# Each case: (name, how to break the copy, what the error line must name, secret).
def _unknown_key(c: Path) -> None:
    c.write_text(c.read_text().replace("  policy: opt_in", "  polcy: opt_in", 1))


def _bad_yaml(c: Path) -> None:
    c.write_text("sources: [unclosed\n")


def _entity_typo(c: Path) -> None:
    data = _data(c)
    data["detection"]["entities"][1] = "EMAIL_ADRESS"
    data["masking"]["operators"]["EMAIL_ADDRESS"] = {"type": "pseudonym"}
    _save(c, data)


def _no_such_model(c: Path) -> None:
    data = _data(c)
    data["detection"]["spacy_model"] = "en_core_web_nope"
    _save(c, data)


def _entity_left_out_by_countries(c: Path) -> None:
    data = _data(c)
    data["detection"]["entities"].append("UK_NHS")
    _save(c, data)


def _missing_input(c: Path) -> None:
    _messages(c).unlink()


def _missing_column(c: Path) -> None:
    _rewrite_messages(c, lambda t: t.drop_columns(["text"]))


def _wrong_column_type(c: Path) -> None:
    _rewrite_messages(
        c, lambda t: t.set_column(t.schema.get_field_index("ts"), "ts", pa.array(["x"] * len(t)))
    )


def _truncated(c: Path) -> None:
    path = _messages(c)
    path.write_bytes(path.read_bytes()[:1000])


def _zero_bytes(c: Path) -> None:
    _messages(c).write_bytes(b"")


def _not_parquet(c: Path) -> None:
    _messages(c).write_text("message_id,user_id,ts,text\n1,u1,2026-01-01,hello\n")


def _registry_missing(c: Path) -> None:
    (c.parent.parent / "data" / "sample" / "consent.parquet").unlink()


def _registry_bad_rows(c: Path) -> None:
    path = c.parent.parent / "data" / "sample" / "consent.parquet"
    table = pq.read_table(path)
    first = table.slice(0, 1)
    region = first.schema.get_field_index("region")
    moved = first.set_column(region, "region", pa.array(["CA"], first.schema.field(region).type))
    pq.write_table(pa.concat_tables([table, moved]), path)  # one user, two regions, same time


def _registry_missing_column(c: Path) -> None:
    path = c.parent.parent / "data" / "sample" / "consent.parquet"
    pq.write_table(pq.read_table(path).drop_columns(["status"]), path)


def _nothing(c: Path) -> None:
    pass


CASES: list[tuple[str, Callable[[Path], None], tuple[str, ...], str | None]] = [
    ("unknown config key", _unknown_key, ("consent.polcy: unknown key",), SECRET_A),
    ("config not YAML", _bad_yaml, ("not valid YAML",), SECRET_A),
    (
        "entity typo",
        _entity_typo,
        ("detection.entities", "'EMAIL_ADRESS'", "did you mean 'EMAIL_ADDRESS'?"),
        SECRET_A,
    ),
    ("model not installed", _no_such_model, ("en_core_web_nope",), SECRET_A),
    ("entity outside countries", _entity_left_out_by_countries, ("UK_NHS",), SECRET_A),
    ("input file missing", _missing_input, ("source 'messages'", "no file matches"), SECRET_A),
    ("column missing", _missing_column, ("messages.parquet", "'text'"), SECRET_A),
    ("column type", _wrong_column_type, ("messages.parquet", "'ts'", "expected"), SECRET_A),
    ("truncated file", _truncated, ("messages.parquet", "not a readable Parquet"), SECRET_A),
    ("0-byte file", _zero_bytes, ("messages.parquet", "not a readable Parquet"), SECRET_A),
    ("not Parquet", _not_parquet, ("messages.parquet", "not a readable Parquet"), SECRET_A),
    ("registry missing", _registry_missing, ("consent.parquet",), SECRET_A),
    ("registry duplicate rows", _registry_bad_rows, ("row",), SECRET_A),
    ("registry column missing", _registry_missing_column, ("status",), SECRET_A),
    ("secret unset", _nothing, ("REDACT_SECRET is not set",), None),
    ("secret of spaces", _nothing, ("REDACT_SECRET is too short",), " " * 15 + "x"),
    ("secret without variety", _nothing, ("too little variety",), "x" * 20),
]


@pytest.mark.parametrize(
    ("name", "breaks", "expected", "secret"), CASES, ids=[case[0] for case in CASES]
)
def test_bad_input_is_one_clean_line_fast_and_before_prefect(
    sample_copy: Path,
    tmp_path: Path,
    name: str,
    breaks: Callable[[Path], None],
    expected: tuple[str, ...],
    secret: str | None,
):
    breaks(sample_copy)
    output = tmp_path / "out"
    result, cpu, wall = redact(
        "run", "--config", str(sample_copy), "--output", str(output), home=tmp_path, secret=secret
    )
    assert_clean_error(result, *expected)
    assert len(result.stderr.strip().splitlines()) <= 2  # one line (a config error: + its key)
    assert_fast(cpu, wall, name)
    assert not output.exists() and not list(tmp_path.glob(".out.*"))  # nothing written
    assert not (tmp_path / "prefect-home").exists()  # no Prefect server was started
    for line in result.stderr.splitlines():  # never a value of the data or the secret
        assert SECRET_A not in line


def _output_cases(tmp_path: Path) -> list[tuple[str, Path, str]]:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("someone's files")
    return [
        ("output is a file", a_file, "exists and is not a directory"),
        ("output is a foreign directory", foreign, "not a previous output"),
        ("a file in the way", a_file / "out", "is a file, not a directory"),
        ("output under /proc", Path("/proc/redact-out"), "not on a disk file system"),
        ("output under /sys", Path("/sys/redact/out"), "cannot write to /sys"),
    ]


def test_impossible_output_locations_are_one_clean_line(sample_copy: Path, tmp_path: Path):
    for name, output, expected in _output_cases(tmp_path):
        before = sorted(p.name for p in tmp_path.iterdir())
        result, cpu, wall = redact(
            "run", "--config", str(sample_copy), "--output", str(output), home=tmp_path
        )
        assert_clean_error(result, expected)
        assert_fast(cpu, wall, name)
        assert sorted(p.name for p in tmp_path.iterdir()) == before, name  # nothing written


def test_no_output_directory_anywhere_is_named(sample_copy: Path, tmp_path: Path):
    data = _data(sample_copy)
    data["output"].pop("directory")
    _save(sample_copy, data)
    result, _, _ = redact("run", "--config", str(sample_copy), home=tmp_path)
    assert_clean_error(result, "output.directory", "--output")


def test_check_prints_units_rows_and_an_estimate(sample_copy: Path, tmp_path: Path):
    output = tmp_path / "out"
    result, cpu, wall = redact(
        "check", "--config", str(sample_copy), "--output", str(output), home=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "units:    4 work unit(s)" in result.stdout
    assert "3000 rows" in result.stdout
    assert "estimate: about" in result.stdout
    assert not output.exists() and not list(tmp_path.glob(".out.*"))  # writes nothing
    assert not (tmp_path / "prefect-home").exists()
    assert_fast(cpu, wall, "check")
    _missing_column(sample_copy)
    result, _, _ = redact("check", "--config", str(sample_copy), "-o", str(output), home=tmp_path)
    assert_clean_error(result, "'text'")


def test_version_and_help_read_well(tmp_path: Path):
    result, cpu, wall = redact("--version", home=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("redact (pii-redact) ")
    assert_fast(cpu, wall, "--version")
    result, _, _ = redact("--help", home=tmp_path)
    assert result.returncode == 0
    commands = result.stdout.split("Commands:")[1]
    # no sentence cut off ("...") in the command list, no rich boxes
    assert "..." not in commands and "─" not in result.stdout
    for command in ("run", "check", "serve", "report", "forget", "eval"):
        assert f"  {command} " in commands


def test_importing_the_cli_loads_neither_prefect_nor_presidio():
    code = (
        "import sys, pipelines.cli; "
        "print(sorted(m for m in ('prefect', 'presidio_analyzer', 'spacy', 'polars') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


def _can(command: list[str]) -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-m", *command], capture_output=True)
    return probe.returncode == 0


def _in_private_mounts(script: str, *args: str, home: Path, timeout: int = 600):
    """``script`` (mount commands) then the CLI, in a private mount namespace."""
    started, cpu = time.perf_counter(), _children_cpu()
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", f'{script} && exec "$0" "$@"', REDACT, *args],
        capture_output=True,
        text=True,
        env=env_for(home),
        timeout=timeout,
    )
    return result, _children_cpu() - cpu, time.perf_counter() - started


@pytest.mark.skipif(
    not _can(["sh", "-c", "mount --bind /tmp /tmp && mount -o remount,ro,bind /tmp"]),
    reason="needs root and mount namespaces (unshare -m, bind mounts)",
)
def test_a_read_only_mount_is_refused_before_prefect(sample_copy: Path, tmp_path: Path):
    target = tmp_path / "ro"
    target.mkdir()
    script = f"mount --bind {target} {target} && mount -o remount,ro,bind {target}"
    for output in (target / "out", target / "deeper" / "out"):
        result, cpu, wall = _in_private_mounts(
            script, "run", "--config", str(sample_copy), "--output", str(output), home=tmp_path
        )
        assert_clean_error(result, "read-only")
        assert_fast(cpu, wall, str(output))
    assert not (tmp_path / "prefect-home").exists()


@pytest.mark.skipif(
    not _can(["sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"]),
    reason="needs root and mount namespaces (unshare -m, tmpfs)",
)
def test_a_full_disk_is_one_clean_line(sample_copy: Path, tmp_path: Path):
    target = tmp_path / "full"
    target.mkdir()
    # full before the run: refused at preflight
    script = (
        f"mount -t tmpfs -o size=2m tmpfs {target} && "
        f"dd if=/dev/zero of={target}/filler bs=64k count=64 2>/dev/null; true"
    )
    result, cpu, wall = _in_private_mounts(
        script, "run", "--config", str(sample_copy), "--output", str(target / "out"),
        home=tmp_path,
    )
    assert_clean_error(result, "disk is full")
    assert_fast(cpu, wall, "full disk")


@pytest.mark.slow
@pytest.mark.skipif(
    not _can(["sh", "-c", "mount -t tmpfs -o size=4m,nr_inodes=8 tmpfs /mnt"]),
    reason="needs root and mount namespaces (unshare -m, tmpfs)",
)
def test_a_disk_that_fills_during_the_run_is_one_clean_line(sample_copy: Path, tmp_path: Path):
    """Space left but (almost) no inodes: the lock and staging directory fit, the shards
    do not. The run fails after Prefect started; still one `error:` line and exit 2."""
    target = tmp_path / "full"
    target.mkdir()
    script = f"mount -t tmpfs -o size=4m,nr_inodes=6 tmpfs {target}"
    result, _, _ = _in_private_mounts(
        script, "run", "--config", str(sample_copy), "--output", str(target / "out"),
        home=tmp_path,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "No space left on device" in errors[0], result.stderr[-3000:]


def test_a_long_single_text_reports_window_n_of_m(redactor, caplog):
    """A text in many windows says how far it is (a 2 MB text runs minutes): window n of m,
    its length, never its content."""
    import dataclasses
    import logging

    from redactors.longtext import windows

    config = redactor.detector.config.model_copy(
        update={"window_chars": 2_000, "window_overlap_chars": 400}
    )
    detector = dataclasses.replace(redactor.detector, config=config)
    long_text = "a line about nothing in particular, mail bob.jones@acme.com\n" * 150
    total = len(windows(long_text, 2_000, 400))
    assert total > 3
    seen: list[tuple[int, int, int]] = []
    detector.analyze(["short", long_text, "also short"], progress=lambda *a: seen.append(a))
    assert seen == [(len(long_text), n, total) for n in range(1, total + 1)]
    with caplog.at_level(logging.INFO, logger="redactors.longtext"):
        detector.analyze([long_text])
    lines = [r.getMessage() for r in caplog.records if r.name == "redactors.longtext"]
    assert lines[-1] == f"long text of {len(long_text)} characters: window {total} of {total} done"
    assert not [line for line in lines if "bob.jones" in line]


@pytest.mark.slow
def test_an_empty_configured_split_warns_in_the_cli_report_and_card(
    sample_copy: Path, tmp_path: Path
):
    import json

    data = _data(sample_copy)
    data["output"]["splits"] = {"train": 0.999, "rare": 0.001}  # no user hashes into "rare"
    _save(sample_copy, data)
    output = tmp_path / "out"
    result, _, _ = redact(
        "run", "--config", str(sample_copy), "--output", str(output), home=tmp_path, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    warning = "split 'rare' is configured (output.splits) but came out empty"
    assert f"warning: {warning}" in result.stderr
    assert any(warning in line for line in json.loads((output / "report.json").read_text())[
        "warnings"
    ])
    assert warning in (output / "README.md").read_text()
    assert not list((output / "shards").glob("rare-*"))
