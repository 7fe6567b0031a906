"""Alert thresholds end a run failed before anything is published (so Prefect automations
or a scheduler's exit code can page someone), and unit retries happen for I/O errors only."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from prefect.states import Failed

from pipelines.redact import _retry_if_transient
from redactors.config import load_config
from redactors.errors import InputError, ThresholdError, UnitError
from redactors.run import run_local
from tests.conftest import SECRET_A
from tests.test_incremental import _config, _shards, _write_exports

pytestmark = pytest.mark.slow


@pytest.fixture
def exports(tmp_path: Path) -> Path:
    _write_exports(tmp_path / "exports")
    return tmp_path / "exports"


def test_a_drop_rate_above_the_threshold_publishes_nothing(tmp_path: Path, exports: Path) -> None:
    output = tmp_path / "out"
    ok = _config(tmp_path, exports)
    first = run_local(load_config(ok), str(ok), output, SECRET_A)
    rate = first["totals"]["records_dropped"] / first["totals"]["records_in"]
    before = _shards(output)
    strict = _config(tmp_path, exports, report={"fail_above_drop_rate": round(rate - 0.05, 2)})
    with pytest.raises(ThresholdError, match="fail_above_drop_rate") as error:
        run_local(load_config(strict), str(strict), output, SECRET_A)
    assert "consent registry" in str(error.value)
    assert _shards(output) == before  # the previous output stays
    assert not list(tmp_path.glob(".out.staging-*"))
    # the failed run's report lies next to the output, never in it, and says why
    [failed] = tmp_path.glob("out.failed-*/report.json")
    assert json.loads(failed.read_text())["verdict"]["failed"] == ["consent_drop_rate"]
    assert not list(output.glob("*failed*"))
    lenient = _config(tmp_path, exports, report={"fail_above_drop_rate": round(rate + 0.05, 2)})
    run_local(load_config(lenient), str(lenient), output, SECRET_A)


def test_a_flagged_change_fails_the_run_when_asked(tmp_path: Path, exports: Path) -> None:
    output = tmp_path / "out"
    config = _config(tmp_path, exports, report={"fail_on_change": True})
    run_local(load_config(config), str(config), output, SECRET_A)
    # Same data, PERSON findings (spaCy scores 0.85) now under the threshold: the PERSON
    # rate collapses, which is flagged.
    thresholds = {**load_config(config).detection.entity_thresholds, "PERSON": 0.99}
    detection = {"entity_thresholds": thresholds}
    changed = _config(tmp_path, exports, report={"fail_on_change": True}, detection=detection)
    with pytest.raises(ThresholdError, match="PERSON"):
        run_local(load_config(changed), str(changed), output, SECRET_A)


def test_a_threshold_failure_is_a_failed_prefect_flow_run(
    prefect_harness: None, tmp_path: Path, exports: Path
) -> None:
    from pipelines.redact import redact_flow

    config = _config(tmp_path, exports, report={"fail_above_drop_rate": 0.01})
    os.environ["REDACT_SECRET"] = SECRET_A
    try:
        state = redact_flow(
            config_path=str(config), output=str(tmp_path / "out"), return_state=True
        )
    finally:
        os.environ.pop("REDACT_SECRET", None)
    assert state.is_failed()
    assert "fail_above_drop_rate" in state.message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (UnitError("unit x failed: OSError at io.py:1", transient=True), True),
        (OSError(5, "Input/output error"), True),
        (UnitError("unit x failed: ValueError at x.py:1"), False),
        (InputError("f.parquet: column 'text' has type int64"), False),
        (ThresholdError("too many drops"), False),
    ],
)
def test_units_are_retried_after_io_errors_only(error: BaseException, retried: bool) -> None:
    assert _retry_if_transient(None, None, Failed(data=error)) is retried
