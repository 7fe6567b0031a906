"""Metric code on tiny hand-checked examples, and `redact eval` end to end."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from redactors.errors import InputError
from redactors.evaluate import LabelledText, Span, load_labels, score

from .conftest import REPO, SAMPLE_CONFIG

REDACT = str(Path(sys.executable).parent / "redact")


def test_redaction_and_per_label_metrics_by_hand():
    # "Ann Lee mailed ann@x.io" : gold PERSON 0-7 (7 chars), EMAIL 15-23 (8 chars)
    gold = [LabelledText("Ann Lee mailed ann@x.io", (Span(0, 7, "PERSON"), Span(15, 23, "EMAIL")))]
    # predicted: PERSON 0-3 only ("Ann"), EMAIL 15-23, and a false LOCATION 8-14 ("mailed")
    predicted = [[Span(0, 3, "PERSON"), Span(15, 23, "EMAIL_ADDRESS"), Span(8, 14, "LOCATION")]]
    result = score(gold, predicted, {"EMAIL": "EMAIL_ADDRESS"})
    # gold chars 15, hit 3 + 8 = 11 -> 11/15; masked 3 + 8 + 6 = 17 -> 11/17
    assert result["redaction"] == {
        "char_recall": round(11 / 15, 4),
        "span_recall": 0.5,  # the email is fully masked, the name is not
        "char_precision": round(11 / 17, 4),
    }
    per = result["per_label"]
    assert per["PERSON"] == {
        "precision": 1.0,
        "recall": 1.0,
        "f2": 1.0,
        "support": 1,
        "predicted": 1,
    }  # overlap matching: "Ann" overlaps "Ann Lee"
    assert per["EMAIL_ADDRESS"]["recall"] == 1.0 and per["EMAIL_ADDRESS"]["support"] == 1
    assert per["LOCATION"] == {
        "precision": 0.0,
        "recall": 0.0,
        "f2": 0.0,
        "support": 0,
        "predicted": 1,
    }
    assert result["n_docs"] == 1


def test_f2_weighs_recall():
    gold = [
        LabelledText(
            "a b c d", (Span(0, 1, "X"), Span(2, 3, "X"), Span(4, 5, "X"), Span(6, 7, "X"))
        )
    ]
    # one right (0-1), one wrong label elsewhere: P = 1/2, R = 1/4
    predicted = [[Span(0, 1, "X"), Span(1, 2, "X")]]
    per = score(gold, predicted)["per_label"]["X"]
    assert per["precision"] == 0.5 and per["recall"] == 0.25
    assert per["f2"] == round(5 * 0.5 * 0.25 / (4 * 0.5 + 0.25), 4)  # 0.2778


def test_unmapped_gold_labels_count_only_for_redaction_metrics():
    gold = [LabelledText("born 1987", (Span(5, 9, "DOB"),))]
    result = score(gold, [[Span(5, 9, "DATE_TIME")]])
    assert result["redaction"]["char_recall"] == 1.0
    assert result["per_label"]["DOB"]["recall"] == 0.0  # label differs: not a label match


def test_empty_inputs_do_not_divide_by_zero():
    result = score([LabelledText("ok", ())], [[]])
    assert result["redaction"] == {"char_recall": 1.0, "span_recall": 1.0, "char_precision": 1.0}


def test_bad_label_files_name_the_line(tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_text(
        '{"text": "hi Ann", "spans": [{"start": 3, "end": 6, "label": "P"}]}\n'
        '{"text": "secret text", "spans": [{"start": 5, "end": 99, "label": "P"}]}\n'
    )
    with pytest.raises(InputError) as error:
        load_labels(path)
    assert "labels.jsonl:2" in str(error.value) and "secret text" not in str(error.value)


@pytest.mark.slow
def test_redact_eval_command_with_baseline_and_predictions(tmp_path):
    labels = REPO / "data" / "eval" / "hard_cases.jsonl"
    out, predictions = tmp_path / "eval.json", tmp_path / "pred.jsonl"
    result = subprocess.run(
        [
            REDACT,
            "eval",
            "--config",
            str(SAMPLE_CONFIG),
            "--labels",
            str(labels),
            "--label-map",
            str(REPO / "data" / "eval" / "label_map.yaml"),
            "--json",
            str(out),
            "--predictions",
            str(predictions),
            "--baseline",
            "presidio",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads(out.read_text())
    assert set(metrics) == {"n_docs", "redaction", "per_label", "baseline"}
    assert set(metrics["baseline"]) == {"n_docs", "redaction", "per_label"}
    lines = predictions.read_text().splitlines()
    docs = load_labels(labels)
    assert len(lines) == metrics["n_docs"] == len(docs)
    first = json.loads(lines[0])
    assert set(first) == {"redacted_text", "spans"}
    for line, doc in zip(lines, docs, strict=True):
        item = json.loads(line)
        for span in item["spans"]:  # offsets into the original text
            assert 0 <= span["start"] < span["end"] <= len(doc.text)
    # the predictions are the masking: rescoring them gives the printed numbers
    from redactors.evaluate import as_spans, load_label_map

    rescored = score(
        docs,
        as_spans([json.loads(x) for x in lines]),
        load_label_map(REPO / "data" / "eval" / "label_map.yaml"),
    )
    assert rescored["redaction"] == metrics["redaction"]
    assert "char_recall" in result.stdout and "presidio" in result.stdout
