"""External yardstick: the run's detection + masking against plain Presidio on labelled text
this project did not write.

    make eval-external                                   # every devset, configs/sample.yaml
    .venv/bin/python bench/eval_external.py --limit 200  # the first 200 lines of each set
    .venv/bin/python bench/eval_external.py --config my.yaml --devsets DIR --misses 50

Sides, built once in this process and run on the same texts, set after set:
- ours: the run's exact engines for the config (`redactors.unit.build_engines`, as a
  worker builds them: detector, masker, the consent-derived mention matcher, repeat cache),
  the texts redacted in batches of `runner.batch_rows` as a run does; the masked spans are
  `redactors.evaluate.pipeline_predictions`, what a run masks;
- presidio: plain Presidio defaults (`redactors.detector.build_presidio_baseline`:
  AnalyzerEngine, every default recognizer and threshold, the same spaCy model) through
  BatchAnalyzerEngine + BatchAnonymizerEngine (default operator), every entity it reports
  counting as masked, since plain Presidio masks everything it finds.

Scoring (`redactors.evaluate.score_groups`, as `../shared/devsets/README.md` says): per set and
label group (names = PERSON / person / PER; structured = card, phone, email, IBAN, SSN, IP;
address = ADDRESS / STREET_ADDRESS), span recall = share of gold spans whose every non-space
character is masked; char precision = share of masked non-space characters inside any gold
span (of any label). On the social-media sets (file names starting `wnut17` or `btc`), masked
characters of URLs, emails and @handles that no gold span covers are left out of precision
(`redactors.evaluate.social_unlabelled_chars`: `https?://` or `www.` up to whitespace;
`x@host.tld`; `@word` not preceded by a word character or `@`).

docs/s: documents over the side's detection + masking wall time on the set. Model load and
engine build are excluded (timed separately, in the JSON), and so is one untimed warm-up text
per side before the first set.

Writes bench/eval_external.json (with --limit: out/eval_external.limit-N.json unless --json is
given) and prints the table. --misses N writes up to N missed gold spans per set and group
(ours) with a short context to out/eval_external_misses.jsonl: never to stdout.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import secrets
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DEVSETS = REPO.parent / "shared" / "devsets"
SOCIAL_PREFIXES = ("wnut17", "btc")
CONTEXT_CHARS = 40
WARM_UP = "Hi Ann Lee, call (212) 555-0143 or mail ann.lee@example.org about 12 Main St."


def _versions() -> dict[str, str]:
    names = ("presidio-analyzer", "presidio-anonymizer", "spacy", "phonenumbers")
    return {name: importlib.metadata.version(name) for name in names}


def run_ours(redactor: Any, docs: Sequence[Any], batch_rows: int) -> tuple[list[list[Any]], float]:
    """The run's masking, in the run's batches; (masked spans per doc, seconds)."""
    from redactors.evaluate import as_spans, pipeline_predictions

    predictions: list[dict] = []
    started = time.perf_counter()
    for offset in range(0, len(docs), batch_rows):
        predictions.extend(pipeline_predictions(redactor, docs[offset : offset + batch_rows]))
    seconds = time.perf_counter() - started
    return as_spans(predictions), seconds


def run_presidio(
    batch_analyzer: Any, batch_anonymizer: Any, docs: Sequence[Any], language: str, batch: int
) -> tuple[list[list[Any]], float]:
    """Plain Presidio batch analysis + anonymization; every finding counts as masked."""
    from redactors.evaluate import Span

    texts = [doc.text for doc in docs]
    started = time.perf_counter()
    found = list(batch_analyzer.analyze_iterator(texts, language=language, batch_size=batch))
    batch_anonymizer.anonymize_list(texts, found)
    seconds = time.perf_counter() - started
    return [[Span(r.start, r.end, r.entity_type) for r in results] for results in found], seconds


def side_result(
    docs: Sequence[Any], spans: list[list[Any]], seconds: float, social: bool
) -> dict[str, Any]:
    from redactors.evaluate import score_groups

    result = score_groups(docs, spans, exclude_social=social)
    del result["n_docs"]
    result["seconds"] = round(seconds, 3)
    result["docs_per_s"] = round(len(docs) / seconds, 1) if seconds else None
    result["names_by_form"] = names_by_form(docs, spans)
    result["masked_spans_by_entity"] = dict(
        sorted(Counter(span.label for doc_spans in spans for span in doc_spans).items())
    )
    return result


def names_by_form(docs: Sequence[Any], spans: list[list[Any]]) -> dict[str, dict[str, Any]]:
    """Names recall split into gold names written as @handles and the rest (BTC labels
    people's @-mentions as PER): the two need different detectors."""
    from redactors.evaluate import group_of, missed_spans

    support: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    for doc, predicted in zip(docs, spans, strict=True):
        misses = {span for group, span in missed_spans(doc, predicted) if group == "names"}
        for span in doc.spans:
            if group_of(span.label) == "names":
                form = "handle" if doc.text[span.start] == "@" else "other"
                support[form] += 1
                missed[form] += span in misses
    return {
        form: {
            "recall": round(1 - missed[form] / support[form], 4) if support[form] else None,
            "support": support[form],
        }
        for form in ("handle", "other")
    }


def misses_of(
    name: str,
    docs: Sequence[Any],
    ours: list[list[Any]],
    theirs: list[list[Any]],
    limit: int,
) -> list[dict[str, Any]]:
    """Up to ``limit`` of our missed gold spans per group, with context, what we masked over
    them, and whether plain Presidio masked them whole."""
    from redactors.evaluate import missed_spans

    taken: Counter[str] = Counter()
    rows = []
    for index, (doc, mine, other) in enumerate(zip(docs, ours, theirs, strict=True)):
        presidio_missed = {span for _, span in missed_spans(doc, other)}
        for group, span in missed_spans(doc, mine):
            if taken[group] >= limit:
                continue
            taken[group] += 1
            text = doc.text
            rows.append(
                {
                    "set": name,
                    "group": group,
                    "line": index + 1,
                    "label": span.label,
                    "gold": text[span.start : span.end],
                    "context": (
                        text[max(0, span.start - CONTEXT_CHARS) : span.start]
                        + "[["
                        + text[span.start : span.end]
                        + "]]"
                        + text[span.end : span.end + CONTEXT_CHARS]
                    ),
                    "ours_masked_over_it": [
                        [p.label, text[max(p.start, span.start) : min(p.end, span.end)]]
                        for p in mine
                        if p.start < span.end and span.start < p.end
                    ],
                    "presidio_masked_it": span not in presidio_missed,
                }
            )
    return rows


def format_table(sets: dict[str, dict[str, Any]]) -> str:
    def cell(value: float | None) -> str:
        return f"{'–':>9}" if value is None else f"{value:>9.3f}"

    lines = [f"{'set (docs)':<26}{'group':<19}{'support':>8}{'ours':>9}{'presidio':>9}"]
    for name, item in sets.items():
        ours, theirs = item["ours"], item["presidio"]
        first = f"{name} ({item['n_docs']})"
        for group, value in ours["groups"].items():
            lines.append(
                f"{first:<26}{group + ' recall':<19}{value['support']:>8}"
                f"{cell(value['recall'])}{cell(theirs['groups'][group]['recall'])}"
            )
            first = ""
            if group == "names" and ours["names_by_form"]["handle"]["support"]:
                for form, title in (("handle", "  of it @handles"), ("other", "  of it other")):
                    mine, other = ours["names_by_form"][form], theirs["names_by_form"][form]
                    lines.append(
                        f"{'':<26}{title:<19}{mine['support']:>8}"
                        f"{cell(mine['recall'])}{cell(other['recall'])}"
                    )
        precision = "char precision" + ("*" if item["social_exclusion"] else "")
        lines.append(
            f"{'':<26}{precision:<19}{'':>8}"
            f"{cell(ours['char_precision'])}{cell(theirs['char_precision'])}"
        )
        lines.append(
            f"{'':<26}{'docs/s':<19}{'':>8}{ours['docs_per_s']:>9.1f}{theirs['docs_per_s']:>9.1f}"
        )
    lines.append(
        "recall: gold spans with every non-space character masked\n"
        "char precision: masked non-space chars inside any gold span "
        "(*: unlabelled URL/email/@handle chars not counted)\n"
        "docs/s: detection + masking wall time, model load excluded"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "sample.yaml")
    parser.add_argument("--devsets", type=Path, default=DEFAULT_DEVSETS)
    parser.add_argument("--limit", type=int, default=None, help="first N lines of each set")
    parser.add_argument("--misses", type=int, default=0, help="write N misses per set/group")
    parser.add_argument("--json", type=Path, default=None, help="metrics file to write")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")

    from presidio_analyzer import BatchAnalyzerEngine
    from presidio_anonymizer import BatchAnonymizerEngine

    from redactors.config import load_config
    from redactors.detector import build_presidio_baseline
    from redactors.evaluate import LabelledText, load_labels
    from redactors.unit import build_engines

    wall_started = time.perf_counter()
    files = sorted(args.devsets.glob("*.jsonl"))
    if not files:
        print(f"no *.jsonl files in {args.devsets}", file=sys.stderr)
        return 2
    config = load_config(args.config)
    language = config.detection.language

    started = time.perf_counter()
    # Pseudonyms depend on the key, the masked spans do not: any key measures the same.
    engines = build_engines(config, secrets.token_hex(16))
    redactor = engines.redactor
    redactor.redact([WARM_UP])
    ours_load = time.perf_counter() - started

    started = time.perf_counter()
    analyzer = build_presidio_baseline(config.detection)
    batch_analyzer, batch_anonymizer = BatchAnalyzerEngine(analyzer), BatchAnonymizerEngine()
    batch_anonymizer.anonymize_list(
        [WARM_UP], list(batch_analyzer.analyze_iterator([WARM_UP], language=language))
    )
    presidio_load = time.perf_counter() - started
    meta = analyzer.nlp_engine.nlp[language].meta  # type: ignore[attr-defined]

    sets: dict[str, dict[str, Any]] = {}
    misses: list[dict[str, Any]] = []
    for path in files:
        docs: list[LabelledText] = load_labels(path)[: args.limit]
        name = path.stem
        social = name.startswith(SOCIAL_PREFIXES)
        ours, ours_s = run_ours(redactor, docs, config.runner.batch_rows)
        theirs, theirs_s = run_presidio(
            batch_analyzer, batch_anonymizer, docs, language, config.detection.batch_size
        )
        labels = Counter(span.label for doc in docs for span in doc.spans)
        sets[name] = {
            "file": os.path.relpath(path, REPO),
            "n_docs": len(docs),
            "gold_labels": dict(labels.most_common()),
            "social_exclusion": social,
            "ours": side_result(docs, ours, ours_s, social),
            "presidio": side_result(docs, theirs, theirs_s, social),
        }
        if args.misses:
            misses.extend(misses_of(name, docs, ours, theirs, args.misses))

    wall = time.perf_counter() - wall_started
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": os.path.relpath(args.config, REPO),
        "devsets": os.path.relpath(args.devsets, REPO),
        "limit": args.limit,
        "versions": _versions(),
        "spacy_model": {
            "config": config.detection.spacy_model,
            "name": f"{meta.get('lang')}_{meta.get('name')}",
            "version": meta.get("version"),
        },
        "scoring": (
            "span recall: gold spans whose every non-space character is masked; char "
            "precision: masked non-space characters inside any gold span; social sets: "
            "unlabelled URL/email/@handle characters not counted against precision"
        ),
        "timing": (
            "docs_per_s over detection + masking wall time per set, one process, one side "
            "after the other; model load / engine build excluded (load_seconds)"
        ),
        "load_seconds": {"ours": round(ours_load, 2), "presidio": round(presidio_load, 2)},
        "wall_seconds": round(wall, 1),
        "sets": sets,
    }
    out = args.json or (
        REPO / "bench" / "eval_external.json"
        if args.limit is None
        else REPO / "out" / f"eval_external.limit-{args.limit}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(format_table(sets))
    print(f"model {result['spacy_model']['name']} {result['spacy_model']['version']}; ", end="")
    print(f"load (excluded): ours {ours_load:.1f} s, presidio {presidio_load:.1f} s")
    if args.misses:
        misses_path = REPO / "out" / "eval_external_misses.jsonl"
        misses_path.parent.mkdir(parents=True, exist_ok=True)
        with misses_path.open("w", encoding="utf-8") as handle:
            for row in misses:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"{len(misses)} missed gold spans (ours) written to {misses_path}")
    print(f"wrote {out}; wall time {wall:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
