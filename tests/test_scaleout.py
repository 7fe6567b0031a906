"""Scale-out: the same flow on a process pool and on a real Dask cluster, same bytes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import SAMPLE_CONFIG, SECRET_A

pytestmark = pytest.mark.slow


def shard_bytes(output: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((output / "shards").iterdir())}


def unset_until_teardown(monkeypatch, name: str) -> None:
    """Unset ``name`` now and give it back its value (or absence) at teardown, whatever the
    test sets meanwhile: ``delenv`` alone restores nothing for a variable that was unset."""
    monkeypatch.setenv(name, "")
    monkeypatch.delenv(name)


@pytest.fixture
def worker_env(monkeypatch, prefect_harness):
    """Worker processes report to the harness's API server and get the run secret. A Dask
    nanny sets its pre-spawn variables in the process that starts it: undone at the end."""
    from prefect.settings import PREFECT_API_URL

    monkeypatch.setenv("PREFECT_API_URL", PREFECT_API_URL.value())
    monkeypatch.setenv("REDACT_SECRET", SECRET_A)
    unset_until_teardown(monkeypatch, "MALLOC_TRIM_THRESHOLD_")


@pytest.mark.usefixtures("worker_env")
def test_flow_on_a_local_dask_cluster_of_two_workers(sample_runs, tmp_path):
    from distributed import LocalCluster

    from pipelines.redact import redact_flow, task_runner_for

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        runner = task_runner_for("dask", 2, cluster.scheduler_address)
        report = redact_flow.with_options(task_runner=runner)(
            config_path=str(SAMPLE_CONFIG), output=str(tmp_path / "dask")
        )
        assert len(cluster.workers) == 2
    assert report["totals"]["records_in"] == 3000
    assert shard_bytes(tmp_path / "dask") == shard_bytes(sample_runs["a"])


@pytest.mark.usefixtures("worker_env")
def test_flow_on_a_process_pool(sample_runs, tmp_path):
    from pipelines import redact
    from pipelines.redact import redact_flow, task_runner_for

    redact._worker.__dict__.pop("engines", None)
    report = redact_flow.with_options(task_runner=task_runner_for("processes", 2))(
        config_path=str(SAMPLE_CONFIG), output=str(tmp_path / "processes")
    )
    assert shard_bytes(tmp_path / "processes") == shard_bytes(sample_runs["a"])
    # The canaries ran on a worker process: the flow's process loaded no model.
    assert getattr(redact._worker, "engines", None) is None
    assert report["canaries"]["passed"]


def _malloc_trim_of_workers(cluster) -> set[str | None]:
    from distributed import Client

    with Client(cluster) as client:
        return set(client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_")).values())


def test_dask_workers_keep_glibc_malloc_defaults(monkeypatch):
    """Dask's nanny sets MALLOC_TRIM_THRESHOLD_ in its workers (spaCy ~12% slower); the
    flow's local cluster does not, even from a process that has it set (a nanny sets it in
    the process that starts it too)."""
    from distributed import LocalCluster

    from pipelines.redact import local_dask_cluster

    kwargs = {"n_workers": 1, "threads_per_worker": 1, "processes": True}
    unset_until_teardown(monkeypatch, "MALLOC_TRIM_THRESHOLD_")
    with LocalCluster(dashboard_address=None, **kwargs) as cluster:
        assert _malloc_trim_of_workers(cluster) == {"65536"}  # Dask's default: the premise
    assert os.environ.get("MALLOC_TRIM_THRESHOLD_") == "65536"  # leaked into this process
    with local_dask_cluster(dashboard_address=None, **kwargs) as cluster:
        assert _malloc_trim_of_workers(cluster) == {None}
    assert os.environ.get("MALLOC_TRIM_THRESHOLD_") == "65536"  # left as it was


def test_shipped_dask_worker_config_drops_only_malloc_trim():
    """configs/dask/ (for operators' workers) and the flow's own setting, each merged into
    Dask's defaults as Dask merges them: no MALLOC_TRIM_THRESHOLD_, the rest unchanged."""
    import copy

    import dask
    from distributed.nanny import _get_env_variables

    from pipelines.redact import DASK_WORKER_CONFIG

    default = _get_env_variables("distributed.nanny.pre-spawn-environ")
    assert default["MALLOC_TRIM_THRESHOLD_"] == "65536"
    shipped = dask.config.collect(paths=[str(Path(SAMPLE_CONFIG).parent / "dask")], env={})
    merged = dask.config.update(copy.deepcopy(dask.config.config), shipped)
    for config in (merged, DASK_WORKER_CONFIG):
        with dask.config.set(config):
            dropped = _get_env_variables("distributed.nanny.pre-spawn-environ")
        assert dropped == {k: v for k, v in default.items() if k != "MALLOC_TRIM_THRESHOLD_"}


def test_local_dask_runner_starts_its_cluster_with_that_config():
    from pipelines.redact import local_dask_cluster, task_runner_for

    assert task_runner_for("dask", 2).cluster_class is local_dask_cluster
    assert task_runner_for("dask", 2, "tcp://127.0.0.1:8786").cluster_class is None
