"""Leak re-scan and canary gate: strict detectors, and runs that must fail closed."""

import json

import pytest
import yaml

from redactors.config import load_config
from redactors.errors import CanaryError, ResidualRiskError
from redactors.io import plan_units
from redactors.leakscan import scan, shape
from redactors.preflight import preflight
from redactors.run import run_local
from redactors.state import UnitStore

from .conftest import SECRET_A


def kinds(text, replaced=()):
    return [entity for entity, _, _ in scan(text, replaced)]


def test_strict_detectors_validate_before_counting():
    assert kinds("card 4111 1111 1111 1111") == ["CREDIT_CARD"]
    assert kinds("card 4111 1111 1111 1112") == []  # Luhn fails
    assert kinds("ssn 433-65-3111") == ["US_SSN"]
    assert kinds("ssn 000-65-3111 or 666-12-1234 or 912-34-5678") == []  # never issued
    assert kinds("iban DE89 3704 0044 0532 0130 00") == ["IBAN_CODE"]
    assert kinds("iban DE00 3704 0044 0532 0130 00") == []  # checksum fails
    assert kinds("mail ann@gmail.com") == ["EMAIL_ADDRESS"]
    assert kinds("mail ann.lee42@example.org") == []  # reserved for examples (surrogates)
    assert kinds("key AKIAIOSFODNN7EXAMPLE") == ["SECRET"]
    assert kinds("call (415) 867-5309") == ["PHONE_NUMBER"]
    assert kinds("order 48213, v2.3.1, $12.99, 2026-03-04 12:33") == []


def test_replaced_regions_are_not_leaks():
    text = "call (415) 555-0142 now"  # a pseudonym the pipeline wrote at 5..19
    assert kinds(text) == ["PHONE_NUMBER"]
    assert kinds(text, [(5, 19)]) == []


def test_shapes_hide_the_value():
    assert shape("ann.lee42@gmail.com") == "xxx.xxx99@xxxxx.xxx"
    assert shape("433-65-3111") == "999-99-9999"


def _config_without_ssn(sample_copy, **leak_scan):
    data = yaml.safe_load(sample_copy.read_text())
    data["detection"]["entities"].remove("US_SSN")
    data["masking"]["operators"].pop("US_SSN", None)
    data["leak_scan"] = leak_scan
    sample_copy.write_text(yaml.safe_dump(data))
    return load_config(sample_copy)


@pytest.mark.slow
def test_leak_scan_counts_what_detection_missed(sample_copy):
    config = _config_without_ssn(sample_copy)
    output = sample_copy.parent.parent / "out"
    report = run_local(config, str(sample_copy), output, SECRET_A)
    risk = report["residual_risk"]
    totals = report["totals"]  # scanned before dedup
    assert risk["status"] == "measured"
    assert risk["records_scanned"] == totals["records_out"] + totals["records_deduplicated"]
    assert risk["hits_by_entity"].get("US_SSN", 0) >= 20
    assert risk["records_with_hits"] >= 20 and risk["passed"] is True
    assert {e["shape"] for e in risk["examples"] if e["entity"] == "US_SSN"} == {"999-99-9999"}
    html = (output / "report.html").read_text()
    assert "Leak re-scan" in html and "999-99-9999" in html


@pytest.mark.slow
def test_run_fails_closed_above_the_leak_threshold(sample_copy):
    config = _config_without_ssn(sample_copy, fail_above_rate=0.001)
    output = sample_copy.parent.parent / "out"
    with pytest.raises(ResidualRiskError, match="US_SSN") as error:
        run_local(config, str(sample_copy), output, SECRET_A)
    assert "output not published" in str(error.value)
    assert not output.exists()
    # nothing but the (empty) lock file of the output location
    assert [p.name for p in output.parent.iterdir() if p.name.startswith(".out.")] == [".out.lock"]


@pytest.mark.slow
def test_canary_gate(sample_copy):
    data = yaml.safe_load(sample_copy.read_text())
    data["canaries"] = {"count": 150, "fail_below_recall": 1.0}  # names are never perfect
    sample_copy.write_text(yaml.safe_dump(data))
    output = sample_copy.parent.parent / "out"
    with pytest.raises(CanaryError, match="PERSON") as error:
        run_local(load_config(sample_copy), str(sample_copy), output, SECRET_A)
    assert "nothing was processed" in str(error.value)
    assert not output.exists()

    data["canaries"] = {"count": 150, "fail_below_recall": 0.8}
    sample_copy.write_text(yaml.safe_dump(data))
    report = run_local(load_config(sample_copy), str(sample_copy), output, SECRET_A)
    canaries = json.loads((output / "report.json").read_text())["canaries"]
    assert canaries == report["canaries"]
    assert canaries["passed"] and canaries["count"] == 150
    assert set(canaries["recall_by_entity"]) <= set(load_config(sample_copy).detection.entities)
    assert canaries["recall_by_entity"]["EMAIL_ADDRESS"] == 1.0


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_flow_whose_canaries_fail_redacts_and_publishes_nothing(sample_copy, monkeypatch):
    """Each worker (here two threads) checks its own engines inside its first unit, before
    redacting anything, so no unit is redacted, stored or published."""
    from pipelines.redact import redact_flow, task_runner_for

    data = yaml.safe_load(sample_copy.read_text())
    data["canaries"] = {"count": 150, "fail_below_recall": 1.0}  # names are never perfect
    sample_copy.write_text(yaml.safe_dump(data))
    assert len(plan_units(load_config(sample_copy)).units) > 2  # more units than workers
    output = sample_copy.parent.parent / "out"
    monkeypatch.setenv("REDACT_SECRET", SECRET_A)
    flow = redact_flow.with_options(task_runner=task_runner_for("threads", 2))
    with pytest.raises(CanaryError, match="PERSON"):
        flow(config_path=str(sample_copy), output=str(output))
    assert not output.exists()
    assert UnitStore.for_output(output).count() == 0  # no unit was redacted, so none stored
    assert [p.name for p in output.parent.iterdir() if p.name.startswith(".out.")] == [".out.lock"]


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_a_rerun_that_reuses_every_unit_still_reports_canaries(sample_copy, monkeypatch):
    """Units bring the canary result of the engines that redacted them; when every unit is
    reused from the state store none did, and a worker runs the check for the report."""
    from pipelines.redact import redact_flow, task_runner_for

    output = sample_copy.parent.parent / "out"
    monkeypatch.setenv("REDACT_SECRET", SECRET_A)
    flow = redact_flow.with_options(task_runner=task_runner_for("threads", 1))
    first = flow(config_path=str(sample_copy), output=str(output))
    again = flow(config_path=str(sample_copy), output=str(output))
    assert again["incremental"]["units_processed"] == 0
    assert again["incremental"]["units_reused"] == again["incremental"]["units"] > 0
    assert first["canaries"]["status"] == again["canaries"]["status"] == "measured"
    assert again["canaries"]["recall_by_entity"] == first["canaries"]["recall_by_entity"]


def test_a_worker_checks_its_engines_once_per_run(sample_config, monkeypatch, tmp_path):
    """Before a worker's engines redact anything in a run they pass the canaries there;
    once per run and worker (detection is deterministic), again in the next run. A failure
    is kept for the run: every later unit on these engines fails at once."""
    from concurrent.futures import ThreadPoolExecutor

    from pipelines import redact
    from redactors import unit

    checked, failing = [], [True]

    def check(config, engines):  # the real check, made to fail in the first run
        checked.append(engines)
        if failing[0]:
            raise CanaryError("canary recall below canaries.fail_below_recall 1.0: {}")
        return real(config, engines)

    real = unit.check_canaries
    monkeypatch.setattr(unit, "check_canaries", check)
    monkeypatch.setenv("REDACT_SECRET", SECRET_A)
    sha = preflight(sample_config, tmp_path / "out", SECRET_A).registry_fingerprint["sha256"]

    def worker() -> None:  # a fresh thread: a worker with no engines yet
        for _ in range(2):
            with pytest.raises(CanaryError, match="below"):
                redact._checked(sample_config, sha, "run-0")
        assert len(checked) == 1  # the failure was kept, not checked again
        failing[0] = False
        first, result = redact._checked(sample_config, sha, "run-1")  # a new run: again
        assert result["passed"] and result["count"] == sample_config.canaries.count
        assert redact._checked(sample_config, sha, "run-1") == (first, result)
        assert len(checked) == 2
        assert redact._checked(sample_config, sha, "run-2")[0] is first  # kept between runs
        assert len(checked) == 3 and all(engines is first for engines in checked)

    with ThreadPoolExecutor(1) as pool:
        pool.submit(worker).result()


def test_the_report_takes_the_lowest_canary_result_of_the_workers(caplog):
    """Workers on the same install give the same result; when they do not, the report
    shows the worst one and the log says the engines differ."""
    import logging

    from redactors.run import lowest_canaries

    good = {"status": "measured", "lowest_recall": 0.97, "recall_by_entity": {"PERSON": 0.97}}
    bad = {"status": "measured", "lowest_recall": 0.4, "recall_by_entity": {"PERSON": 0.4}}
    logger = logging.getLogger("test-canaries")
    with caplog.at_level(logging.WARNING, logger="test-canaries"):
        assert lowest_canaries([good, dict(good)], logger) == good
        assert not caplog.records
        assert lowest_canaries([good, bad, good], logger) == bad
        assert "differ between workers" in caplog.text
