"""Context lemmas from a table (detection.context_lemmas: table, the default) instead of
spaCy's tagger and lemmatizer: the same findings, scores and recognizers on the eval texts
and the benchmark's mixes, with less of the model run."""

from __future__ import annotations

from collections import Counter

import pytest

from redactors.config import RunConfig
from redactors.context_lemmas import inflections, lemma_table
from redactors.detector import Detector, build_detector
from redactors.engine import TextRedactor

from .test_prefilter import _findings


@pytest.fixture(scope="module")
def model_lemmas(sample_config: RunConfig) -> Detector:
    return build_detector(sample_config.detection.model_copy(update={"context_lemmas": "model"}))


def test_inflections_of_context_words_map_to_them() -> None:
    table = lemma_table(("call", "card", "number", "copy", "ship", "phone"))
    assert {table[f] for f in ("calls", "called", "calling")} == {"call"}
    assert table["numbers"] == "number" and table["cards"] == "card"
    assert table["copies"] == "copy" and table["shipped"] == "ship"
    assert table["phoned"] == "phone" and table["phoning"] == "phone"
    assert table["wo"] == "will" and table["is"] == "be"  # dropped from keywords, as spaCy's
    assert "caller" not in table  # not an inflection: its own lemma
    assert "emails" in inflections("email")


def test_table_lemmas_give_the_findings_of_spacy_lemmas(
    redactor: TextRedactor,
    model_lemmas: Detector,
    dev_texts: list[str],
    chat_texts: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Eval dev texts and the chat mix, with the prefilter on as runs have it: every finding,
    score and recognizer the same. (NER on whole texts on both sides: with model lemmas the
    whole pipeline runs on every NER text, so a long text is not read in stretches there,
    which changes which recognizer finds a name, not what is masked; test_prefilter.py.)"""
    import redactors.staged as staged
    from redactors.testing.synth import generate_sample

    monkeypatch.setattr(staged, "name_stretches", lambda doc, covered=(): [(0, len(doc))])

    dense = generate_sample(seed=8, n_users=40, n_messages=400, n_posts=0, message_mix="pii_dense")
    texts = dev_texts + chat_texts[:600] + dense.messages["text"].to_list()
    assert redactor.detector.config.context_lemmas == "table"
    stages: list[str] = []
    table = [_findings(found) for found in redactor.detector.analyze(texts, stages=stages)]
    model = [_findings(found) for found in model_lemmas.analyze(texts)]
    assert table == model
    assert sum(map(len, table)) > 1000
    by_stage = Counter(stages)
    # texts whose context words count were there, and got their lemmas from the table
    # (PII-dense texts whose names were found whole skip NER: lemmas only)
    assert by_stage["ner_and_lemmas"] + by_stage["lemmas_only"] > 300
    assert by_stage["ner_and_lemmas"] > 100 and by_stage["lemmas_only"] > 20
