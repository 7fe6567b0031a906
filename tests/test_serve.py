"""`redact serve` and prefect.yaml against a real Prefect server (`prefect server start`), and
the clear errors `redact serve` gives before it would serve anything."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from .conftest import REPO, SAMPLE_CONFIG, SECRET_A, variant_config

PREFECT = str(Path(sys.executable).parent / "prefect")
# Rare on purpose: the scheduler must not fire a run of its own while the test runs.
CRON = "0 2 1 1 *"


def _invoke(args: list[str]) -> Result:
    """`redact ARGS` in this process. Prefect binds its console log handler to sys.stderr when
    it first sets up logging: do that before CliRunner swaps the streams, or every later
    Prefect log line in this session goes to a closed file."""
    import prefect.main  # noqa: F401  (sets up Prefect's logging)

    from pipelines.cli import app

    return CliRunner().invoke(app, args)


def test_serve_without_a_prefect_server_exits_2_and_says_how_to_get_one(monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        result = _invoke(["serve", "--config", str(SAMPLE_CONFIG), "--cron", "0 2 * * *"])
    assert result.exit_code == 2
    assert "needs a Prefect server" in result.stderr
    assert "prefect server start" in result.stderr
    assert "PREFECT_API_URL=http://" in result.stderr


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--cron", "0 2 * * 99"], 'Invalid cron string: "0 2 * * 99"'),
        (["--cron", "every night"], 'Invalid cron string: "every night"'),
        (["--cron", "0 2 * * *", "--timezone", "Mars/Olympus"], 'Invalid timezone: "Mars/Olympus"'),
    ],
)
def test_serve_with_a_bad_schedule_exits_2_before_contacting_the_server(options, message):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    # Nothing listens on port 9: reaching the server would be a different error.
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        result = _invoke(["serve", "--config", str(SAMPLE_CONFIG), *options])
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


# --- against a real server ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _processes() -> Iterator[tuple[int, str, int, int]]:
    """(pid, state, parent pid, process group) of every process, from /proc."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, ppid, pgid = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        yield int(stat.parent.name), state, int(ppid), int(pgid)


def _group_alive(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group."""
    return [pid for pid, state, _, group in _processes() if group == pgid and state != "Z"]


def _run_processes(serve_pid: int) -> list[int]:
    """Flow-run subprocesses of `redact serve` still alive (multiprocessing spawn children)."""
    found = []
    for pid, state, ppid, _ in _processes():
        if ppid != serve_pid or state == "Z":
            continue
        with contextlib.suppress(OSError):
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
    return found


def _stop(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """SIGTERM by pid, SIGKILL (its whole process group) after a timeout; reaps it."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    deadline = time.monotonic() + 10
    while _group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _group_alive(process.pid):  # a child left behind: never leak it into the next test
        os.killpg(process.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while _group_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.1)


@contextlib.contextmanager
def _background(command: list[str], env: dict[str, str], log: Path) -> Iterator[Any]:
    """A subprocess in its own session (so its children can be found and stopped)."""
    with log.open("wb") as handle:
        process = subprocess.Popen(
            command,
            env=env,
            cwd=REPO,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            _stop(process)


def _tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(errors="replace")[-chars:]


def _wait_until(condition: Any, timeout: float, what: str, log: Path) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{_tail(log)}")


def _healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _deploy_with_prefect_yaml(env: dict[str, str]) -> list[subprocess.CompletedProcess[str]]:
    """What a `prefect deploy` user runs (from the repository root)."""
    commands = [
        [PREFECT, "work-pool", "create", "redact-pool", "--type", "process"],
        [PREFECT, "--no-prompt", "deploy", "--name", "redact-nightly"],
    ]
    results = []
    for command in commands:
        results.append(
            subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
        )
        if results[-1].returncode:
            break
    return results


async def _run_served_deployment(api_url: str, serve: Any, serve_log: Path) -> dict[str, Any]:
    """Wait for the served deployment, trigger a run, wait for its end; what the API says."""
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.exceptions import ObjectNotFound

    async with PrefectClient(api_url) as client:
        deadline = time.monotonic() + 60
        while True:
            assert serve.poll() is None, f"redact serve exited\n{_tail(serve_log)}"
            try:
                deployment = await client.read_deployment_by_name("redact-run/sample-serve")
                break
            except ObjectNotFound:
                assert time.monotonic() < deadline, f"no deployment\n{_tail(serve_log)}"
                await asyncio.sleep(0.25)
        flow_run = await client.create_flow_run_from_deployment(deployment.id)
        deadline = time.monotonic() + 150
        while not (flow_run.state and flow_run.state.is_final()):
            assert time.monotonic() < deadline, f"run not finished\n{_tail(serve_log)}"
            await asyncio.sleep(0.5)
            flow_run = await client.read_flow_run(flow_run.id)
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run.id]))
        )
        return {"deployment": deployment, "flow_run": flow_run, "artifacts": artifacts}


async def _read_back(api_url: str, flow_run_id: Any) -> tuple[Any, Any]:
    """The prefect.yaml deployment, and the served run's state once serve has stopped."""
    from prefect.client.orchestration import PrefectClient

    async with PrefectClient(api_url) as client:
        nightly = await client.read_deployment_by_name("redact-run/redact-nightly")
        return nightly, await client.read_flow_run(flow_run_id)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="process checks read /proc")
def test_serve_and_prefect_yaml_on_a_real_server(tmp_path):
    """`prefect server start` (own home and SQLite) -> `redact serve` registers the deployment
    with its cron -> a run triggered through the API completes with shards, manifest, report
    and both artifacts -> `prefect deploy` of prefect.yaml creates `redact-nightly` -> serve
    and the server stop on SIGTERM and leave no process behind."""
    started = time.monotonic()
    port = _free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "REDACT_"))}
    env = {
        **base,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
    }
    server_env = {
        **env,
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{tmp_path / 'prefect.db'}",
    }
    client_env = {**env, "PREFECT_API_URL": api_url}
    config = variant_config(tmp_path, run_name="sample-serve")
    output = tmp_path / "out"
    server_log, serve_log = tmp_path / "server.log", tmp_path / "serve.log"
    server_command = [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    serve_command = [sys.executable, "-m", "pipelines.cli", "serve", "--config", str(config)]
    serve_command += ["--output", str(output), "--cron", CRON]
    with _background(server_command, server_env, server_log) as server:
        _wait_until(lambda: _healthy(api_url), 90, "the server's /api/health", server_log)
        up = time.monotonic()
        with _background(
            serve_command, {**client_env, "REDACT_SECRET": SECRET_A}, serve_log
        ) as serve:
            # prefect deploy runs alongside the flow run (it is mostly imports)
            with ThreadPoolExecutor(1) as pool:
                deploying = pool.submit(_deploy_with_prefect_yaml, client_env)
                served = asyncio.run(_run_served_deployment(api_url, serve, serve_log))
                deployed = deploying.result()
            ran = time.monotonic()
            # Stopping serve cancels every run whose process is alive, even one that has just
            # reported COMPLETED (Prefect's runner then sets CANCELLED): wait for it to exit.
            _wait_until(lambda: not _run_processes(serve.pid), 60, "the run's exit", serve_log)
            _stop(serve)
            assert serve.returncode is not None and not _group_alive(serve.pid)
        nightly, flow_run_after = asyncio.run(_read_back(api_url, served["flow_run"].id))
        _stop(server)
        assert server.returncode is not None and not _group_alive(server.pid)
    print(
        f"server up {up - started:.1f} s, serve + run + deploy {ran - up:.1f} s, "
        f"total {time.monotonic() - started:.1f} s"
    )

    # the served run
    flow_run = served["flow_run"]
    assert flow_run.state.is_completed(), f"{flow_run.state}\n{_tail(serve_log)}"
    assert flow_run_after.state.is_completed()  # stopping serve did not touch the finished run
    report = json.loads((output / "report.json").read_text())
    assert (output / "manifest.json").is_file()
    assert report["shards"]["rows"] > 0
    assert list((output / "shards").glob("*.parquet"))
    schedule = served["deployment"].schedules[0].schedule
    assert (schedule.cron, schedule.timezone) == (CRON, "UTC")
    assert served["deployment"].parameters == {
        "config_path": str(config.resolve()),
        "output": str(output.resolve()),
    }
    keys = {artifact.key: artifact for artifact in served["artifacts"]}
    assert set(keys) == {"redaction-report-sample-serve", "redaction-counts-sample-serve"}
    assert keys["redaction-report-sample-serve"].type == "markdown"
    assert f"`{report['run']['run_id']}`" in keys["redaction-report-sample-serve"].data
    assert keys["redaction-counts-sample-serve"].type == "table"
    assert keys["redaction-counts-sample-serve"].data
    # serve's output holds the run's logs: no planted PII value, no user id of the input
    from redactors.testing.synth import generate_sample

    sample = generate_sample()
    logs = serve_log.read_text(errors="replace")
    assert "Finished in state Completed" in logs
    assert not [value for *_, value in sample.truth if value in logs]
    assert not [user.user_id for user in sample.users if user.user_id in logs]

    # prefect.yaml, as `prefect deploy` reads it
    for result in deployed:
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    nightly_schedule = nightly.schedules[0].schedule
    assert (nightly_schedule.cron, nightly_schedule.timezone) == ("0 2 * * *", "UTC")
    assert nightly.entrypoint == "pipelines/redact.py:redact_flow"
    assert nightly.work_pool_name == "redact-pool"
    assert nightly.parameters == {"config_path": "configs/sample.yaml", "output": "out/nightly"}
    assert nightly.pull_steps == [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}
    ]
