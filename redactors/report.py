"""Run statistics (mergeable across work units) and the privacy reviewer's report, typed.

Only counts, rates, names of entities/operators/reasons, file paths and hashes go in here:
never text, ids or user ids. The ``Report`` model is built once by finalize (and updated by
forget) and read by field by the CLI, the markdown artifact, the card and the HTML template
(render.py). On disk it is the same JSON as ever (see manifest.Record): a report an older
version wrote still loads.

Longer than this project's ~450-line rule on purpose: it is the one typed schema of
report.json (every section a small pydantic model, plus the mergeable per-unit stats it is
built from); the logic that fills it lives in finalize.py, gates.py and forget.py.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from redactors.config import NON_CONSENTED_ENTITY, LeakScanConfig
from redactors.consent import DROP_REASONS
from redactors.leakscan import LeakStats
from redactors.manifest import ForgetEntry, Record
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
            # ties by name: the order units merge in must not pick which ones make the list
            "top_recognizers": dict(
                sorted(self.recognizers.items(), key=lambda item: (-item[1], item[0]))[:10]
            ),
            "entities_by_column": {
                column: dict(sorted(counts.items()))
                for column, counts in sorted(self.entities_by_column.items())
            },
            "allow_list_hits": self.allow_list_hits,
            "nlp_stages": {stage: self.nlp_stages.get(stage, 0) for stage in NLP_STAGES},
        }


# ------------------------------------------------------------------ the report, typed
# Counts default to zero and sections to "absent": reports written by older versions lack
# some keys, and a default is never written back (Record.to_json).


class EntityCount(Record):
    count: int = 0
    operator: str | None = None


class SourceTotals(Record):
    """SourceStats.to_dict as written: one source's counts, or the run's."""

    records_in: int = 0
    records_quarantined: int = 0
    quarantined_by_reason: dict[str, int] = Field(default_factory=dict)
    records_dropped: int = 0
    dropped_by_reason: dict[str, int] = Field(default_factory=dict)
    kept_not_in_registry: int = 0
    records_skipped_empty: int = 0
    records_deduplicated: int = 0
    records_out: int = 0
    records_with_pii: int = 0
    share_records_with_pii: float = 0.0
    spans_masked: int = 0
    non_consented_mentions_masked: int = 0
    chars_in: int = 0
    chars_masked: int = 0
    entities: dict[str, EntityCount] = Field(default_factory=dict)
    score_histograms: dict[str, list[int]] = Field(default_factory=dict)
    top_recognizers: dict[str, int] = Field(default_factory=dict)
    entities_by_column: dict[str, dict[str, int]] = Field(default_factory=dict)
    allow_list_hits: int = 0
    nlp_stages: dict[str, int] = Field(default_factory=dict)


class RunInfo(Record):
    run_id: str
    run_name: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    config_path: str | None = None
    config_hash: str = ""
    secret_fingerprint: str | None = None
    output: str = ""
    versions: dict[str, str] = Field(default_factory=dict)
    model: dict[str, Any] = Field(default_factory=dict)
    detection: dict[str, Any] = Field(default_factory=dict)


class ConsentSection(Record):
    policy: str = ""
    excluded_regions: list[str] = Field(default_factory=list)
    registry: dict[str, Any] = Field(default_factory=dict)
    org_policy: str | None = None
    purpose: str | None = None
    # Per level (user, org, record): what it rests on and what it dropped, by reason.
    levels: dict[str, Any] = Field(default_factory=dict)


class ShardSummary(Record):
    count: int = 0
    rows: int = 0
    bytes: int = 0


class ResidualRisk(Record):
    """The leak re-scan of the written text ("measured") or why there is none."""

    status: str
    note: str | None = None
    records_scanned: int = 0
    sample_rate: float | None = None
    records_with_hits: int = 0
    rate: float = 0.0
    hits_by_entity: dict[str, int] = Field(default_factory=dict)
    examples: list[Any] = Field(default_factory=list)
    fail_above_rate: float | None = None
    passed: bool = True
    # Estimated residual names ("First Last" pairs of the name lexicon outside masked spans)
    records_with_names: int = 0
    name_rate: float = 0.0
    name_pairs: int = 0
    name_shapes: list[str] = Field(default_factory=list)
    # Records written mostly in non-Latin scripts (detection is tuned for English)
    records_non_latin: int = 0
    non_latin_share: float = 0.0


class GateResult(Record):
    """One release gate: what was measured against which threshold, and the result."""

    id: str
    name: str
    group: str
    threshold: str
    measured: str
    result: str  # PASS | FAIL | NOT MEASURED
    config_key: str
    note: str | None = None


class Verdict(Record):
    """PASS when every gate passed; FAIL otherwise (published only with accepted risk)."""

    result: str
    published: bool = True
    gates: list[GateResult] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)
    not_measured: list[str] = Field(default_factory=list)
    risk_acceptance: dict[str, Any] | None = None
    failed_report_dir: str | None = None


class Coverage(Record):
    """What detection is known to cover and not: canary recall (this run), the external
    devset measurement (bench/eval_external.json, where present), types not detected."""

    canary_recall: dict[str, float | int] = Field(default_factory=dict)
    external: dict[str, Any] | None = None
    not_detected: list[str] = Field(default_factory=list)
    non_latin_share: float | None = None


class Canaries(Record):
    """Canary recall ("measured"), or "disabled" / "not_run"."""

    status: str
    count: int = 0
    recall_by_entity: dict[str, float | int] = Field(default_factory=dict)
    redaction: Any = None
    lowest_recall: float | int | None = None
    fail_below_recall: float | None = None
    passed: bool | None = None
    samples: dict[str, list[str]] = Field(default_factory=dict)


class Change(Record):
    """This run's rates against the previous run's in the same output ("compared"), or
    "first_run"."""

    status: str
    previous_run_id: str | None = None
    threshold: float | None = None
    rows: list[dict[str, Any]] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list)


class Incremental(Record):
    """What this run did versus what the output held (finalize's incremental section)."""

    units: int = 0
    units_reused: int = 0
    units_processed: int = 0
    units_refreshed: int = 0
    this_run: dict[str, int] = Field(default_factory=dict)
    inputs: dict[str, Any] = Field(default_factory=dict)
    rebuild_reasons: list[str] = Field(default_factory=list)


class AfterForget(Record):
    """What the output holds after forgets (the run's counts describe the run)."""

    history: list[ForgetEntry]
    shards: ShardSummary
    consent_registry: dict[str, Any]
    downstream_copies_to_refresh: list[str] = Field(default_factory=list)  # latest forget's


class Report(Record):
    report_version: int = 1
    run: RunInfo
    consent: ConsentSection = ConsentSection()
    totals: SourceTotals
    sources: dict[str, SourceTotals] = Field(default_factory=dict)
    inputs: list[dict[str, Any]] = Field(default_factory=list)
    shards: ShardSummary = ShardSummary()
    timings: dict[str, float | int | None] = Field(default_factory=dict)
    residual_risk: ResidualRisk = ResidualRisk(status="not_measured")
    canaries: Canaries = Canaries(status="not_run")
    change: Change = Change(status="first_run")
    incremental: Incremental | None = None
    after_forget: AfterForget | None = None
    verdict: Verdict | None = None
    coverage: Coverage | None = None
    review: dict[str, Any] | None = None
    # Said to whoever reads the run (CLI, report, card): e.g. a configured split left empty.
    warnings: list[str] = Field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> Report:
        return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))

    def write(self, path: Path) -> None:
        write_json(path, self.to_json())


def residual_risk_section(leaks: LeakStats, config: LeakScanConfig) -> dict[str, Any]:
    if not config.enabled:
        return {"status": "not_measured", "note": "leak_scan.enabled is false"}
    rate = _rate(leaks.records_with_hits, leaks.records_scanned)
    threshold = config.fail_above_rate
    scanned = leaks.records_scanned
    return {
        "status": "measured",
        "records_with_names": leaks.records_with_names,
        "name_rate": _rate(leaks.records_with_names, scanned),
        "name_pairs": leaks.name_pairs,
        "name_shapes": sorted(set(leaks.name_shapes))[: config.max_examples],
        "records_non_latin": leaks.records_non_latin,
        "non_latin_share": _rate(leaks.records_non_latin, scanned),
        "records_scanned": leaks.records_scanned,
        "sample_rate": config.sample_rate,
        "records_with_hits": leaks.records_with_hits,
        "rate": rate,
        "hits_by_entity": dict(sorted(leaks.hits.items())),
        "examples": leaks.examples[: config.max_examples],
        "fail_above_rate": threshold,
        "passed": threshold is None or rate <= threshold,
        "note": "Strict detectors (emails, phones, Luhn-valid cards, SSNs, IBANs with "
        "checksum, secrets) over the text written to shards, outside replaced regions, and "
        "pieces of emails or phones left beside a masked value (partly masked). Examples "
        "are shapes (x = letter, 9 = digit), never text.",
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
) -> Report:
    total = SourceStats()
    for stats in per_source.values():
        total.merge(stats)
    residual_risk = residual_risk_section(total.leaks, leak_scan)
    process_seconds = timings.get("process_s", 0.0)
    return Report.model_validate(
        {
            "report_version": 1,
            "run": run,
            "consent": consent,
            "totals": total.to_dict(operators),
            "sources": {
                name: stats.to_dict(operators) for name, stats in sorted(per_source.items())
            },
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
    )


def _rates(report: Report) -> dict[str, float]:
    totals = report.totals
    records_in = totals.records_in or 1
    masked_records = (totals.records_out + totals.records_deduplicated) or 1
    rates = {
        "records_in": float(totals.records_in),
        "records_out": float(totals.records_out),
        "drop_rate": totals.records_dropped / records_in,
        "share_records_with_pii": float(totals.share_records_with_pii),
    }
    for reason, count in totals.dropped_by_reason.items():
        if reason == "missing_user_id" and not count:
            continue  # always 0: rows without a user are quarantined before the gate
        rates[f"drop_rate.{reason}"] = count / records_in
    for reason, count in totals.quarantined_by_reason.items():
        rates[f"quarantine_rate.{reason}"] = count / records_in
    for entity, item in totals.entities.items():
        rates[f"per_1k_records.{entity}"] = 1000 * item.count / masked_records
    risk = report.residual_risk
    if risk.status == "measured":
        rates["leak_rate"] = float(risk.rate)
        rates["name_leak_rate"] = float(risk.name_rate)
    return rates


def compare_reports(current: Report, previous: Report, threshold: float) -> Change:
    """Counts and rates of two runs side by side; a rate whose relative change exceeds
    ``threshold`` is flagged (a PERSON rate that halves after a model change, say)."""
    now, before = _rates(current), _rates(previous)
    rows, flags = [], []
    for metric in sorted(set(now) | set(before)):
        new, old = now.get(metric), before.get(metric)
        change = None if new is None or old is None or old == 0 else (new - old) / old
        from_zero = old is not None and new is not None and (old == 0) != (new == 0)
        flagged = metric not in ("records_in", "records_out") and (
            (change is not None and abs(change) > threshold) or from_zero
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
    return Change(
        status="compared",
        previous_run_id=previous.run.run_id,
        threshold=threshold,
        rows=rows,
        flags=flags,
    )


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _run_time(report: Report) -> str:
    return report.run.finished_at or report.run.started_at or report.run.run_id


def order_runs(a: Report, b: Report) -> tuple[Report, Report, bool]:
    """(older, newer, swapped): by finish time (run ids sort by start time too);
    ``swapped`` when ``a`` is the older one."""
    if (_run_time(a), a.run.run_id) < (_run_time(b), b.run.run_id):
        return a, b, True
    return b, a, False


def config_diff(older: Report, newer: Report) -> list[dict[str, Any]]:
    """What changed in how the two runs were made: consent policy, regions, registry,
    entities, operators, model, thresholds, gates, package versions. Every row is listed,
    ``changed`` says whether it differs."""

    def operators(report: Report) -> dict[str, str | None]:
        return {entity: item.operator for entity, item in report.totals.entities.items()}

    def gate_thresholds(report: Report) -> dict[str, str]:
        verdict = report.verdict
        return {gate.id: gate.threshold for gate in verdict.gates} if verdict else {}

    def model(report: Report) -> str:
        item = report.run.model
        digest = str(item.get("sha256", ""))[:12]
        return f"{item.get('name', '?')} {item.get('version', '')} ({digest})"

    items: list[tuple[str, Any, Any]] = [
        ("consent policy", older.consent.policy, newer.consent.policy),
        ("excluded regions", older.consent.excluded_regions, newer.consent.excluded_regions),
        (
            "consent registry sha256",
            str(older.consent.registry.get("sha256", ""))[:16],
            str(newer.consent.registry.get("sha256", ""))[:16],
        ),
        (
            "entities detected",
            older.run.detection.get("entities", []),
            newer.run.detection.get("entities", []),
        ),
        ("model", model(older), model(newer)),
        (
            "score threshold",
            older.run.detection.get("score_threshold"),
            newer.run.detection.get("score_threshold"),
        ),
        ("config hash", older.run.config_hash[:16], newer.run.config_hash[:16]),
        (
            "verdict",
            older.verdict.result if older.verdict else "not recorded",
            newer.verdict.result if newer.verdict else "not recorded",
        ),
    ]
    old_ops, new_ops = operators(older), operators(newer)
    for entity in sorted(set(old_ops) | set(new_ops)):
        items.append((f"operator {entity}", old_ops.get(entity), new_ops.get(entity)))
    old_gates, new_gates = gate_thresholds(older), gate_thresholds(newer)
    for gate in sorted(set(old_gates) | set(new_gates)):
        items.append((f"gate {gate}", old_gates.get(gate), new_gates.get(gate)))
    versions = sorted(set(older.run.versions) | set(newer.run.versions))
    for name in versions:
        items.append(
            (f"package {name}", older.run.versions.get(name), newer.run.versions.get(name))
        )
    return [
        {"setting": name, "older": old, "newer": new, "changed": old != new}
        for name, old, new in items
    ]
