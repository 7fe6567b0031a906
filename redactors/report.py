"""Run statistics (mergeable across work units) and the privacy reviewer's report.

Only counts, rates, names of entities/operators/reasons, file paths and hashes go in here:
never text, ids or user ids.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from redactors.config import NON_CONSENTED_ENTITY, LeakScanConfig
from redactors.consent import DROP_REASONS
from redactors.leakscan import LeakStats
from redactors.quarantine import REASONS as QUARANTINE_REASONS

# Texts per detection stage (staged.StagedAnalyzerEngine): NER and the lemma pipeline, NER
# alone, the pipeline without NER (lemmas for context words), no NLP.
NLP_STAGES = ("ner_and_lemmas", "ner_only", "lemmas_only", "no_nlp")


@dataclass
class SourceStats:
    """Counts for one source; units of the same source merge by addition."""

    records_in: int = 0
    # rows that could not be processed safely (null id/user/time, ...), by reason
    quarantined: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    kept_not_in_registry: int = 0
    skipped_empty: int = 0
    records_deduplicated: int = 0
    records_out: int = 0
    records_with_pii: int = 0
    spans_masked: int = 0
    chars_in: int = 0
    chars_masked: int = 0
    entities: Counter[str] = field(default_factory=Counter)
    leaks: LeakStats = field(default_factory=LeakStats)
    # entity -> 10 bins of finding scores (0-0.1, ..., 0.9-1.0)
    score_bins: dict[str, list[int]] = field(default_factory=dict)
    recognizers: Counter[str] = field(default_factory=Counter)
    entities_by_column: dict[str, Counter[str]] = field(default_factory=dict)
    allow_list_hits: int = 0
    # unique texts (or windows) per NLP stage: whole pipeline / without NER / none
    nlp_stages: Counter[str] = field(default_factory=Counter)

    def add_span(self, column: str, entity: str, score: float, recognizer: str) -> None:
        self.entities[entity] += 1
        bins = self.score_bins.setdefault(entity, [0] * 10)
        bins[min(int(score * 10), 9)] += 1
        self.recognizers[recognizer or "unknown"] += 1
        self.entities_by_column.setdefault(column, Counter())[entity] += 1

    def merge(self, other: SourceStats) -> None:
        self.leaks.merge(other.leaks, max_examples=100)
        self.records_in += other.records_in
        self.quarantined.update(other.quarantined)
        self.dropped.update(other.dropped)
        self.kept_not_in_registry += other.kept_not_in_registry
        self.skipped_empty += other.skipped_empty
        self.records_deduplicated += other.records_deduplicated
        self.records_out += other.records_out
        self.records_with_pii += other.records_with_pii
        self.spans_masked += other.spans_masked
        self.chars_in += other.chars_in
        self.chars_masked += other.chars_masked
        self.entities.update(other.entities)
        for entity, bins in other.score_bins.items():
            mine = self.score_bins.setdefault(entity, [0] * 10)
            self.score_bins[entity] = [a + b for a, b in zip(mine, bins, strict=True)]
        self.recognizers.update(other.recognizers)
        for column, counts in other.entities_by_column.items():
            self.entities_by_column.setdefault(column, Counter()).update(counts)
        self.allow_list_hits += other.allow_list_hits
        self.nlp_stages.update(other.nlp_stages)

    @property
    def records_dropped(self) -> int:
        return sum(self.dropped.values())

    def to_dict(self, operators: dict[str, str]) -> dict[str, Any]:
        return {
            "records_in": self.records_in,
            "records_quarantined": sum(self.quarantined.values()),
            "quarantined_by_reason": {
                reason: self.quarantined.get(reason, 0) for reason in QUARANTINE_REASONS
            },
            "records_dropped": self.records_dropped,
            "dropped_by_reason": {reason: self.dropped.get(reason, 0) for reason in DROP_REASONS},
            "kept_not_in_registry": self.kept_not_in_registry,
            "records_skipped_empty": self.skipped_empty,
            "records_deduplicated": self.records_deduplicated,
            "records_out": self.records_out,
            "records_with_pii": self.records_with_pii,
            # masking counts describe every redacted record, before dedup removed copies
            "share_records_with_pii": _rate(
                self.records_with_pii, self.records_out + self.records_deduplicated
            ),
            "spans_masked": self.spans_masked,
            "non_consented_mentions_masked": self.entities.get(NON_CONSENTED_ENTITY, 0),
            "chars_in": self.chars_in,
            "chars_masked": self.chars_masked,
            "entities": {
                entity: {"count": self.entities.get(entity, 0), "operator": operator}
                for entity, operator in sorted(operators.items())
            },
            "score_histograms": {e: bins for e, bins in sorted(self.score_bins.items())},
            "top_recognizers": dict(self.recognizers.most_common(10)),
            "entities_by_column": {
                column: dict(sorted(counts.items()))
                for column, counts in sorted(self.entities_by_column.items())
            },
            "allow_list_hits": self.allow_list_hits,
            "nlp_stages": {stage: self.nlp_stages.get(stage, 0) for stage in NLP_STAGES},
        }


def residual_risk_section(leaks: LeakStats, config: LeakScanConfig) -> dict[str, Any]:
    if not config.enabled:
        return {"status": "not_measured", "note": "leak_scan.enabled is false"}
    rate = _rate(leaks.records_with_hits, leaks.records_scanned)
    threshold = config.fail_above_rate
    return {
        "status": "measured",
        "records_scanned": leaks.records_scanned,
        "sample_rate": config.sample_rate,
        "records_with_hits": leaks.records_with_hits,
        "rate": rate,
        "hits_by_entity": dict(sorted(leaks.hits.items())),
        "examples": leaks.examples[: config.max_examples],
        "fail_above_rate": threshold,
        "passed": threshold is None or rate <= threshold,
        "note": "Strict detectors (emails, phones, Luhn-valid cards, SSNs, IBANs with "
        "checksum, secrets) over the text written to shards, outside replaced regions. "
        "Examples are shapes (x = letter, 9 = digit), never text.",
    }


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def build_report(
    *,
    run: dict[str, Any],
    per_source: dict[str, SourceStats],
    operators: dict[str, str],
    inputs: list[dict[str, Any]],
    shards: list[dict[str, Any]],
    consent: dict[str, Any],
    timings: dict[str, float],
    leak_scan: LeakScanConfig,
) -> dict[str, Any]:
    total = SourceStats()
    for stats in per_source.values():
        total.merge(stats)
    residual_risk = residual_risk_section(total.leaks, leak_scan)
    process_seconds = timings.get("process_s", 0.0)
    return {
        "report_version": 1,
        "run": run,
        "consent": consent,
        "totals": total.to_dict(operators),
        "sources": {name: stats.to_dict(operators) for name, stats in sorted(per_source.items())},
        "inputs": inputs,
        "shards": {
            "count": len(shards),
            "rows": sum(shard["rows"] for shard in shards),
            "bytes": sum(shard["bytes"] for shard in shards),
        },
        "timings": {
            **{name: round(value, 3) for name, value in timings.items()},
            "records_per_s": round(total.records_in / process_seconds, 1)
            if process_seconds
            else None,
        },
        "residual_risk": residual_risk,
    }


def _rates(report: dict[str, Any]) -> dict[str, float]:
    totals = report["totals"]
    records_in = totals["records_in"] or 1
    masked_records = (totals["records_out"] + totals.get("records_deduplicated", 0)) or 1
    rates = {
        "records_in": float(totals["records_in"]),
        "records_out": float(totals["records_out"]),
        "drop_rate": totals["records_dropped"] / records_in,
        "share_records_with_pii": float(totals["share_records_with_pii"]),
    }
    for reason, count in totals["dropped_by_reason"].items():
        rates[f"drop_rate.{reason}"] = count / records_in
    for reason, count in totals.get("quarantined_by_reason", {}).items():
        rates[f"quarantine_rate.{reason}"] = count / records_in
    for entity, item in totals["entities"].items():
        rates[f"per_1k_records.{entity}"] = 1000 * item["count"] / masked_records
    risk = report.get("residual_risk", {})
    if risk.get("status") == "measured":
        rates["leak_rate"] = float(risk["rate"])
    return rates


def compare_reports(
    current: dict[str, Any], previous: dict[str, Any], threshold: float
) -> dict[str, Any]:
    """Counts and rates of two runs side by side; a rate whose relative change exceeds
    ``threshold`` is flagged (a PERSON rate that halves after a model change, say)."""
    now, before = _rates(current), _rates(previous)
    rows, flags = [], []
    for metric in sorted(set(now) | set(before)):
        new, old = now.get(metric), before.get(metric)
        change = None if new is None or old is None or old == 0 else (new - old) / old
        flagged = (
            change is not None
            and abs(change) > threshold
            and metric not in ("records_in", "records_out")
        )
        if flagged:
            flags.append(metric)
        rows.append(
            {
                "metric": metric,
                "previous": None if old is None else round(old, 6),
                "current": None if new is None else round(new, 6),
                "relative_change": None if change is None else round(change, 4),
                "flagged": flagged,
            }
        )
    return {
        "status": "compared",
        "previous_run_id": previous["run"]["run_id"],
        "threshold": threshold,
        "rows": rows,
        "flags": flags,
    }


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("redactors", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(report: dict[str, Any]) -> str:
    """One self-contained HTML file: inline CSS, no scripts, no external requests."""
    return _environment().get_template("report.html.j2").render(report=report)


def render_markdown(report: dict[str, Any]) -> str:
    """Short summary for the Prefect artifact."""
    totals = report["totals"]
    lines = [
        f"# Redaction run `{report['run']['run_id']}`",
        "",
        f"Config hash `{report['run']['config_hash'][:12]}`, output `{report['run']['output']}`",
        "",
        "| records in | dropped (consent) | skipped (empty) | records out | spans masked "
        "| mentions of non-consented people masked |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {totals['records_in']} | {totals['records_dropped']} | "
        f"{totals['records_skipped_empty']} | {totals['records_out']} | {totals['spans_masked']} "
        f"| {totals['non_consented_mentions_masked']} |",
        "",
        "| drop reason | records |",
        "|---|---:|",
        *[f"| {reason} | {count} |" for reason, count in totals["dropped_by_reason"].items()],
        "",
        *quarantine_markdown(totals),
        "",
        "| entity | operator | masked |",
        "|---|---|---:|",
        *[
            f"| {entity} | {item['operator']} | {item['count']} |"
            for entity, item in totals["entities"].items()
        ],
    ]
    incremental = report.get("incremental")
    if incremental:
        this_run = incremental["this_run"]
        lines += [
            "",
            f"This run: {incremental['units_processed']} of {incremental['units']} work units "
            f"processed, {incremental['units_reused']} reused; {this_run['records_in']} records "
            f"read, {this_run['records_redacted']} redacted."
            + (
                f" Rebuilt: {'; '.join(incremental['rebuild_reasons'])}."
                if incremental["rebuild_reasons"]
                else ""
            ),
        ]
    return "\n".join(lines)


def quarantine_markdown(totals: dict[str, Any]) -> list[str]:
    """Markdown lines on quarantined rows (rows that could not be processed safely)."""
    quarantined = totals.get("records_quarantined", 0)
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
            for reason, count in totals["quarantined_by_reason"].items()
            if count
        ],
    ]


def summary_table(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows (metric, value) for a Prefect table artifact: counts and rates only."""
    totals = report["totals"]
    rows: list[dict[str, Any]] = [
        {"metric": name, "value": totals.get(name, 0)}
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
    rows += [{"metric": f"dropped.{k}", "value": v} for k, v in totals["dropped_by_reason"].items()]
    rows += [
        {"metric": f"quarantined.{k}", "value": v}
        for k, v in totals.get("quarantined_by_reason", {}).items()
    ]
    rows += [{"metric": f"masked.{k}", "value": v["count"]} for k, v in totals["entities"].items()]
    risk = report.get("residual_risk", {})
    if risk.get("status") == "measured":
        rows.append({"metric": "leak_rescan.records_with_hits", "value": risk["records_with_hits"]})
    incremental = report.get("incremental")
    if incremental:
        rows += [
            {"metric": "units.processed", "value": incremental["units_processed"]},
            {"metric": "units.reused", "value": incremental["units_reused"]},
            {"metric": "this_run.records_in", "value": incremental["this_run"]["records_in"]},
        ]
    return rows


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
