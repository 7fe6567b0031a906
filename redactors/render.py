"""Renderings of a run's Report, each reading it by field: the self-contained HTML page, the
Prefect markdown artifact and count table, and the CLI's summary after a run.

Counts, rates, names, paths and hashes only: a report holds no text and no ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from redactors.report import Report, SourceTotals


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
    return _environment().get_template("report.html.j2").render(report=report)


def render_markdown(report: Report) -> str:
    """Short summary for the Prefect artifact."""
    totals = report.totals
    lines = [
        f"# Redaction run `{report.run.run_id}`",
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
        *[f"| {reason} | {count} |" for reason, count in totals.dropped_by_reason.items()],
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
    rows: list[dict[str, Any]] = [
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
    rows += [{"metric": f"dropped.{k}", "value": v} for k, v in totals.dropped_by_reason.items()]
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


def run_summary(report: Report) -> list[str]:
    """What `redact run` prints once a run is committed: where things are, and the counts."""
    out = Path(report.run.output)
    totals = report.totals
    lines = [
        "",
        f"run {report.run.run_id} committed",
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
            "with a PII-like value left"
        )
    if report.change.flags:
        flags = report.change.flags
        lines.append(f"  changed:  {len(flags)} rate(s) moved a lot since the last run: {flags}")
    return lines
