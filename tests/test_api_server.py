"""The run's Prefect API: a temporary server started before Prefect is imported (the same
command as Prefect's own), or the running one PREFECT_API_URL names; and engines built
while it starts, taken by the run's worker thread instead of a second build."""

from __future__ import annotations

import inspect
import os
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from pipelines.api_server import HEARTBEAT_ENV, SERVER_ENV, api_server, uvicorn_command
from redactors.config import RunConfig
from redactors.unit import UnitJob, build_ahead, checked_engines, worker_cache

from .conftest import SECRET_A


def test_command_is_prefects_own_temporary_server() -> None:
    """Prefect's SubprocessASGIServer runs this command; a Prefect upgrade that changes it
    fails here instead of starting a server that behaves differently."""
    import prefect
    from prefect.server.api.server import SubprocessASGIServer

    source = inspect.getsource(SubprocessASGIServer._run_uvicorn_command)
    command = uvicorn_command(4200)
    for argument in command[1:]:
        if argument not in ("4200", command[4]):
            assert f'"{argument}"' in source, argument
    assert command[4] == str(prefect.__module_path__.parent)  # --app-dir
    for name, value in SERVER_ENV.items():
        assert f'"{name}": "{value}"' in source


def test_temporary_server_answers_and_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    steps: list[int] = []

    def meanwhile() -> bool:  # three steps of other work while it starts (seconds)
        steps.append(len(steps))
        return len(steps) < 3

    with api_server() as ready:
        ready(meanwhile)
        assert steps == [0, 1, 2]  # done while waiting, and not called once it had no more
        url = os.environ["PREFECT_API_URL"]
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{url}/health", timeout=5) as answer:
            assert answer.status == 200
    assert "PREFECT_API_URL" not in os.environ
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}/health", timeout=2)


def test_running_server_is_used_as_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    started: list[object] = []
    monkeypatch.setattr("pipelines.api_server.TemporaryApiServer.start", started.append)
    with api_server() as ready:
        ready()
    assert started == []
    assert os.environ["PREFECT_API_URL"] == "http://127.0.0.1:9/api"


def test_flow_runs_on_a_temporary_server_send_no_heartbeats(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No one watches a temporary server for missing heartbeats, and Prefect's heartbeat
    thread holds up each flow's end by up to 1 s (api_server.HEARTBEAT_ENV)."""
    from prefect import flow
    from prefect.flow_engine import FlowRunEngine
    from prefect.settings import get_current_settings

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    for name in HEARTBEAT_ENV:
        monkeypatch.delenv(name, raising=False)
    engine = FlowRunEngine(flow=flow(lambda: None, name="heartbeat-probe"))
    assert engine.heartbeat_seconds is not None  # Prefect's default: heartbeats on
    with api_server() as ready:
        ready()
        assert get_current_settings().flows.heartbeat_frequency is None
        assert engine.heartbeat_seconds is None
    assert engine.heartbeat_seconds is not None


@pytest.mark.parametrize("name", HEARTBEAT_ENV)
def test_an_operators_heartbeat_setting_is_kept(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    from prefect.settings import get_current_settings

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    monkeypatch.setenv(name, "60")
    with api_server() as ready:
        ready()
        assert get_current_settings().flows.heartbeat_frequency == 60


def _worker_takes(job: UnitJob) -> tuple[Any, dict[str, Any], list[str]]:
    """What a new worker thread of the run gets from checked_engines: its engines, their
    canary result, and whether it had to build them itself ("built")."""
    builds: list[str] = []
    taken: list[tuple[Any, dict[str, Any]]] = []

    def worker() -> None:
        worker_cache.__dict__.clear()
        taken.append(checked_engines(job, SECRET_A, lambda: builds.append("built")))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    return taken[0][0], taken[0][1], builds


def test_engines_built_ahead_serve_the_runs_worker_thread(
    sample_config: RunConfig, tmp_path: Path
) -> None:
    """The CLI builds engines while the server starts; the run's worker thread takes them
    (no second model load) with the canary result they earned, once."""
    assert build_ahead(sample_config, SECRET_A)
    from redactors.unit import _ahead

    ahead = _ahead[0]
    job = UnitJob(sample_config, str(tmp_path / "run"), ahead.engines.gate.decision_sha256)
    engines, canaries, builds = _worker_takes(job)
    assert builds == []
    assert engines is ahead.engines
    assert canaries["status"] == "measured" and canaries["passed"]
    assert _ahead == []  # taken once: a second worker thread builds its own


def test_engines_built_ahead_are_not_taken_by_another_run(
    sample_config: RunConfig, tmp_path: Path
) -> None:
    assert build_ahead(sample_config, SECRET_A)
    from redactors.unit import _ahead, _take_ahead

    other_secret_job = UnitJob(sample_config, str(tmp_path), _ahead[0].engines.gate.decision_sha256)
    from redactors.unit import _engines_key

    key = _engines_key(
        other_secret_job.config, other_secret_job.registry_sha256, "another-secret-0123456789"
    )
    assert _take_ahead(key, str(tmp_path)) is None
    assert len(_ahead) == 1
    _ahead.clear()


def _shard_texts(output: Path) -> list[tuple]:
    import polars as pl

    frames = [pl.read_parquet(path) for path in sorted((output / "shards").glob("*.parquet"))]
    rows = pl.concat(frames, how="diagonal").drop("consent_epoch", strict=False)
    return sorted(rows.iter_rows())


def test_texts_redacted_ahead_are_taken_by_the_first_unit(
    sample_config: RunConfig, tmp_path: Path
) -> None:
    """While the server starts the CLI redacts the first unit's consented texts ahead
    (``redact_ahead``); the unit takes those results instead of analyzing them again: the
    same shards and counts as a run without them. No text of a record without consent is
    analyzed ahead."""
    from redactors.ahead import redact_ahead
    from redactors.batch import redaction_texts, source_config
    from redactors.io import read_unit
    from redactors.preflight import check_run
    from redactors.quarantine import screen_batch
    from redactors.run import run_local
    from redactors.unit import _ahead

    from .conftest import SAMPLE_CONFIG

    assert build_ahead(sample_config, SECRET_A)
    engines = _ahead[0].engines
    unit = check_run(sample_config, tmp_path / "ahead", SECRET_A).plan.units[0]
    step = redact_ahead(sample_config, unit)
    steps = 1
    while step():
        steps += 1
    ahead = set(engines.redactor._ahead)
    assert steps > 2 and len(ahead) > 100 and not step()  # done: no more steps
    _ahead.clear()  # taken below through run_local, as the flow's worker takes them

    source = source_config(sample_config, unit.source)
    consented, refused = set(), set()
    for first_row, batch in read_unit(unit, source, sample_config.runner.batch_rows):
        screened, _, _ = screen_batch(batch, source, unit.path, first_row)
        kept, _, _ = engines.gate.split_source(screened, source)
        dropped = screened.join(kept.select(source.id_column), on=source.id_column, how="anti")
        consented |= set(redaction_texts(kept, source))
        refused |= set(redaction_texts(dropped, source))
    refused -= consented  # the same words from someone who said yes
    assert ahead <= consented and refused and not ahead & refused

    def run(output: Path) -> dict[str, Any]:
        return run_local(sample_config, str(SAMPLE_CONFIG), output, SECRET_A, engines=engines)

    with_ahead = run(tmp_path / "ahead")
    assert engines.redactor._ahead == {}  # every result taken
    without = run(tmp_path / "plain")
    assert with_ahead["totals"] == without["totals"]
    assert _shard_texts(tmp_path / "ahead") == _shard_texts(tmp_path / "plain")
