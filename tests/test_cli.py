"""The `redact` command as a user runs it: exit codes, messages, and a run with no network."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import SAMPLE_CONFIG, SECRET_A

REDACT = str(Path(sys.executable).parent / "redact")


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "REDACT_"))}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), DO_NOT_TRACK="1", **extra)
    return env


def test_unknown_key_exits_2_with_the_key_named_and_no_traceback(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(SAMPLE_CONFIG.read_text().replace("policy: opt_in", "polcy: opt_in"))
    result = subprocess.run(
        [REDACT, "run", "--config", str(config), "--output", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=clean_env(tmp_path),
        timeout=120,
    )
    assert result.returncode == 2
    assert "consent.polcy: unknown key" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def _unshare_works() -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(
    not _unshare_works(), reason="needs unprivileged network namespaces (unshare -rn)"
)
def test_run_without_network_gives_the_same_shards(sample_runs, tmp_path):
    """Inside a network namespace with only loopback: same shards, same counts, no tracebacks
    (e.g. from tldextract trying to fetch the public suffix list)."""
    ip = shutil.which("ip") or "/usr/sbin/ip"
    output = tmp_path / "offline"
    result = subprocess.run(
        [
            "unshare",
            "-rn",
            "sh",
            "-c",
            f'{ip} link set lo up && exec "$0" "$@"',
            REDACT,
            "run",
            "--config",
            str(SAMPLE_CONFIG),
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        env=clean_env(tmp_path, REDACT_SECRET=SECRET_A, PREFECT_LOGGING_LEVEL="DEBUG"),
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stdout + result.stderr
    assert "committed" in result.stdout and "report.html" in result.stdout
    online = sample_runs["a"]
    names = sorted(p.name for p in (online / "shards").iterdir())
    assert names == sorted(p.name for p in (output / "shards").iterdir())
    for name in names:
        assert (online / "shards" / name).read_bytes() == (output / "shards" / name).read_bytes()
    totals_online = json.loads((online / "report.json").read_text())["totals"]
    totals_offline = json.loads((output / "report.json").read_text())["totals"]
    assert totals_online == totals_offline
    # DEBUG logs of a whole run carry no raw PII value and no raw user id of the input
    from redactors.testing.synth import generate_sample

    sample = generate_sample()
    logs = result.stdout + result.stderr
    assert "DEBUG" in logs
    assert not [v for *_, v in sample.truth if v in logs]
    assert not [u.user_id for u in sample.users if u.user_id in logs]
