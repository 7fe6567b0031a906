"""Release gates and the verdict: every gate's FAIL blocks publishing (real runs), the failed
run's report lands next to the output, --accept-risk publishes and records who and why."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from redactors.config import RunConfig, load_config
from redactors.errors import GateError
from redactors.gates import verdict
from redactors.manifest import Manifest
from redactors.report import Report
from redactors.run import run_local
from tests.conftest import SAMPLE_CONFIG, SECRET_A

REGISTRY = (SAMPLE_CONFIG.parent / "../data/sample/consent.parquet").resolve()
# Users of data/sample/consent.parquet in the US: most consented, two not (latest status
# deleted or opted_out), so every text reaches a shard and some records are dropped.
USERS = ["U6SFVQ6MU", "UIBFGSBKN", "UDM1KQIW2", "UBYGK3QUE", "UXLI1I3DE"]
OPTED_OUT = "UXLI1I3DE"
# Every measured value of the gates is above zero on these texts under RISKY_DETECTION
# (no phone or email detection, no PERSON, date of birth never found): a reviewer's
# tightening of any one gate to its strictest makes exactly that gate fail.
TEXTS = [
    "call me on (415) 867-5309 tonight",
    "Maria Garcia will join the call",
    "mail jonathan55@gmail.com about it",
    "born 03/04/1990, the form says",
    "thanks, see you tomorrow",
    "ok",
    "the build passed again",
    "lunch at noon?",
]
RISKY_DETECTION = {
    "entities": ["CREDIT_CARD", "US_SSN", "DATE_OF_BIRTH", "URL"],
    "entity_thresholds": {"DATE_OF_BIRTH": 1.0},
    "mask_registry_names": False,
}
LOOSE_GATES: dict[str, Any] = {
    "max_consent_drop_rate": 1.0,
    "max_unregistered_rate": 1.0,
    "max_leak_rate": 1.0,
    "min_canary_recall": 0.0,
    "max_quarantine_rate": 1.0,
    "max_undetected_entities": 10,
    "max_name_leak_rate": 1.0,
}
# The strictest setting of each gate (a reviewer tightening it), and the gate id it fails.
TIGHTEN: dict[str, tuple[dict[str, Any], str]] = {
    "consent drop rate": ({"max_consent_drop_rate": 0.0}, "consent_drop_rate"),
    "kept without registry row": ({"max_unregistered_rate": 0.0}, "consent_unregistered"),
    "leak re-scan": ({"max_leak_rate": 0.0}, "leak_rate"),
    "residual names": ({"max_name_leak_rate": 0.0}, "name_leak_rate"),
    "canary recall": ({"min_canary_recall": 1.0}, "canary_recall.DATE_OF_BIRTH"),
    "quarantine": ({"max_quarantine_rate": 0.0}, "quarantine_rate"),
    "undetected entities": ({"max_undetected_entities": 0}, "undetected_entities"),
}


def _write_export(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    users: list[str | None] = []
    texts: list[str] = []
    for index, text in enumerate(TEXTS * 3):
        users.append(USERS[index % len(USERS)])
        texts.append(text)
    # kept without a registry row (opt_out), dropped (opted out), quarantined (no user)
    users += ["U0NOTREGISTERED", "U1NOTREGISTERED", OPTED_OUT, None]
    texts += ["hello there", "ok then", "not for training", "a row without a user"]
    start = datetime(2026, 11, 1, tzinfo=UTC)
    frame = pl.DataFrame(
        {
            "message_id": [f"m{i}" for i in range(len(texts))],
            "user_id": users,
            "ts": [start.replace(minute=i % 60) for i in range(len(texts))],
            "text": texts,
        },
        schema={
            "message_id": pl.String,
            "user_id": pl.String,
            "ts": pl.Datetime("us", "UTC"),
            "text": pl.String,
        },
    )
    path = directory / "messages.parquet"
    frame.write_parquet(path)
    return path


def _config(root: Path, export: Path, gates: dict[str, Any], name: str) -> Path:
    data = yaml.safe_load(SAMPLE_CONFIG.read_text())
    data["run_name"] = "verdict"
    data["sources"] = [s for s in data["sources"] if s["name"] == "messages"]
    data["sources"][0]["path"] = str(export)
    data["sources"][0].pop("org_column", None)  # this export has no workspace column
    data["consent"] = {"registry": str(REGISTRY), "policy": "opt_out", "excluded_regions": []}
    data["detection"] = {**data["detection"], **RISKY_DETECTION}
    data["masking"]["operators"] = {}
    data["canaries"] = {"count": 60}
    data["gates"] = gates
    data["review"] = {"purpose": "test sign-off", "approver": "Privacy lead"}
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _published(output: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(output)): p.read_bytes() for p in sorted(output.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def risky(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A published baseline run of risky data with every gate loosened."""
    root = tmp_path_factory.mktemp("verdict")
    export = _write_export(root / "exports")
    output = root / "out"
    config = _config(root, export, LOOSE_GATES, "loose")
    report = run_local(load_config(config), str(config), output, SECRET_A)
    return {"root": root, "export": export, "output": output, "report": report}


@pytest.mark.slow
def test_the_risky_baseline_measures_every_gate_above_zero(risky: dict[str, Any]) -> None:
    report = Report.model_validate(risky["report"])
    assert report.verdict is not None and report.verdict.result == "PASS"
    risk = report.residual_risk
    assert risk.hits_by_entity["PHONE_NUMBER"] >= 1
    # URL detection took "gmail.com": the local part is left beside the tag (jonathan55@<URL>)
    assert risk.hits_by_entity["EMAIL_ADDRESS (partly masked)"] >= 1
    assert risk.records_with_names >= 1 and risk.name_shapes == ["Xxxxx Xxxxxx"]
    assert report.totals.records_quarantined == 1 and report.totals.kept_not_in_registry >= 1
    assert report.canaries.recall_by_entity["DATE_OF_BIRTH"] == 0
    assert report.coverage is not None
    assert {"EMAIL_ADDRESS", "PHONE_NUMBER", "PERSON"} <= set(report.coverage.not_detected)
    # the report never quotes what it found
    text = (risky["output"] / "report.json").read_text() + (
        risky["output"] / "report.html"
    ).read_text()
    for secret in ("Maria", "Garcia", "867-5309", "jonathan55", "U0NOTREGISTERED"):
        assert secret not in text


@pytest.mark.slow
@pytest.mark.parametrize("gate", sorted(TIGHTEN))
def test_every_gate_that_fails_blocks_publishing(risky: dict[str, Any], gate: str) -> None:
    tighten, gate_id = TIGHTEN[gate]
    root, output = risky["root"], risky["output"]
    before = _published(output)
    config = _config(root, risky["export"], {**LOOSE_GATES, **tighten}, f"tight-{gate_id}")
    with pytest.raises(GateError, match="not published") as error:
        run_local(load_config(config), str(config), output, SECRET_A)
    assert _published(output) == before  # previous output untouched, nothing published
    assert not list(root.glob(".out.staging-*"))
    report_dir = Path(str(error.value.report_dir))
    assert report_dir.parent == output.parent and report_dir.name.startswith("out.failed-")
    failed = Report.read(report_dir / "report.json")
    assert failed.verdict is not None and failed.verdict.result == "FAIL"
    assert gate_id in failed.verdict.failed and not failed.verdict.published
    html = (report_dir / "report.html").read_text()
    assert "Verdict: FAIL" in html and "not published" in html


@pytest.mark.slow
def test_accept_risk_publishes_and_records_who_and_why(
    risky: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDACT_ACCEPTED_BY", "dpo@example.org")
    root, output = risky["root"], risky["output"]
    config = _config(root, risky["export"], {**LOOSE_GATES, "max_leak_rate": 0.0}, "accepted")
    reason = "synthetic test data, no real people"
    report = Report.model_validate(
        run_local(load_config(config), str(config), output, SECRET_A, accept_risk=reason)
    )
    assert report.verdict is not None and report.verdict.result == "FAIL"
    assert report.verdict.published
    accepted = report.verdict.risk_acceptance
    assert accepted is not None
    assert accepted["accepted_by"] == "dpo@example.org" and accepted["reason"] == reason
    assert accepted["failed_gates"] == ["leak_rate"]
    manifest = Manifest.read(output / "manifest.json")
    assert manifest.risk_acceptance == accepted
    html = (output / "report.html").read_text()
    assert "published with accepted risk" in html and reason in html
    assert "test sign-off" in html and "Privacy lead" in html  # review: sign-off block


@pytest.mark.slow
def test_the_cli_exits_non_zero_on_fail_and_prints_the_verdict(
    prefect_harness: None, risky: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines import cli

    monkeypatch.setenv("REDACT_SECRET", SECRET_A)
    root = risky["root"]
    output = root / "cli-out"
    strict = _config(root, risky["export"], {**LOOSE_GATES, "max_leak_rate": 0.0}, "cli-strict")
    result = CliRunner().invoke(cli.app, ["run", "--config", str(strict), "--output", str(output)])
    assert result.exit_code == 2
    assert "verdict FAIL" in result.output and "gates.max_leak_rate" in result.output
    assert not output.exists() and list(root.glob("cli-out.failed-*/report.html"))
    result = CliRunner().invoke(
        cli.app,
        ["run", "--config", str(strict), "--output", str(output), "--accept-risk", "test data"],
    )
    assert result.exit_code == 0, result.output
    assert "verdict:  FAIL: published with accepted risk" in result.output
    assert (output / "shards").is_dir()


# ------------------------------------------------------------------ the verdict, pure

rates = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


def _report(measured: dict[str, Any]) -> Report:
    records_in = 1000
    return Report.model_validate(
        {
            "run": {"run_id": "r", "model": {"name": "m"}},
            "totals": {
                "records_in": records_in,
                "records_dropped": int(measured["drop"] * records_in),
                "records_quarantined": int(measured["quarantine"] * records_in),
                "records_out": records_in,
                "kept_not_in_registry": int(measured["unregistered"] * records_in),
            },
            "residual_risk": {
                "status": "measured",
                "rate": measured["leak"],
                "name_rate": measured["names"],
            },
            "canaries": {
                "status": "measured",
                "recall_by_entity": {"PERSON": measured["person"], "URL": measured["url"]},
            },
        }
    )


@settings(max_examples=300, deadline=None)
@given(
    measured=st.fixed_dictionaries(
        {
            "drop": rates,
            "quarantine": rates,
            "unregistered": rates,
            "leak": rates,
            "names": rates,
            "person": rates,
            "url": rates,
        }
    ),
    thresholds=st.fixed_dictionaries(
        {
            "max_consent_drop_rate": rates,
            "max_quarantine_rate": rates,
            "max_unregistered_rate": rates,
            "max_leak_rate": rates,
            "max_name_leak_rate": rates,
            "min_canary_recall": rates,
        }
    ),
)
def test_the_verdict_fails_exactly_when_a_gate_fails(
    sample_config: RunConfig, measured: dict[str, Any], thresholds: dict[str, float]
) -> None:
    config = sample_config.model_copy(
        update={
            "detection": sample_config.detection.model_copy(update={"entities": ["PERSON", "URL"]}),
            "gates": sample_config.gates.model_copy(update=thresholds),
        }
    )
    report = _report(measured)
    result = verdict(config, report)
    totals = report.totals
    kept = 1000 - totals.records_quarantined - totals.records_dropped
    expected = {
        "consent_drop_rate": totals.records_dropped / 1000 > thresholds["max_consent_drop_rate"],
        "quarantine_rate": totals.records_quarantined / 1000 > thresholds["max_quarantine_rate"],
        "consent_unregistered": (
            min(totals.kept_not_in_registry / kept, 1.0) if kept > 0 else 0.0
        )
        > thresholds["max_unregistered_rate"],
        "leak_rate": measured["leak"] > thresholds["max_leak_rate"],
        "name_leak_rate": measured["names"] > thresholds["max_name_leak_rate"],
        "canary_recall.PERSON": measured["person"] < thresholds["min_canary_recall"],
        "canary_recall.URL": measured["url"] < thresholds["min_canary_recall"],
        "undetected_entities": measured["person"] == 0 or measured["url"] == 0,
    }
    assert sorted(result.failed) == sorted(gate for gate, fails in expected.items() if fails)
    assert result.result == ("FAIL" if any(expected.values()) else "PASS")
    assert result.published == (result.result == "PASS")
    # every gate is in the table with its threshold and measured value
    assert {gate.id for gate in result.gates} == set(expected)
    assert all(gate.threshold and gate.measured for gate in result.gates)
    json.dumps(result.to_json())  # serialisable as written to report.json


@pytest.mark.slow
def test_compare_shows_which_run_is_newer_what_changed_and_flags_from_zero(
    risky: dict[str, Any], tmp_path: Path
) -> None:
    from pipelines import cli

    root = risky["root"]
    older = tmp_path / "older"
    older.mkdir()
    (older / "report.json").write_text(json.dumps(risky["report"]))
    config = yaml.safe_load(_config(root, risky["export"], LOOSE_GATES, "opt-in").read_text())
    config["consent"] = {"registry": str(REGISTRY), "policy": "opt_in", "excluded_regions": ["CH"]}
    path = root / "opt-in.yaml"
    path.write_text(yaml.safe_dump(config))
    newer = root / "out-opt-in"
    run_local(load_config(path), str(path), newer, SECRET_A)
    newer_id = Report.read(newer / "report.json").run.run_id
    older_id = risky["report"]["run"]["run_id"]
    for first, second in ((newer, older), (older, newer)):  # either order, same labels
        page = tmp_path / f"compare-{first.name}.html"
        result = CliRunner().invoke(
            cli.app, ["report", str(first), "--compare", str(second), "--html", str(page)]
        )
        assert result.exit_code == 0, result.output
        assert f"newer run: {newer_id} in {newer}" in result.output
        assert "flagged: drop_rate.not_in_registry" in result.output  # 0 -> above 0
        html = page.read_text()
        header = html[: html.index("How the runs were made")]
        assert header.index(older_id) < header.index(newer_id)  # older column, then newer
        assert header.index(str(older)) < header.index(str(newer))
        assert "different output locations" in header and "same output location" not in header
        assert f"the first is the {'newer' if first == newer else 'older'} run" in header
        for setting in ("consent policy", "excluded regions"):
            row = html[html.index(f"<td>{setting}</td>") - 30 : html.index(f"<td>{setting}</td>")]
            assert 'class="changed"' in row, setting
        assert "from 0" in html
