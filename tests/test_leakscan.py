"""Leak re-scan and canary gate: strict detectors, and runs that must fail closed."""

import json
from pathlib import Path

import pytest
import yaml

from redactors.config import load_config
from redactors.errors import CanaryError, GateError
from redactors.io import plan_units
from redactors.leakscan import (
    DETECTORS,
    PARTIAL_EMAIL,
    PARTIAL_PHONE,
    LeakStats,
    non_latin,
    partial_masks,
    residual_names,
    scan,
    scan_record,
    shape,
)
from redactors.preflight import preflight
from redactors.run import run_local
from redactors.state import UnitStore

from .conftest import SECRET_A


def kinds(text, replaced=()):
    return [entity for entity, _, _ in scan(text, replaced)]


def _every_detector(text, regions=()):
    """Every detector run on the text, its findings that touch no region (the oracle)."""
    return sorted(
        (entity, start, end)
        for entity, detect in DETECTORS.items()
        for start, end in detect(text)
        if not any(start < r_end and r_start < end for r_start, r_end in regions)
    )


def test_scan_skips_only_texts_a_detector_cannot_match():
    """scan() skips a detector where the text lacks a digit or an "@": the same findings as
    every detector run on every text, on texts with and without them (Arabic-Indic digits
    included)."""
    from redactors.testing.synth import generate_sample

    sample = generate_sample(seed=3, n_users=20, n_messages=600, n_posts=0, message_mix="pii_dense")
    texts = [
        *sample.messages["text"].to_list(),
        "no digits here, ann at example dot com",
        "ssn ٤٣٣-٦٥-٣١١١ and mail a.b@corp.io",
        "card 4111 1111 1111 1111",
        "bot token xoxb-abcdefghij-klmnopqrstu, key AKIAABCDEFGHIJKLMNOP",  # no digit
    ]
    every = [_every_detector(t) for t in texts]
    assert [sorted(scan(t)) for t in texts] == every
    assert sum(map(len, every)) > 100  # the texts hold what the detectors find


def test_scan_skips_only_detectors_whose_characters_are_all_replaced(redactor):
    """scan() with replaced regions skips a detector where every digit (or "@") lies in a
    region: the same findings as every detector run and then filtered by the regions, on
    the masked texts the pipeline writes (PII-dense chat: digits mostly in surrogates) and
    on regions that cover part of a number, overlap, or hide the only "@"."""
    from redactors.testing.synth import generate_sample

    sample = generate_sample(seed=4, n_users=20, n_messages=400, n_posts=0, message_mix="pii_dense")
    masked = redactor.redact(sample.messages["text"].to_list())
    cases = [(m.text, list(m.replaced)) for m in masked]
    cases += [
        ("card 4111 1111 1111 1111", [(5, 9)]),  # digits left outside: a partial card
        ("card 4111 1111 1111 1111", [(5, 24)]),  # all of it replaced
        ("call (415) 867-5309, mail ann@gmail.com", [(5, 19), (26, 39)]),
        ("call (415) 867-5309, mail ann@gmail.com", [(5, 19), (10, 12), (26, 30)]),  # overlap
        ("ssn ٤٣٣-٦٥-٣١١١ and 433-65-3111", [(4, 15)]),  # Arabic-Indic digits replaced
    ]
    assert [sorted(scan(t, r)) for t, r in cases] == [_every_detector(t, r) for t, r in cases]
    # the masked texts hold digits, and most only inside their replaced regions
    with_digits = [(t, r) for t, r in cases[:-5] if any(c.isdigit() for c in t)]
    hidden = [
        (t, r)
        for t, r in with_digits
        if not any(c.isdigit() for i, c in enumerate(t) if not any(a <= i < b for a, b in r))
    ]
    assert len(hidden) > len(with_digits) / 2 > 50
    # by hand: each holds findings, and the regions leave only the second SSN counted
    assert all(scan(t) for t, _ in cases[-5:])
    assert [scan(t, r) for t, r in cases[-5:]] == [[], [], [], [], [("US_SSN", 20, 31)]]


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


def _regions(text, *pieces):
    return [(text.index(piece), text.index(piece) + len(piece)) for piece in pieces]


def test_partial_masks_beside_a_tag_or_surrogate_are_leaks():
    text = "mail jonathan55@<URL> today"
    found = partial_masks(text, _regions(text, "<URL>"))
    assert [(entity, shape(text[s:e])) for entity, s, e in found] == [
        (PARTIAL_EMAIL, "xxxxxxxx99@")
    ]
    text = "call (415) <PHONE_NUMBER> now"
    found = partial_masks(text, _regions(text, "<PHONE_NUMBER>"))
    assert [(entity, shape(text[s:e])) for entity, s, e in found] == [(PARTIAL_PHONE, "(999) ")]
    text = "or <PHONE_NUMBER>-4567 later"
    found = partial_masks(text, _regions(text, "<PHONE_NUMBER>"))
    assert [shape(text[s:e]) for _, s, e in found] == ["-9999"]
    text = "call 415 555-0142 now"  # area code left beside a pseudonym surrogate
    found = partial_masks(text, _regions(text, "555-0142"))
    assert [(entity, text[s:e].strip()) for entity, s, e in found] == [(PARTIAL_PHONE, "415")]
    # not partial masks: a whole email masked, a year or a postcode line beside a phone,
    # digits beside a region that held no phone
    for text, pieces in [
        ("write to <EMAIL_ADDRESS> today", ("<EMAIL_ADDRESS>",)),
        ("since 2024 <PHONE_NUMBER>", ("<PHONE_NUMBER>",)),
        ("Springfield 12345\n<PHONE_NUMBER>", ("<PHONE_NUMBER>",)),
        ("room 101 <PERSON> said", ("<PERSON>",)),
        ("ip 10 a1b2c3d4e5f6 ok", ("a1b2c3d4e5f6",)),
    ]:
        assert partial_masks(text, _regions(text, *pieces)) == [], text


def test_residual_names_are_estimated_outside_masked_spans_and_kept_as_shapes():
    text = "Maria Garcia met <PERSON> and Will Smith in New York, cc Aoife Byrne"
    found = [text[s:e] for s, e in residual_names(text, _regions(text, "<PERSON>"))]
    assert found == ["Maria Garcia", "Aoife Byrne"]  # "Will", "New York": everyday words
    assert residual_names("maria garcia, MARIA", []) == []  # lower case: not estimated
    assert residual_names("Ana Lima", [(0, 8)]) == []  # a surrogate the pipeline wrote
    stats = LeakStats()
    scan_record(stats, text, _regions(text, "<PERSON>"), "messages", max_examples=5)
    assert (stats.records_with_names, stats.name_pairs) == (1, 2)
    assert stats.name_shapes == ["Xxxxx Xxxxxx", "Xxxxx Xxxxx"]
    assert stats.records_with_hits == 0  # an estimate, not a leak of the strict scan
    assert "Maria" not in repr(stats) and "Byrne" not in repr(stats)


def test_records_in_non_latin_scripts_are_counted():
    assert non_latin("Привет, как дела?") and non_latin("今日は会議です") and non_latin("مرحبا")
    assert not non_latin("Noémie Łukasz Ðặng, ça va?") and not non_latin("12345 :)")


def _config_without_ssn(sample_copy, gates=None, **leak_scan):
    data = yaml.safe_load(sample_copy.read_text())
    data["detection"]["entities"].remove("US_SSN")
    data["masking"]["operators"].pop("US_SSN", None)
    data["leak_scan"] = leak_scan
    if gates is not None:
        data["gates"] = gates
    sample_copy.write_text(yaml.safe_dump(data))
    return load_config(sample_copy)


@pytest.mark.slow
def test_leak_scan_counts_what_detection_missed(sample_copy):
    # SSNs left in the clear fail the default leak gate; a reviewer loosening it publishes.
    config = _config_without_ssn(sample_copy, gates={"max_leak_rate": 0.5})
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
@pytest.mark.parametrize("setting", ["default gate", "leak_scan.fail_above_rate"])
def test_run_fails_closed_above_the_leak_threshold(sample_copy, setting):
    if setting == "default gate":
        config = _config_without_ssn(sample_copy)
    else:  # the older key still applies when it is the stricter one
        config = _config_without_ssn(sample_copy, {"max_leak_rate": 0.5}, fail_above_rate=0.001)
    output = sample_copy.parent.parent / "out"
    with pytest.raises(GateError, match="US_SSN") as error:
        run_local(config, str(sample_copy), output, SECRET_A)
    assert "output not published" in str(error.value)
    assert setting.replace("default gate", "gates.max_leak_rate") in str(error.value)
    assert not output.exists()
    failed = json.loads((Path(error.value.report_dir) / "report.json").read_text())
    assert failed["verdict"]["failed"] == ["leak_rate"]
    assert failed["residual_risk"]["hits_by_entity"]["US_SSN"] >= 20
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
    sha = preflight(sample_config, tmp_path / "out", SECRET_A).consent_sha256

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
