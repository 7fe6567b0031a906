"""redactors.presidio_compat is the only door into Presidio's private API: these tests fail
on a Presidio release whose private steps changed, so an upgrade is re-read, not trusted."""

from __future__ import annotations

import copy
import hashlib
import inspect
import pathlib
import subprocess
import sys

import pytest
from presidio_analyzer import AnalyzerEngine
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts, SpacyNlpEngine

from redactors import presidio_compat

# sha256 (first 16 hex) of the source of each private step used, and of ``analyze``, whose
# order of steps staged.StagedAnalyzerEngine._finish copies: read for presidio 2.2.366.
PRIVATE_STEPS = {
    (AnalyzerEngine, "analyze"): "57c34e6e051dfccf",
    (AnalyzerEngine, "_AnalyzerEngine__add_recognizer_id_if_not_exists"): "76b993e809083d39",
    (AnalyzerEngine, "_AnalyzerEngine__remove_low_scores"): "730ee5e852be0648",
    (AnalyzerEngine, "_AnalyzerEngine__remove_decision_process"): "0973a2055b854dbe",
    (AnalyzerEngine, "_enhance_using_context"): "8ea32894a406562d",
    (AnalyzerEngine, "_remove_allow_list"): "65a6caccde07a134",
    (LemmaContextAwareEnhancer, "_find_index_of_match_token"): "37ce924de8995481",
    (LemmaContextAwareEnhancer, "_add_n_words"): "fb5e80dcc4d30b86",
    (SpacyNlpEngine, "_doc_to_nlp_artifact"): "96eedc40b43ed6bd",
    # LazyNlpArtifacts sets what this sets, the token lists on first use.
    (NlpArtifacts, "__init__"): "8474ad2733106320",
}


@pytest.mark.parametrize(("owner", "name"), list(PRIVATE_STEPS), ids=lambda v: str(v))
def test_every_private_step_is_the_one_read(owner, name):
    step = getattr(owner, name, None)
    assert step is not None, f"{owner.__name__}.{name} is gone: re-read presidio_compat"
    digest = hashlib.sha256(inspect.getsource(step).encode()).hexdigest()[:16]
    assert digest == PRIVATE_STEPS[owner, name], (
        f"{owner.__name__}.{name} changed in this Presidio release: re-read it, update "
        "presidio_compat (and staged._finish for analyze), then this table"
    )


def test_only_presidio_compat_calls_private_presidio_names():
    """Name-mangled AnalyzerEngine steps and _doc_to_nlp_artifact appear nowhere else."""
    root = pathlib.Path(presidio_compat.__file__).parent
    offenders = [
        path.name
        for path in root.rglob("*.py")
        if path.name != "presidio_compat.py"
        and any(
            needle in path.read_text(encoding="utf-8")
            for needle in ("_AnalyzerEngine__", "_doc_to_nlp_artifact", "_enhance_using_context")
        )
    ]
    assert offenders == []


def test_another_presidio_release_is_refused_at_import():
    """Seen as an upgrade would be: the installed version reads 2.3.0."""
    code = (
        "import importlib.metadata as m\n"
        "real = m.version\n"
        "m.version = lambda name: '2.3.0' if name == 'presidio-analyzer' else real(name)\n"
        "import redactors.presidio_compat\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode != 0
    assert "presidio-analyzer 2.3.0 is installed" in done.stderr
    assert "2.2.366" in done.stderr


def test_lazy_artifacts_equal_presidio_artifacts(redactor) -> None:
    """presidio_compat.nlp_artifacts holds what SpacyNlpEngine._doc_to_nlp_artifact builds:
    the same entities, scores, lemmas, token offsets and context keywords."""
    engine = redactor.detector.analyzer.nlp_engine
    texts = [
        "Call Ann Lee at 212-555-0143 tomorrow: she's been waiting since Monday.",
        "my phone number is 0044 20 7946 0958, email ann.lee@example.org",
        "Dr. Zoë O'Brien-García met Lars Nilsson in Oslo on 3 May; they were talking.",
        "",
    ]
    cache = presidio_compat.KeywordCache()  # shared by the texts, read twice: hits too
    for doc in [*engine.nlp["en"].pipe(texts), *engine.nlp["en"].pipe(texts)]:
        theirs = engine._doc_to_nlp_artifact(doc, "en")
        ours = presidio_compat.nlp_artifacts(engine, doc, "en")
        assert isinstance(ours, NlpArtifacts)
        for field in ("entities", "scores", "lemmas", "tokens_indices", "keywords"):
            assert getattr(ours, field) == getattr(theirs, field), field
        assert ours.tokens is doc and ours.nlp_engine is engine
        cached = presidio_compat.nlp_artifacts(engine, doc, "en", cache)
        assert cached.keywords == theirs.keywords


def _raw_findings(analyzer, text: str) -> tuple[list, NlpArtifacts, list]:
    """Every recognizer's findings for the text before the context step, tagged as
    ``analyze`` tags them, with the text's artifacts and the recognizers asked."""
    doc = analyzer.nlp_engine.nlp["en"](text)
    artifacts = presidio_compat.nlp_artifacts(analyzer.nlp_engine, doc, "en")
    recognizers = analyzer.registry.get_recognizers(language="en", all_fields=True)
    found = []
    for recognizer in recognizers:
        current = recognizer.analyze(
            text=text, entities=recognizer.supported_entities, nlp_artifacts=artifacts
        )
        if current:
            presidio_compat.add_recognizer_id(analyzer, current, recognizer)
            found.extend(current)
    return found, artifacts, recognizers


def test_context_step_given_only_recognizers_taking_part_equals_presidios(redactor) -> None:
    """Leaving out recognizers without findings (that keep EntityRecognizer's context step)
    changes neither the findings, their scores and metadata, nor their order."""
    analyzer = redactor.detector.analyzer
    texts = [
        # phone and card with their context words, an email, a name, a URL
        "Ann Lee's phone number is 212-555-0143, card 4111 1111 1111 1111, ann@example.org",
        # an address after an address phrase (StreetAddressRecognizer's own context step)
        "please ship it to my address: 1234 Elm Street, Springfield and call +1 646 555 0100",
        "ssn 078-05-1120 and ip 10.0.0.1 from https://example.com/a?b=1",
        "nothing to find here at all",
    ]
    compared, raised = 0, False
    for text in texts:
        found, artifacts, recognizers = _raw_findings(analyzer, text)
        theirs = analyzer._enhance_using_context(
            text, copy.deepcopy(found), artifacts, recognizers, None
        )
        ours = presidio_compat.enhance_using_context(
            analyzer, text, copy.deepcopy(found), artifacts, recognizers
        )
        as_rows = [(r.entity_type, r.start, r.end, r.score, r.recognition_metadata) for r in ours]
        assert as_rows == [
            (r.entity_type, r.start, r.end, r.score, r.recognition_metadata) for r in theirs
        ]
        compared += len(theirs)
        raised |= any(r.recognition_metadata.get("is_score_enhanced_by_context") for r in theirs)
    assert compared > 0 and raised  # findings compared, one score raised by context


# Context words near a finding, far from it, inside a longer word ("phonebook": a substring
# match only), and none at all.
_CONTEXT_TEXTS = [
    "my phone number is 212-555-0143, call after six",
    "phone me some time. " + "we talked about the launch and the budget " * 4 + "212-555-0143",
    "it was in the old phonebook: 212-555-0143",
    "ssn 078-05-1120 and card 4111 1111 1111 1111 on file",
    "Ann Lee and Bo Chen sent 4111 1111 1111 1111 to 10.0.0.1 at https://example.com/a",
    "nothing to find here at all",
]


@pytest.mark.parametrize("mode", ["whole_word", "substring"])
def test_context_step_skipping_recognizers_without_their_words_equals_presidios(
    redactor, dev_texts, mode, monkeypatch
) -> None:
    """IndexedContextEnhancer, given only the recognizers whose context words are among the
    document's keywords, scores every finding as Presidio's own enhancer does, in both
    matching modes, on texts with context words near, far and inside other words, the eval
    dev set and PII-dense chat; and it does leave recognizers out."""
    from redactors.testing.synth import generate_sample

    dense = generate_sample(seed=12, n_users=20, n_messages=300, n_posts=0, message_mix="pii_dense")
    texts = [*_CONTEXT_TEXTS, *dev_texts[:200], *dense.messages["text"].to_list()]
    detector = redactor.detector
    left_out = 0
    real_may_support = presidio_compat.IndexedContextEnhancer._may_support

    def counted(self, recognizer, artifacts) -> bool:
        nonlocal left_out
        may = real_may_support(self, recognizer, artifacts)
        left_out += bool(recognizer.context) and not may
        return may

    monkeypatch.setattr(presidio_compat.IndexedContextEnhancer, "_may_support", counted)

    def scored(enhancer: LemmaContextAwareEnhancer) -> list[list[tuple]]:
        monkeypatch.setattr(detector.analyzer, "context_aware_enhancer", enhancer)
        return [
            [(r.entity_type, r.start, r.end, r.score) for r in found]
            for found in detector.analyze(texts)
        ]

    ours = scored(presidio_compat.IndexedContextEnhancer(mode))
    theirs = scored(LemmaContextAwareEnhancer(context_matching_mode=mode))
    assert ours == theirs
    assert left_out > 100
    # the hand-written texts: near raises, far does not; "phonebook" only as a substring
    phone_scores = [[s for e, *_, s in found if e == "PHONE_NUMBER"] for found in ours[:3]]
    near, far, inside = (max(scores) for scores in phone_scores)
    assert near > far and (inside > far) == (mode == "substring")
