"""Kill harness: a real `redact run` process is killed (SIGKILL, whole process group, so its
Prefect server dies too: like a machine losing power) at several points. Each time the
previous committed output must be intact, and rerunning the same command must resume the
work units finished before the kill and end with the output of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from redactors.config import load_config
from redactors.run import run_local
from redactors.state import UnitStore
from tests.conftest import REPO, SECRET_A, SECRET_B, variant_config

pytestmark = pytest.mark.slow


def _snapshot(output: Path) -> dict[str, bytes]:
    """Every file of a committed output, by relative path."""
    return {
        str(p.relative_to(output)): p.read_bytes() for p in sorted(output.rglob("*")) if p.is_file()
    }


def _shards(output: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(output)): p.read_bytes()
        for p in sorted(output.rglob("*"))
        if p.is_file() and p.suffix == ".parquet"  # shards and the lineage index
    }


def _staging(output: Path) -> Path | None:
    found = sorted(output.parent.glob(f".{output.name}.staging-*"))
    return found[0] if found else None


def _start(config: Path, output: Path, home: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="90",
        DO_NOT_TRACK="1",
        REDACT_SECRET=SECRET_A,
    )
    command = "from pipelines.cli import main; main()"
    return subprocess.Popen(
        [sys.executable, "-c", command, "run", "--config", str(config), "--output", str(output)],
        cwd=REPO,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the kill takes its server along
    )


def _kill_when(
    process: subprocess.Popen[bytes], ready: Callable[[], bool], timeout: float = 240
) -> bool:
    """SIGKILL the process group as soon as ``ready()``; False if it finished first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if ready():
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            return True
        time.sleep(0.002)
    os.killpg(process.pid, signal.SIGKILL)
    raise AssertionError("milestone not reached before the timeout")


def test_killed_runs_leave_the_previous_output_and_resume_to_the_same_result(tmp_path):
    config = variant_config(
        tmp_path,
        run_name="sample-crash",
        runner={"unit_rows": 250, "batch_rows": 125},
        canaries={"count": 20},
    )
    output, reference = tmp_path / "out", tmp_path / "reference"
    run_config = load_config(config)
    # The previous committed output: built with another secret, so no unit of it is reusable.
    run_local(run_config, str(config), output, SECRET_B)
    previous = _snapshot(output)
    previous_units = UnitStore.for_output(output).count()
    # What an uninterrupted run gives.
    uninterrupted = run_local(run_config, str(config), reference, SECRET_A)
    units = uninterrupted["incremental"]["units"]
    assert units >= 5

    store = UnitStore.for_output(output)

    def a_units() -> int:  # units of the new run in the store (the old ones stay until commit)
        return store.count() - previous_units

    stored_at_start = 0

    def started() -> bool:
        staging = _staging(output)
        return staging is not None and (staging / "shards").is_dir()

    def one_more_unit_stored() -> bool:
        return a_units() > stored_at_start

    def shard_being_written() -> bool:
        staging = _staging(output)
        return staging is not None and any((staging / "shards").glob(".*.tmp"))

    def finalizing() -> bool:
        staging = _staging(output)
        return staging is not None and (staging / "lineage" / "lineage.parquet").exists()

    home, log = tmp_path / "prefect-home", tmp_path / "runs.log"
    killed_at = []
    for name, milestone in [
        ("run started (canaries, first unit)", started),
        ("between units", one_more_unit_stored),
        ("shard half written", shard_being_written),
        ("finalize (dedup, lineage, manifest, report)", finalizing),
    ]:
        stored_at_start = a_units()
        process = _start(config, output, home, log)
        if not _kill_when(process, milestone):
            assert process.returncode == 0, log.read_text()[-3000:]
            break  # it committed before the milestone: nothing more to kill
        killed_at.append(name)
        if milestone is shard_being_written:  # mid-run: some units done, some not
            assert 0 < a_units() < units
        # The previous committed output is untouched, byte for byte.
        assert _snapshot(output) == previous, f"output changed by a run killed at: {name}"

    assert len(killed_at) >= 3, killed_at
    done_before_resume = a_units()
    assert 0 < done_before_resume <= units

    # The same command again: resumes, commits, and matches the uninterrupted run.
    process = _start(config, output, home, log)
    assert process.wait(timeout=300) == 0, log.read_text()[-3000:]
    report = json.loads((output / "report.json").read_text())
    assert report["incremental"]["units_reused"] == done_before_resume
    assert report["incremental"]["units_processed"] == units - done_before_resume
    assert _shards(output) == _shards(reference)
    manifest = json.loads((output / "manifest.json").read_text())
    expected = json.loads((reference / "manifest.json").read_text())
    for volatile in ("run_id", "created_at", "versions"):  # the flow adds prefect's version
        manifest.pop(volatile), expected.pop(volatile)
    # Per output location: where it is, and its consent epochs (this one had an older output).
    assert manifest.pop("location") == str(output.resolve())
    assert manifest.pop("consent_epoch") == manifest.pop("epochs")[manifest["output_id"]] > 1
    for volatile in ("location", "consent_epoch", "epochs"):
        expected.pop(volatile)
    assert manifest == expected
    assert report["totals"]["top_recognizers"] == uninterrupted["totals"]["top_recognizers"]
    assert report["totals"] == uninterrupted["totals"]
    # Nothing a killed run left behind survives a finished one.
    assert _staging(output) is None
    assert not list(store.units.glob(".tmp-*"))
    assert store.count() == units
