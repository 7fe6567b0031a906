"""The Prefect API a `redact run` reports to, ready by the time its engines are.

With ``PREFECT_API_URL`` set, that server (a long-lived one, as scheduled flows use: nothing
to start). Else a temporary server for this run, as Prefect would start one itself when the
flow is called, but started *first*: its process comes up (about 4 s) while this one builds
the run's engines and imports Prefect (and, if it is still starting then, redacts the first
work unit's first texts: ``ready(meanwhile)``), and it is shared with the run's worker processes
through the environment (each would otherwise start its own: +10 s each, one SQLite file).

It is started without importing Prefect's server package here (2 s of this process's
imports, which would hold back the engines): the same command line as Prefect 3.9's own
``SubprocessASGIServer._run_uvicorn_command``, which tests/test_api_server.py holds to.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

# uvicorn exits with 3 when its port was taken in the meantime: try another one.
PORT_TAKEN_EXIT = 3


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def uvicorn_command(port: int) -> list[str]:
    """Prefect's temporary server: its ASGI app under uvicorn, on loopback only."""
    spec = importlib.util.find_spec("prefect")
    assert spec is not None and spec.origin is not None, "prefect is a dependency"
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        str(Path(spec.origin).parent.parent),
        "--factory",
        "prefect.server.api.server:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "error",
        "--lifespan",
        "on",
    ]


# As Prefect's temporary server: no UI; ephemeral (its services run in-process as needed).
SERVER_ENV = {
    "PREFECT_UI_ENABLED": "0",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
}


class TemporaryApiServer:
    """One temporary Prefect API server process on a free loopback port."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> None:
        self.process = subprocess.Popen(
            uvicorn_command(self.port), env={**os.environ, **SERVER_ENV}
        )

    def wait_ready(self, timeout: float, meanwhile: Callable[[], bool] | None = None) -> None:
        """Until /health answers; a port taken meanwhile starts it again on another. Between
        checks, ``meanwhile()`` (a short step of other work, returning whether there is more)
        instead of sleeping, until it has no more."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None, "start() first"
            code = self.process.poll()
            if code == PORT_TAKEN_EXIT:
                self.port = _free_port()
                self.start()
                continue
            if code is not None:
                raise RuntimeError(
                    f"the temporary Prefect API server exited with code {code} before it "
                    "answered (its error is printed above); set PREFECT_API_URL to a "
                    "running server (`prefect server start`) to use that instead"
                )
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if meanwhile is not None and meanwhile():
                continue
            meanwhile = None
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"the temporary Prefect API server did not answer within {timeout:.0f} s "
            "(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS); on a slow machine raise it, "
            "or set PREFECT_API_URL to a running server (`prefect server start`)"
        )

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


# NO_HEARTBEATS: a flow run on a temporary server sends no heartbeats. They exist so that a
# long-lived server can mark a run whose process died as crashed (an automation watching
# for missing heartbeats); a temporary server stops with the run, so no one would watch.
# Prefect 3.9 sends them by default, and its heartbeat thread sleeps in whole seconds, so
# the flow's end waits for it: 0.5 s per run on average, up to 1 s. An operator's own
# setting (either variable) is kept.
HEARTBEAT_ENV = ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY")


class Ready(Protocol):
    """``api_server``'s ``ready``: waits for the API, doing ``meanwhile``'s steps if given."""

    def __call__(self, meanwhile: Callable[[], bool] | None = None) -> None: ...


@contextlib.contextmanager
def api_server() -> Iterator[Ready]:
    """The run's Prefect API (see the module's docstring). Yields ``ready(meanwhile)``,
    which the caller calls before it calls the flow: it waits for a temporary server to
    answer, doing ``meanwhile``'s steps of work while it waits (``wait_ready``), and points
    this process (and, through the environment, its workers) at it."""
    if os.environ.get("PREFECT_API_URL"):
        yield lambda meanwhile=None: None
        return
    server = TemporaryApiServer()
    server.start()
    with contextlib.ExitStack() as stack:

        def ready(meanwhile: Callable[[], bool] | None = None) -> None:
            timeout = float(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"])
            server.wait_ready(timeout, meanwhile)
            from prefect.settings import (
                PREFECT_API_URL,
                PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
                temporary_settings,
            )

            os.environ["PREFECT_API_URL"] = server.api_url
            updates: dict[Any, Any] = {PREFECT_API_URL: server.api_url}
            if not any(os.environ.get(name) for name in HEARTBEAT_ENV):
                updates[PREFECT_FLOWS_HEARTBEAT_FREQUENCY] = None  # see NO_HEARTBEATS
            stack.enter_context(temporary_settings(updates))

        try:
            yield ready
        finally:
            if os.environ.pop("PREFECT_API_URL", None) is not None:
                from prefect.logging.handlers import APILogWorker

                APILogWorker.drain_all(timeout=10)  # the run's last logs, before it goes
            server.stop()
