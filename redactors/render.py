"""Renderings of a run's Report, each reading it by field: the self-contained HTML page, the
Prefect markdown artifact and count table, and the CLI's summary after a run.

Counts, rates, names, paths and hashes only: a report holds no text and no ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from redactors.report import (
    Report,
    SourceTotals,
    Verdict,
    compare_reports,
    config_diff,
    order_runs,
)

# Human names of the report's timings (report.json keeps the keys).
TIMING_NAMES = {
    "plan_s": "Checks and planning (s)",
    "process_s": "Detection and masking, all work units (s)",
    "finalize_s": "Finishing: dedup, manifest, report (s)",
    "records_per_s": "Records per second",
}


def consent_summary_lines(report: Report) -> list[str]:
    """Records dropped per consent level and reason (only reasons that dropped any)."""
    lines = []
    for level in ("record", "org", "user"):
        counts = report.consent.levels.get(level, {}).get("dropped_by_reason", {})
        shown = ", ".join(f"{reason} {count}" for reason, count in counts.items() if count)
        if shown:
            lines.append(f"  dropped ({level}): {shown}")
    return lines


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("redactors", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(report: Report) -> str:
    """One self-contained HTML file: inline CSS, no scripts, no external requests."""
    return (
        _environment()
        .get_template("report.html.j2")
        .render(report=report, timing_names=TIMING_NAMES)
    )


def render_compare(
    first: Report, second: Report, first_location: str, second_location: str, threshold: float
) -> str:
    """Two runs side by side (`redact report A --compare B`): which is newer and where each
    lives, what changed in how they were made, counts and rates with deltas and flags."""
    older, newer, swapped = order_runs(first, second)
    older_location, newer_location = (
        (first_location, second_location) if swapped else (second_location, first_location)
    )
    change = compare_reports(newer, older, threshold)
    return (
        _environment()
        .get_template("compare.html.j2")
        .render(
            older=older,
            newer=newer,
            older_location=older_location,
            newer_location=newer_location,
            same_location=Path(older_location).resolve() == Path(newer_location).resolve(),
            first_is_newer=not swapped,
            diff=config_diff(older, newer),
            change=change,
        )
    )


def verdict_headline(verdict: Verdict | None) -> str:
    """The verdict in a line: PASS, FAIL: not published, or FAIL: published with risk."""
    if verdict is None:
        return "not recorded (report written before verdicts)"
    if verdict.result == "PASS":
        return "PASS" + (
            f" ({len(verdict.not_measured)} gate(s) not measured)" if verdict.not_measured else ""
        )
    accepted = verdict.risk_acceptance
    if accepted:
        return (
            f"FAIL: published with accepted risk (by {accepted['accepted_by']}, "
            f"{accepted['at']}: {accepted['reason']})"
        )
    return "FAIL: not published"


def verdict_markdown(verdict: Verdict | None) -> list[str]:
    """The verdict and its gate table, first thing in the artifact."""
    lines = [f"## Verdict: {verdict_headline(verdict)}", ""]
    if verdict is None:
        return lines
    lines += [
        "| gate | threshold | measured | result |",
        "|---|---:|---:|---|",
        *[
            f"| {gate.name} | {gate.threshold} | {gate.measured} | "
            f"{'**FAIL**' if gate.result == 'FAIL' else gate.result} |"
            for gate in verdict.gates
        ],
    ]
    return lines


def render_markdown(report: Report) -> str:
    """Short summary for the Prefect artifact."""
    totals = report.totals
    lines = [
        f"# Redaction run `{report.run.run_id}`",
        "",
        *verdict_markdown(report.verdict),
        "",
        f"Config hash `{report.run.config_hash[:12]}`, output `{report.run.output}`",
        "",
        "| records in | dropped (consent) | skipped (empty) | records out | spans masked "
        "| mentions of non-consented people masked |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {totals.records_in} | {totals.records_dropped} | "
        f"{totals.records_skipped_empty} | {totals.records_out} | {totals.spans_masked} "
        f"| {totals.non_consented_mentions_masked} |",
        "",
        "| drop reason | records |",
        "|---|---:|",
        *[f"| {reason} | {count} |" for reason, count in _drop_reasons(totals)],
        "",
        *quarantine_markdown(totals),
        "",
        "| entity | operator | masked |",
        "|---|---|---:|",
        *[
            f"| {entity} | {item.operator} | {item.count} |"
            for entity, item in totals.entities.items()
        ],
    ]
    incremental = report.incremental
    if incremental:
        this_run = incremental.this_run
        lines += [
            "",
            f"This run: {incremental.units_processed} of {incremental.units} work units "
            f"processed, {incremental.units_reused} reused; {this_run['records_in']} records "
            f"read, {this_run['records_redacted']} redacted."
            + (
                f" Rebuilt: {'; '.join(incremental.rebuild_reasons)}."
                if incremental.rebuild_reasons
                else ""
            ),
        ]
    return "\n".join(lines)


def _drop_reasons(totals: SourceTotals) -> list[tuple[str, int]]:
    """Drop reasons to show: missing_user_id is always 0 (such rows are quarantined before
    the consent gate), so it is left out unless it ever counts something."""
    return [
        (reason, count)
        for reason, count in totals.dropped_by_reason.items()
        if reason != "missing_user_id" or count
    ]


def quarantine_markdown(totals: SourceTotals) -> list[str]:
    """Markdown lines on quarantined rows (rows that could not be processed safely)."""
    quarantined = totals.records_quarantined
    if not quarantined:
        return ["No input row was quarantined."]
    return [
        f"**{quarantined} input row(s) quarantined** (never consent-checked, redacted or "
        "written; positions in `quarantine.parquet`):",
        "",
        "| quarantine reason | rows |",
        "|---|---:|",
        *[
            f"| {reason} | {count} |"
            for reason, count in totals.quarantined_by_reason.items()
            if count
        ],
    ]


def summary_table(report: Report) -> list[dict[str, Any]]:
    """Rows (metric, value) for a Prefect table artifact: counts and rates only."""
    totals = report.totals
    verdict = report.verdict
    rows: list[dict[str, Any]] = []
    if verdict is not None:
        rows.append({"metric": "verdict", "value": verdict.result})
        rows += [
            {"metric": f"gate: {gate.name}", "value": f"{gate.result} ({gate.measured})"}
            for gate in verdict.gates
        ]
    rows += [
        {"metric": name, "value": getattr(totals, name)}
        for name in (
            "records_in",
            "records_quarantined",
            "records_dropped",
            "records_skipped_empty",
            "records_deduplicated",
            "records_out",
            "spans_masked",
            "non_consented_mentions_masked",
        )
    ]
    rows += [{"metric": f"dropped.{k}", "value": v} for k, v in _drop_reasons(totals)]
    rows += [
        {"metric": f"quarantined.{k}", "value": v} for k, v in totals.quarantined_by_reason.items()
    ]
    rows += [{"metric": f"masked.{k}", "value": v.count} for k, v in totals.entities.items()]
    risk = report.residual_risk
    if risk.status == "measured":
        rows.append({"metric": "leak_rescan.records_with_hits", "value": risk.records_with_hits})
    incremental = report.incremental
    if incremental:
        rows += [
            {"metric": "units.processed", "value": incremental.units_processed},
            {"metric": "units.reused", "value": incremental.units_reused},
            {"metric": "this_run.records_in", "value": incremental.this_run["records_in"]},
        ]
    return rows


def gate_lines(verdict: Verdict | None) -> list[str]:
    """One line per gate for a terminal; canary recall of all entities on one line."""
    if verdict is None:
        return []
    lines = []
    canaries = [gate for gate in verdict.gates if gate.group == "canaries"]
    for gate in verdict.gates:
        if gate.group == "canaries":
            if gate is not canaries[0]:
                continue
            failed = [g for g in canaries if g.result == "FAIL"]
            values = ", ".join(
                f"{g.id.split('.', 1)[-1]} {g.measured}" for g in (failed or canaries)
            )
            result = "FAIL" if failed else gate.result
            lines.append(
                f"    {result:<12} Canary recall per entity ({gate.threshold}): "
                + (f"failed {values}" if failed else values)
            )
            continue
        lines.append(
            f"    {gate.result:<12} {gate.name}: {gate.measured} (threshold {gate.threshold})"
        )
    return lines


def run_summary(report: Report) -> list[str]:
    """What `redact run` prints once a run is committed: where things are, and the counts."""
    out = Path(report.run.output)
    totals = report.totals
    lines = [
        "",
        f"run {report.run.run_id} committed",
        f"  verdict:  {verdict_headline(report.verdict)}",
        *gate_lines(report.verdict),
        f"  shards:   {out / 'shards'}  ({report.shards.count} files, {report.shards.rows} rows)",
    ]
    incremental = report.incremental
    if incremental is not None:
        lines.append(
            f"  units:    {incremental.units_processed} processed, "
            f"{incremental.units_reused} reused"
            + (
                f" (rebuilt: {', '.join(incremental.rebuild_reasons)})"
                if incremental.rebuild_reasons
                else ""
            )
        )
    if totals.records_quarantined:
        lines.append(
            f"  quarantined: {totals.records_quarantined} rows that could not be processed "
            f"safely ({totals.quarantined_by_reason}); see quarantine.parquet"
        )
    lines += [
        f"  manifest: {out / 'manifest.json'}",
        f"  report:   {out / 'report.html'}  (and report.json)",
        f"  records:  {totals.records_in} in, {totals.records_dropped} dropped "
        f"for consent, {totals.records_skipped_empty} empty, "
        f"{totals.records_deduplicated} exact duplicates, {totals.records_out} out",
        f"  masked:   {totals.spans_masked} PII spans in {totals.records_with_pii} "
        "redacted records (counted before dedup)",
    ]
    lines += consent_summary_lines(report)
    risk = report.residual_risk
    if risk.status == "measured":
        lines.append(
            f"  re-scan:  {risk.records_with_hits} of {risk.records_scanned} records "
            f"with a PII-like value left; {risk.records_with_names} with a name left "
            "(estimate)"
        )
    if report.change.flags:
        flags = report.change.flags
        lines.append(f"  changed:  {len(flags)} rate(s) moved a lot since the last run: {flags}")
    return lines
