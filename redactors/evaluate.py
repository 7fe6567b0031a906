"""Detection quality you can measure: labelled texts in, redaction and per-entity metrics out.

The labelled format is one JSON object per line:
``{"text": "...", "spans": [{"start": 0, "end": 10, "label": "PERSON"}, ...]}`` (character
offsets, end exclusive). Predictions are exactly the spans the pipeline masks (the same
TextRedactor a run uses), so the numbers describe what reaches the shards.

Every metric counts non-space characters only: whitespace inside a span (a multi-line
address) is neither PII nor a leak.

Metrics of ``score`` (``redact eval``)
- char_recall: share of gold PII characters that are masked;
- span_recall: share of gold spans whose every character is masked (by any masked span);
- char_precision: share of masked characters that are gold PII;
- per label (gold labels mapped through the label map), two views:
  - ``recall`` (redaction view, what prevents a leak): a gold span is found when every one of
    its characters is masked, by masked spans of any label;
  - ``label_recall`` (detection view): the same, with masked spans of the gold span's own
    label only;
  - ``precision`` (detection view): a predicted span is correct when it overlaps a gold span
    of its label; ``f2`` combines ``precision`` and ``label_recall``, weighing recall 4x (a
    miss is a leak; an over-mask costs a little training signal).

``score_groups`` is the label-agnostic view of ``../shared/devsets/README.md`` (the external
yardstick, ``bench/eval_external.py``): full-coverage span recall per label group and char
precision, optionally not counting masked URL / @handle / email characters that no gold span
covers against precision (social-media text).
"""

from __future__ import annotations

import json
import re
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


def _chars(text: str, spans: Iterable[Span]) -> set[int]:
    """Offsets of the non-space characters inside ``spans``."""
    return {i for span in spans for i in range(span.start, span.end) if not text[i].isspace()}


def covered(text: str, span: Span, masked: set[int]) -> bool:
    """Whether every non-space character of ``span`` is in ``masked`` (full coverage: a
    half-masked name is a miss). A span of only whitespace is trivially covered."""
    return all(i in masked for i in range(span.start, span.end) if not text[i].isspace())


def _f2(precision: float, recall: float) -> float:
    return 5 * precision * recall / (4 * precision + recall) if precision + recall else 0.0


def score(
    gold: Sequence[LabelledText],
    predicted: Sequence[Sequence[Span]],
    label_map: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Metrics of ``predicted`` (one span list per document) against ``gold`` (see the
    module docstring: ``recall`` per label is the redaction view, ``label_recall``,
    ``precision`` and ``f2`` the detection view)."""
    label_map = label_map or {}
    if len(gold) != len(predicted):
        raise ValueError("one prediction list per document is needed")
    gold_chars = masked_chars = hit_chars = 0
    full_spans = total_spans = 0
    found: dict[str, int] = defaultdict(int)
    found_same_label: dict[str, int] = defaultdict(int)
    support: dict[str, int] = defaultdict(int)
    correct: dict[str, int] = defaultdict(int)
    predicted_count: dict[str, int] = defaultdict(int)
    for doc, preds in zip(gold, predicted, strict=True):
        gold_set, pred_set = _chars(doc.text, doc.spans), _chars(doc.text, preds)
        gold_chars += len(gold_set)
        masked_chars += len(pred_set)
        hit_chars += len(gold_set & pred_set)
        by_label: dict[str, set[int]] = defaultdict(set)
        for pred in preds:
            by_label[pred.label] |= _chars(doc.text, (pred,))
        mapped = [Span(s.start, s.end, label_map.get(s.label, s.label)) for s in doc.spans]
        for span in mapped:
            total_spans += 1
            is_covered = covered(doc.text, span, pred_set)
            full_spans += is_covered
            support[span.label] += 1
            found[span.label] += is_covered
            found_same_label[span.label] += covered(doc.text, span, by_label[span.label])
        for pred in preds:
            predicted_count[pred.label] += 1
            correct[pred.label] += any(
                g.label == pred.label and g.start < pred.end and pred.start < g.end for g in mapped
            )
    per_label = {}
    for label in sorted(set(support) | set(predicted_count)):
        precision = correct[label] / predicted_count[label] if predicted_count[label] else 0.0
        recall = found[label] / support[label] if support[label] else 0.0
        label_recall = found_same_label[label] / support[label] if support[label] else 0.0
        per_label[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "label_recall": round(label_recall, 4),
            "f2": round(_f2(precision, label_recall), 4),
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


# Label groups of the external yardstick (../shared/devsets/README.md), by gold label as the
# files spell it. Gold labels outside every group still count for char precision.
LABEL_GROUPS: dict[str, frozenset[str]] = {
    "names": frozenset({"PERSON", "person", "PER"}),
    "structured": frozenset(
        {"CREDIT_CARD", "PHONE_NUMBER", "EMAIL_ADDRESS", "IBAN_CODE", "US_SSN", "IP_ADDRESS"}
    ),
    "address": frozenset({"ADDRESS", "STREET_ADDRESS"}),
}

# What social-media text carries without a gold label: URLs, emails and @handles. Simple on
# purpose; an email's "@domain" is inside the email match, so never a handle on its own.
_SOCIAL_UNLABELLED = re.compile(
    r"(?:https?://|www\.)\S+"  # URLs
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # emails
    r"|(?<![\w@])@\w+"  # @handles
)


def social_unlabelled_chars(text: str) -> set[int]:
    """Offsets of the non-space characters of URLs, emails and @handles in ``text``."""
    return {
        i
        for match in _SOCIAL_UNLABELLED.finditer(text)
        for i in range(match.start(), match.end())
        if not text[i].isspace()
    }


def group_of(label: str, groups: dict[str, frozenset[str]] = LABEL_GROUPS) -> str | None:
    return next((name for name, labels in groups.items() if label in labels), None)


def missed_spans(
    doc: LabelledText,
    predicted: Sequence[Span],
    groups: dict[str, frozenset[str]] = LABEL_GROUPS,
) -> list[tuple[str, Span]]:
    """(group, gold span) of every grouped gold span of ``doc`` not fully masked."""
    masked = _chars(doc.text, predicted)
    return [
        (group, span)
        for span in doc.spans
        if (group := group_of(span.label, groups)) is not None
        and not covered(doc.text, span, masked)
    ]


def score_groups(
    gold: Sequence[LabelledText],
    predicted: Sequence[Sequence[Span]],
    groups: dict[str, frozenset[str]] = LABEL_GROUPS,
    exclude_social: bool = False,
) -> dict[str, Any]:
    """The redaction view, label-agnostic, per label group: a gold span is found when every
    non-space character of it is masked by any predicted span (masking half a name is a
    miss); char precision is the share of masked non-space characters inside any gold span
    (of any label). ``exclude_social``: masked characters of URLs, emails and @handles
    (``social_unlabelled_chars``) that no gold span covers are left out of precision's
    denominator (not counted against it); recall is unchanged. A group with no gold span
    has recall None."""
    if len(gold) != len(predicted):
        raise ValueError("one prediction list per document is needed")
    found = dict.fromkeys(groups, 0)
    support = dict.fromkeys(groups, 0)
    masked_total = masked_in_gold = excluded = 0
    for doc, preds in zip(gold, predicted, strict=True):
        masked = _chars(doc.text, preds)
        gold_set = _chars(doc.text, doc.spans)
        for span in doc.spans:
            group = group_of(span.label, groups)
            if group is not None:
                support[group] += 1
                found[group] += covered(doc.text, span, masked)
        unlabelled = masked - gold_set
        if exclude_social:
            left_out = unlabelled & social_unlabelled_chars(doc.text)
            excluded += len(left_out)
            masked -= left_out
        masked_total += len(masked)
        masked_in_gold += len(masked & gold_set)
    return {
        "n_docs": len(gold),
        "groups": {
            name: {
                "recall": round(found[name] / support[name], 4) if support[name] else None,
                "found": found[name],
                "support": support[name],
            }
            for name in groups
        },
        "char_precision": round(masked_in_gold / masked_total, 4) if masked_total else 1.0,
        "masked_chars": masked_total,
        "masked_chars_in_gold": masked_in_gold,
        "excluded_social_chars": excluded,
    }


def format_table(result: dict[str, Any]) -> str:
    """A plain-text table of a score() result (and its baseline, if present). Per label:
    R = every character masked by any masked span (redaction view); R lab = by spans of the
    same label, P = same-label overlap, F2 of P and R lab (detection view)."""
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
    columns = ("recall", "label_recall", "precision", "f2")
    names = f"{'R':>7}{'R lab':>7}{'P':>7}{'F2':>7}"
    lines.append(
        f"{'label':<18}{'support':>8}{names}"
        + (f"  |{'base R':>7}{'R lab':>7}{'P':>7}{'F2':>7}" if baseline else "")
    )
    for label, item in result["per_label"].items():
        row = f"{label:<18}{item['support']:>8}" + "".join(f"{item[c]:>7.3f}" for c in columns)
        if baseline:
            other = baseline["per_label"].get(label)
            if other is not None:
                row += "  |" + "".join(f"{other[c]:>7.3f}" for c in columns)
        lines.append(row)
    lines.append(
        "R: gold spans masked whole by any masked span (what prevents a leak); R lab: masked "
        "whole by spans of that label; P: predicted spans overlapping a gold span of their "
        "label; F2: of P and R lab"
    )
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
    analyzer: AnalyzerEngine,
    docs: Sequence[LabelledText],
    entities: Sequence[str] | None,
    language: str,
) -> list[list[Span]]:
    """Plain Presidio findings, everything it flags counting as masked (plain Presidio masks
    all it finds). ``entities``: only these (the ones it supports); None: all it reports."""
    wanted: list[str] | None = None
    if entities is not None:
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
