"""Detection quality you can measure: labelled texts in, redaction and per-entity metrics out.

The labelled format is one JSON object per line:
``{"text": "...", "spans": [{"start": 0, "end": 10, "label": "PERSON"}, ...]}`` (character
offsets, end exclusive). Predictions are exactly the spans the pipeline masks (the same
TextRedactor a run uses), so the numbers describe what reaches the shards.

Metrics
- char_recall: share of gold PII characters that are masked;
- span_recall: share of gold spans whose every character is masked;
- char_precision: share of masked characters that are gold PII;
- per label (gold labels mapped through the label map): a gold span is found when a
  predicted span of the same label overlaps it by at least one character; a predicted span
  is correct when it overlaps a gold span of its label. F2 weighs recall 4x (a miss is a
  leak; an over-mask costs a little training signal).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from presidio_analyzer import AnalyzerEngine

from redactors.config import CanaryConfig
from redactors.engine import TextRedactor
from redactors.errors import InputError


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    label: str


@dataclass(frozen=True)
class LabelledText:
    text: str
    spans: tuple[Span, ...]


def load_labels(path: Path) -> list[LabelledText]:
    """Read and check a labelled JSONL file; errors name the line, never its text."""
    docs: list[LabelledText] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"labels file not found: {path}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            text = record["text"]
            spans = tuple(
                Span(int(s["start"]), int(s["end"]), str(s["label"]))
                for s in record.get("spans", [])
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(
                f"{path}:{number}: not a labelled record ({type(exc).__name__})"
            ) from None
        if not isinstance(text, str):
            raise InputError(f"{path}:{number}: 'text' must be a string")
        for span in spans:
            if not 0 <= span.start < span.end <= len(text):
                raise InputError(
                    f"{path}:{number}: span {span.start}..{span.end} outside the text "
                    f"(length {len(text)})"
                )
        docs.append(LabelledText(text, spans))
    return docs


def load_label_map(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    mapping = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
    ):
        raise InputError(f"{path}: the label map must be a flat mapping gold_label: ENTITY")
    return mapping


def _chars(spans: Iterable[Span]) -> set[int]:
    return {i for span in spans for i in range(span.start, span.end)}


def _f2(precision: float, recall: float) -> float:
    return 5 * precision * recall / (4 * precision + recall) if precision + recall else 0.0


def score(
    gold: Sequence[LabelledText],
    predicted: Sequence[Sequence[Span]],
    label_map: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Metrics of ``predicted`` (one span list per document) against ``gold``."""
    label_map = label_map or {}
    if len(gold) != len(predicted):
        raise ValueError("one prediction list per document is needed")
    gold_chars = masked_chars = hit_chars = 0
    full_spans = total_spans = 0
    found: dict[str, int] = defaultdict(int)
    support: dict[str, int] = defaultdict(int)
    correct: dict[str, int] = defaultdict(int)
    predicted_count: dict[str, int] = defaultdict(int)
    for doc, preds in zip(gold, predicted, strict=True):
        gold_set, pred_set = _chars(doc.spans), _chars(preds)
        gold_chars += len(gold_set)
        masked_chars += len(pred_set)
        hit_chars += len(gold_set & pred_set)
        for span in doc.spans:
            total_spans += 1
            full_spans += all(i in pred_set for i in range(span.start, span.end))
        mapped = [Span(s.start, s.end, label_map.get(s.label, s.label)) for s in doc.spans]
        for span in mapped:
            support[span.label] += 1
            found[span.label] += any(
                p.label == span.label and p.start < span.end and span.start < p.end for p in preds
            )
        for pred in preds:
            predicted_count[pred.label] += 1
            correct[pred.label] += any(
                g.label == pred.label and g.start < pred.end and pred.start < g.end for g in mapped
            )
    per_label = {}
    for label in sorted(set(support) | set(predicted_count)):
        precision = correct[label] / predicted_count[label] if predicted_count[label] else 0.0
        recall = found[label] / support[label] if support[label] else 0.0
        per_label[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f2": round(_f2(precision, recall), 4),
            "support": support[label],
            "predicted": predicted_count[label],
        }
    return {
        "n_docs": len(gold),
        "redaction": {
            "char_recall": round(hit_chars / gold_chars, 4) if gold_chars else 1.0,
            "span_recall": round(full_spans / total_spans, 4) if total_spans else 1.0,
            "char_precision": round(hit_chars / masked_chars, 4) if masked_chars else 1.0,
        },
        "per_label": per_label,
    }


def format_table(result: dict[str, Any]) -> str:
    """A plain-text table of a score() result (and its baseline, if present)."""
    baseline = result.get("baseline")
    lines = []
    red = result["redaction"]
    head = f"{'':<22}{'ours':>10}" + (f"{'presidio':>10}" if baseline else "")
    lines.append(head)
    for metric in ("char_recall", "span_recall", "char_precision"):
        row = f"{metric:<22}{red[metric]:>10.3f}"
        if baseline:
            row += f"{baseline['redaction'][metric]:>10.3f}"
        lines.append(row)
    lines.append("")
    lines.append(
        f"{'label':<18}{'support':>8}{'P':>8}{'R':>8}{'F2':>8}"
        + (f"{'P base':>8}{'R base':>8}{'F2 base':>9}" if baseline else "")
    )
    for label, item in result["per_label"].items():
        row = (
            f"{label:<18}{item['support']:>8}{item['precision']:>8.3f}{item['recall']:>8.3f}"
            f"{item['f2']:>8.3f}"
        )
        if baseline:
            other = baseline["per_label"].get(label)
            row += (
                ""
                if other is None
                else f"{other['precision']:>8.3f}{other['recall']:>8.3f}{other['f2']:>9.3f}"
            )
        lines.append(row)
    return "\n".join(lines)


def pipeline_predictions(redactor: TextRedactor, docs: Sequence[LabelledText]) -> list[dict]:
    """Exactly what a run masks: redacted text and masked spans (offsets into the input)."""
    redacted = redactor.redact([doc.text for doc in docs])
    return [
        {
            "redacted_text": item.text,
            "spans": [
                {"start": s.start, "end": s.end, "label": s.entity_type, "score": s.score}
                for s in item.spans
            ],
        }
        for item in redacted
    ]


def baseline_spans(
    analyzer: AnalyzerEngine, docs: Sequence[LabelledText], entities: Sequence[str], language: str
) -> list[list[Span]]:
    """Plain Presidio findings for the same entities (everything it flags counts as masked)."""
    supported = set(analyzer.get_supported_entities(language))
    wanted = [e for e in entities if e in supported]
    return [
        [
            Span(r.start, r.end, r.entity_type)
            for r in analyzer.analyze(text=doc.text, language=language, entities=wanted)
        ]
        for doc in docs
    ]


def as_spans(predictions: Sequence[dict]) -> list[list[Span]]:
    return [[Span(s["start"], s["end"], s["label"]) for s in p["spans"]] for p in predictions]


def canary_check(
    redactor: TextRedactor,
    config: CanaryConfig,
    entities: Sequence[str],
    samples_per_entity: int = 0,
) -> dict:
    """Recall of the run's own detection + masking on generated records of known PII."""
    from redactors.evalset import generate

    if config.count == 0:
        return {"status": "disabled"}
    docs = [
        LabelledText(str(r["text"]), tuple(Span(**s) for s in r["spans"]))  # type: ignore[arg-type]
        for r in generate(config.seed, config.count)
    ]
    predictions = pipeline_predictions(redactor, docs)
    result = score(docs, as_spans(predictions))
    samples: dict[str, list[str]] = {}
    for doc, prediction in zip(docs, predictions, strict=True):
        for label in sorted({span.label for span in doc.spans} & set(entities)):
            picked = samples.setdefault(label, [])
            if len(picked) < samples_per_entity and prediction["redacted_text"] not in picked:
                picked.append(prediction["redacted_text"])
    recall = {
        label: item["recall"]
        for label, item in result["per_label"].items()
        if label in entities and item["support"]
    }
    lowest = min(recall.values(), default=1.0)
    threshold = config.fail_below_recall
    return {
        "status": "measured",
        "count": config.count,
        "recall_by_entity": recall,
        "redaction": result["redaction"],
        "lowest_recall": lowest,
        "fail_below_recall": threshold,
        "passed": threshold is None or lowest >= threshold,
        "samples": dict(sorted(samples.items())),
    }
