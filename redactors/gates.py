"""Release gates and the run's verdict: pure functions of the config and the typed report.

Every gate compares one measured value with a threshold a reviewer can tighten
(``gates:`` in the config; older keys such as ``leak_scan.fail_above_rate`` still apply and
the stricter of the two wins). The verdict is PASS when every measured gate passed, FAIL
otherwise; finalize publishes a FAIL only with an accepted risk (``--accept-risk``).
Values here are counts, rates and entity names: never text or ids.
"""

from __future__ import annotations

import getpass
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redactors.config import NON_CONSENTED_ENTITY, RunConfig
from redactors.report import Coverage, GateResult, Report, Verdict

PASS, FAIL, NOT_MEASURED = "PASS", "FAIL", "NOT MEASURED"
# Gates whose failure means masked text leaked: units behind it are not kept for reuse.
LEAK_GATES = ("leak_rate", "name_leak_rate")
# PII kinds the canaries and eval sets know (redactors/evalset.py) and common Presidio ones:
# the types a reviewer should see listed when a config does not detect them.
KNOWN_PII = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "US_SSN",
    "IP_ADDRESS",
    "IBAN_CODE",
    "URL",
    "STREET_ADDRESS",
    "USER_MENTION",
    "SECRET",
    "DATE_OF_BIRTH",
)
EXTERNAL_EVAL = Path(__file__).resolve().parent.parent / "bench" / "eval_external.json"


def _pct(value: float) -> str:
    return f"{100 * value:.2f}%"


def _gate(
    gate_id: str,
    name: str,
    group: str,
    *,
    measured: float | None,
    threshold: float,
    at_most: bool,
    config_key: str,
    fmt: Any = _pct,
    note: str | None = None,
) -> GateResult:
    if measured is None:
        result, shown = NOT_MEASURED, "not measured"
    else:
        ok = measured <= threshold if at_most else measured >= threshold
        result, shown = (PASS if ok else FAIL), fmt(measured)
    return GateResult(
        id=gate_id,
        name=name,
        group=group,
        threshold=("≤ " if at_most else "≥ ") + fmt(threshold),
        measured=shown,
        result=result,
        config_key=config_key,
        note=note,
    )


def _stricter_max(
    default: float, key: str, other: float | None, other_key: str
) -> tuple[float, str]:
    return (other, other_key) if other is not None and other < default else (default, key)


def evaluate_gates(config: RunConfig, report: Report) -> list[GateResult]:
    """Every gate of a run, in the order the reviewer reads them."""
    gates = config.gates
    totals = report.totals
    records_in = totals.records_in
    gate_list: list[GateResult] = []

    limit, key = _stricter_max(
        gates.max_consent_drop_rate,
        "gates.max_consent_drop_rate",
        config.report.fail_above_drop_rate,
        "report.fail_above_drop_rate",
    )
    gate_list.append(
        _gate(
            "consent_drop_rate",
            "Consent: input records dropped for consent",
            "consent",
            measured=totals.records_dropped / records_in if records_in else 0.0,
            threshold=limit,
            at_most=True,
            config_key=key,
            note="a broken or stale consent registry drops nearly everything: is the "
            "consent registry complete?",
        )
    )
    # records the consent gate kept (empty texts among them are skipped later)
    kept = totals.records_in - totals.records_quarantined - totals.records_dropped
    gate_list.append(
        _gate(
            "consent_unregistered",
            "Consent: records kept without a registry row",
            "consent",
            measured=min(totals.kept_not_in_registry / kept, 1.0) if kept > 0 else 0.0,
            threshold=gates.max_unregistered_rate,
            at_most=True,
            config_key="gates.max_unregistered_rate",
            note="0 under opt_in; under opt_out, records resting on a missing opt-out",
        )
    )

    risk = report.residual_risk
    measured = risk.status == "measured"
    limit, key = _stricter_max(
        gates.max_leak_rate,
        "gates.max_leak_rate",
        config.leak_scan.fail_above_rate,
        "leak_scan.fail_above_rate",
    )
    hits = ", ".join(f"{e} {n}" for e, n in risk.hits_by_entity.items())
    gate_list.append(
        _gate(
            "leak_rate",
            "Leak re-scan: records with a PII-like value left",
            "leaks",
            measured=risk.rate if measured else None,
            threshold=limit,
            at_most=True,
            config_key=key,
            note=(f"{risk.records_with_hits} of {risk.records_scanned} records; {hits}")
            if measured and risk.records_with_hits
            else None,
        )
    )
    gate_list.append(
        _gate(
            "name_leak_rate",
            "Residual names (estimate): records with a first + last name left",
            "leaks",
            measured=risk.name_rate if measured else None,
            threshold=gates.max_name_leak_rate,
            at_most=True,
            config_key="gates.max_name_leak_rate",
            note=f"{risk.records_with_names} records, {risk.name_pairs} name pairs"
            if measured and risk.records_with_names
            else None,
        )
    )

    canaries = report.canaries
    detected = [e for e in config.detection.entities if e != NON_CONSENTED_ENTITY]
    if canaries.status == "measured":
        for entity in detected:
            recall = canaries.recall_by_entity.get(entity)
            if recall is None:
                continue  # no canary of this kind: listed under coverage, not gated
            threshold = gates.canary_recall.get(entity, gates.min_canary_recall)
            if config.canaries.fail_below_recall is not None:
                threshold = max(threshold, config.canaries.fail_below_recall)
            gate_list.append(
                _gate(
                    f"canary_recall.{entity}",
                    f"Canary recall: {entity}",
                    "canaries",
                    measured=float(recall),
                    threshold=threshold,
                    at_most=False,
                    config_key=f"gates.canary_recall.{entity}"
                    if entity in gates.canary_recall
                    else "gates.min_canary_recall",
                    fmt=lambda value: f"{value:.3f}",
                )
            )
        undetected = [e for e in detected if canaries.recall_by_entity.get(e) == 0]
    else:
        gate_list.append(
            _gate(
                "canary_recall",
                "Canary recall (every configured entity)",
                "canaries",
                measured=None,
                threshold=gates.min_canary_recall,
                at_most=False,
                config_key="gates.min_canary_recall",
                fmt=lambda value: f"{value:.3f}",
                note=f"canaries {canaries.status}",
            )
        )
        undetected = None

    gate_list.append(
        _gate(
            "quarantine_rate",
            "Quarantine: input rows that could not be processed safely",
            "input",
            measured=totals.records_quarantined / records_in if records_in else 0.0,
            threshold=gates.max_quarantine_rate,
            at_most=True,
            config_key="gates.max_quarantine_rate",
        )
    )
    gate_list.append(
        _gate(
            "undetected_entities",
            "Configured entity types never detected (canary recall 0)",
            "coverage",
            measured=None if undetected is None else float(len(undetected)),
            threshold=float(gates.max_undetected_entities),
            at_most=True,
            config_key="gates.max_undetected_entities",
            fmt=lambda value: f"{int(value)}",
            note=", ".join(undetected) if undetected else None,
        )
    )
    if config.report.fail_on_change:
        flags = report.change.flags
        gate_list.append(
            _gate(
                "change",
                "Rates that moved since the previous run",
                "change",
                measured=float(len(flags)) if report.change.status == "compared" else 0.0,
                threshold=0.0,
                at_most=True,
                config_key="report.fail_on_change",
                fmt=lambda value: f"{int(value)}",
                note=f"moved more than report.change_threshold "
                f"{config.report.change_threshold:.0%}: {', '.join(flags)}"
                if flags
                else None,
            )
        )
    return gate_list


def verdict(config: RunConfig, report: Report) -> Verdict:
    """PASS or FAIL from every gate (published is decided by finalize)."""
    gate_list = evaluate_gates(config, report)
    failed = [gate.id for gate in gate_list if gate.result == FAIL]
    not_measured = [gate.id for gate in gate_list if gate.result == NOT_MEASURED]
    if config.gates.require_measured:
        failed += not_measured
    return Verdict(
        result=FAIL if failed else PASS,
        published=not failed,
        gates=gate_list,
        failed=failed,
        not_measured=not_measured,
    )


def failure_message(result: Verdict) -> str:
    """One line per failed gate: measured, threshold, the config key to change."""
    lines = []
    for gate in result.gates:
        if gate.id in result.failed:
            line = f"{gate.name}: {gate.measured}, threshold {gate.threshold} ({gate.config_key})"
            lines.append(line + (f"; {gate.note}" if gate.note else ""))
    return "; ".join(lines)


def risk_acceptance(reason: str, accepted_by: str | None, failed: list[str]) -> dict[str, Any]:
    """Who published a failing run, why, when, and past which gates."""
    return {
        "accepted_by": accepted_by or operator_name(),
        "reason": reason,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "failed_gates": list(failed),
    }


def operator_name() -> str:
    """Who runs this: REDACT_ACCEPTED_BY, else the login name."""
    named = os.environ.get("REDACT_ACCEPTED_BY")
    if named:
        return named
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def coverage(config: RunConfig, report: Report, external: Path = EXTERNAL_EVAL) -> Coverage:
    """Residual-risk coverage: recall per entity (canaries, external devsets), types the
    config does not detect, share of records in non-Latin scripts."""
    risk = report.residual_risk
    return Coverage(
        canary_recall=dict(report.canaries.recall_by_entity),
        external=external_recall(external, report.run.model),
        not_detected=sorted(set(KNOWN_PII) - set(config.detection.entities)),
        non_latin_share=risk.non_latin_share if risk.status == "measured" else None,
    )


def external_recall(path: Path, run_model: dict[str, Any]) -> dict[str, Any] | None:
    """Recall per devset and group from ``make eval-external``'s JSON, with the model and
    date it was measured with (and whether that is this run's model); None without one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        sets = {
            name: {
                group: {"recall": item["recall"], "support": item["support"]}
                for group, item in entry["ours"]["groups"].items()
                if item.get("support")
            }
            for name, entry in data["sets"].items()
        }
        model = data.get("spacy_model", {})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    model_name = f"{model.get('name')} {model.get('version')}"
    return {
        "date": data.get("date"),
        "config": data.get("config"),
        "model": model_name,
        "same_model": model.get("name") == run_model.get("name"),
        "sets": sets,
    }
