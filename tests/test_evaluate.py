"""Metric code on tiny hand-checked examples, and `redact eval` end to end."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from redactors.errors import InputError
from redactors.evaluate import (
    LabelledText,
    Span,
    load_label_map,
    load_labels,
    missed_spans,
    score,
    score_groups,
    social_unlabelled_chars,
)

from .conftest import REPO, SAMPLE_CONFIG

REDACT = str(Path(sys.executable).parent / "redact")


def test_redaction_and_per_label_metrics_by_hand():
    # "Ann Lee mailed ann@x.io" : gold PERSON 0-7 (6 non-space chars), EMAIL 15-23 (8 chars)
    gold = [LabelledText("Ann Lee mailed ann@x.io", (Span(0, 7, "PERSON"), Span(15, 23, "EMAIL")))]
    # predicted: PERSON 0-3 only ("Ann"), EMAIL 15-23, and a false LOCATION 8-14 ("mailed")
    predicted = [[Span(0, 3, "PERSON"), Span(15, 23, "EMAIL_ADDRESS"), Span(8, 14, "LOCATION")]]
    result = score(gold, predicted, {"EMAIL": "EMAIL_ADDRESS"})
    # non-space gold chars 14, hit 3 + 8 = 11 -> 11/14; masked 3 + 8 + 6 = 17 -> 11/17
    assert result["redaction"] == {
        "char_recall": round(11 / 14, 4),
        "span_recall": 0.5,  # the email is fully masked, the name is not
        "char_precision": round(11 / 17, 4),
    }
    per = result["per_label"]
    # Full coverage, not overlap: "Ann" of "Ann Lee" leaves "Lee" visible, a miss. The
    # predicted span still overlaps its gold span, so it is a correct prediction.
    assert per["PERSON"] == {
        "precision": 1.0,
        "recall": 0.0,
        "label_recall": 0.0,
        "f2": 0.0,
        "support": 1,
        "predicted": 1,
    }
    assert per["EMAIL_ADDRESS"]["recall"] == 1.0 and per["EMAIL_ADDRESS"]["support"] == 1
    assert per["LOCATION"] == {
        "precision": 0.0,
        "recall": 0.0,
        "label_recall": 0.0,
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
    # masked whole, under another label: no leak (recall), not a label match (label_recall)
    assert result["per_label"]["DOB"]["recall"] == 1.0
    assert result["per_label"]["DOB"]["label_recall"] == 0.0
    assert result["per_label"]["DATE_TIME"]["precision"] == 0.0


def test_empty_inputs_do_not_divide_by_zero():
    result = score([LabelledText("ok", ())], [[]])
    assert result["redaction"] == {"char_recall": 1.0, "span_recall": 1.0, "char_precision": 1.0}


def test_gold_span_masked_by_pieces_of_other_labels_is_found_but_not_label_found():
    text = "call Mary Ann now"
    gold = [LabelledText(text, (Span(5, 13, "PERSON"),))]
    result = score(gold, [[Span(5, 9, "PERSON"), Span(10, 13, "LOCATION")]])
    assert result["redaction"]["span_recall"] == 1.0
    assert result["per_label"]["PERSON"]["recall"] == 1.0  # nothing of the name is visible
    assert result["per_label"]["PERSON"]["label_recall"] == 0.0  # "Ann" is not PERSON


def test_whitespace_inside_spans_is_ignored():
    text = "ship to 1 Main St\n  Springfield now"
    address = Span(8, 31, "ADDRESS")  # "1 Main St\n  Springfield"
    gold = [LabelledText(text, (address,))]
    # two predicted pieces, the line break and indent between them left alone
    predicted = [[Span(8, 17, "STREET_ADDRESS"), Span(20, 31, "STREET_ADDRESS")]]
    assert score(gold, predicted, {"ADDRESS": "STREET_ADDRESS"})["redaction"]["span_recall"] == 1.0
    groups = score_groups(gold, predicted)
    assert groups["groups"]["address"] == {"recall": 1.0, "found": 1, "support": 1}
    # a masked span that runs over surrounding spaces costs no precision
    wider = [[Span(7, 32, "STREET_ADDRESS")]]
    assert score_groups(gold, wider)["char_precision"] == 1.0
    assert score(gold, wider)["redaction"]["char_precision"] == 1.0


def test_half_masked_name_is_a_miss_per_group():
    text = "Hi team, Aoife Nathan here. Card 4111 1111 1111 1111."
    gold = [
        LabelledText(text, (Span(9, 21, "PERSON"), Span(33, 52, "CREDIT_CARD"), Span(0, 2, "MISC")))
    ]
    predicted = [[Span(15, 21, "PERSON"), Span(33, 52, "CREDIT_CARD")]]
    result = score_groups(gold, predicted)
    assert result["groups"]["names"] == {"recall": 0.0, "found": 0, "support": 1}
    assert result["groups"]["structured"] == {"recall": 1.0, "found": 1, "support": 1}
    assert result["groups"]["address"] == {"recall": None, "found": 0, "support": 0}
    assert result["char_precision"] == 1.0  # every masked char is in a gold span
    assert missed_spans(gold[0], predicted[0]) == [("names", Span(9, 21, "PERSON"))]
    masked_whole = [[Span(9, 21, "PERSON"), Span(33, 52, "CREDIT_CARD")]]
    assert score_groups(gold, masked_whole)["groups"]["names"]["recall"] == 1.0


def test_group_labels_as_the_devsets_spell_them():
    text = "ann and bob and cy"
    gold = [LabelledText(text, (Span(0, 3, "person"), Span(8, 11, "PER"), Span(16, 18, "PERSON")))]
    result = score_groups(gold, [[Span(0, 3, "PERSON"), Span(8, 11, "PERSON")]])
    assert result["groups"]["names"] == {"recall": round(2 / 3, 4), "found": 2, "support": 3}


def test_precision_counts_any_gold_label():
    text = "at Acme with Bo"
    gold = [LabelledText(text, (Span(3, 7, "ORG"), Span(13, 15, "PER")))]
    result = score_groups(gold, [[Span(3, 7, "ORGANIZATION"), Span(8, 12, "X")]])
    assert result["char_precision"] == 0.5  # "Acme" in a gold span, "with" not
    assert result["groups"]["names"]["recall"] == 0.0


def test_social_exclusion_leaves_unlabelled_handles_urls_emails_out_of_precision():
    text = "@jo see http://t.co/x1 or mail a.b@c.io , @Sam Lee"
    handle, url, email = Span(0, 3, "U"), Span(8, 22, "URL"), Span(31, 39, "EMAIL_ADDRESS")
    sam = Span(42, 50, "PER")  # "@Sam Lee": a labelled handle + name
    gold = [LabelledText(text, (sam,))]
    predicted = [[handle, url, email, sam, Span(4, 7, "X")]]  # "see": a real false positive
    off = score_groups(gold, predicted)
    on = score_groups(gold, predicted, exclude_social=True)
    # non-space masked: 3 + 14 + 8 + 7 + 3 = 35, in gold 7
    assert off["char_precision"] == round(7 / 35, 4) and off["excluded_social_chars"] == 0
    # on: the unlabelled handle, URL and email (25 chars) are left out; "see" still counts
    assert on["excluded_social_chars"] == 25
    assert on["char_precision"] == round(7 / 10, 4)
    assert on["groups"] == off["groups"]  # recall is unchanged


def test_social_patterns():
    text = "mail x.y@ex.com or @ann_b, www.a.org/p https://b.c?q=1 e@mail not@ in@ 5@"
    chars = social_unlabelled_chars(text)

    def spans(positions: set[int]) -> list[str]:
        runs, run = [], ""
        for i, c in enumerate(text):
            if i in positions:
                run += c
            elif run:
                runs.append(run)
                run = ""
        return runs + ([run] if run else [])

    # the email's "@ex" is not a handle of its own; "e@mail" has no dot: not an email
    assert spans(chars) == ["x.y@ex.com", "@ann_b", "www.a.org/p", "https://b.c?q=1"]


def test_group_scoring_needs_one_prediction_list_per_document():
    with pytest.raises(ValueError):
        score_groups([LabelledText("a", ())], [])


def test_label_map_maps_devset_labels():
    mapping = load_label_map(REPO / "data" / "eval" / "label_map.yaml")
    assert mapping["ADDRESS"] == mapping["STREET_ADDRESS"] == "STREET_ADDRESS"
    assert mapping["person"] == mapping["PER"] == mapping["PERSON"] == "PERSON"


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
