"""Shared fixtures: the sample config, one real Presidio/spaCy redactor per session, and real
Prefect flow runs of the sample (ephemeral API server via prefect_test_harness)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

# Before Prefect is imported anywhere: no telemetry, nothing leaves the machine.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import pytest
import yaml

from redactors.config import RunConfig, load_config
from redactors.engine import TextRedactor

REPO = Path(__file__).resolve().parent.parent
SAMPLE_CONFIG = REPO / "configs" / "sample.yaml"
SECRET_A = "test-secret-A-0123456789abcdef"
SECRET_B = "test-secret-B-fedcba9876543210"


@pytest.fixture(scope="session")
def sample_config() -> RunConfig:
    return load_config(SAMPLE_CONFIG)


@pytest.fixture(scope="session")
def dev_texts() -> list[str]:
    """The first 400 unique texts of the eval dev set."""
    lines = (REPO / "data" / "eval" / "dev.jsonl").read_text().splitlines()
    return list(dict.fromkeys(json.loads(line)["text"] for line in lines))[:400]


@pytest.fixture(scope="session")
def chat_texts() -> list[str]:
    """The benchmark's chat mix: short replies, work chat, PII, multi-sentence write-ups."""
    from redactors.testing.synth import generate_sample

    sample = generate_sample(seed=5, n_users=50, n_messages=600, n_posts=0, message_mix="chat")
    return list(dict.fromkeys(sample.messages["text"].to_list()))


@pytest.fixture(scope="session")
def redactor(sample_config: RunConfig) -> TextRedactor:
    """The real detection + masking engine of the sample config (spaCy model loaded once)."""
    return TextRedactor.build(sample_config.detection, sample_config.masking, SECRET_A.encode())


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def run_flow(config_path: Path, output: Path, secret: str | None) -> dict:
    """One real Prefect flow run with REDACT_SECRET set (or unset) for its duration."""
    from pipelines.redact import redact_flow

    previous = os.environ.pop("REDACT_SECRET", None)
    if secret is not None:
        os.environ["REDACT_SECRET"] = secret
    try:
        return redact_flow(config_path=str(config_path), output=str(output))
    finally:
        os.environ.pop("REDACT_SECRET", None)
        if previous is not None:
            os.environ["REDACT_SECRET"] = previous


@pytest.fixture(scope="session")
def sample_runs(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real flow runs of the sample: secret A twice (into two directories), secret B once,
    without dedup (every consented record), and with train/validation/test splits."""
    root = tmp_path_factory.mktemp("sample-runs")
    outputs = {
        "a": root / "a",
        "a_again": root / "a_again",
        "b": root / "b",
        "a_all": root / "a_all",
        "splits": root / "splits",
    }
    run_flow(SAMPLE_CONFIG, outputs["a"], SECRET_A)
    run_flow(SAMPLE_CONFIG, outputs["a_again"], SECRET_A)
    run_flow(SAMPLE_CONFIG, outputs["b"], SECRET_B)
    # every consented record, no dedup: for checks that follow planted values record by record
    run_flow(
        variant_config(root, run_name="sample-all", output={"dedup": "none"}),
        outputs["a_all"],
        SECRET_A,
    )
    run_flow(
        variant_config(root, run_name="sample-splits", output=SPLITS_OUTPUT),
        outputs["splits"],
        SECRET_A,
    )
    return outputs


SPLITS_OUTPUT = {"splits": {"train": 0.8, "validation": 0.1, "test": 0.1}}


def variant_config(directory: Path, **changes: dict | str) -> Path:
    """The sample config with some sections changed, written elsewhere (absolute paths)."""
    data = yaml.safe_load(SAMPLE_CONFIG.read_text())
    base = SAMPLE_CONFIG.parent
    for source in data["sources"]:
        source["path"] = str((base / source["path"]).resolve())
    for key in ("registry", "org_registry", "deletions"):
        if data["consent"].get(key):
            data["consent"][key] = str((base / data["consent"][key]).resolve())
    for key, value in changes.items():
        if isinstance(value, dict):
            data[key] = {**data.get(key, {}), **value}
        else:
            data[key] = value
    path = directory / f"{data['run_name']}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def sample_copy(tmp_path: Path) -> Path:
    """A private copy of configs/ + data/sample/ that a test may break. Its run_name differs,
    so its Prefect artifact does not replace the sample runs' one."""
    shutil.copytree(REPO / "configs", tmp_path / "configs")
    shutil.copytree(REPO / "data" / "sample", tmp_path / "data" / "sample")
    config = tmp_path / "configs" / "sample.yaml"
    config.write_text(config.read_text().replace("run_name: sample\n", "run_name: sample-copy\n"))
    assert "run_name: sample-copy" in config.read_text()
    return config
