"""The staged analyzer and the NER prefilter (detection.ner_prefilter): findings equal to
Presidio's own AnalyzerEngine.analyze with the prefilter off, and no name lost with it on."""

from __future__ import annotations

import importlib
from collections import Counter
from pathlib import Path

import faker.config
import pytest

from redactors.engine import TextRedactor
from redactors.evaluate import as_spans, load_labels, pipeline_predictions, score
from redactors.namewords import may_hold_name, word_list
from redactors.nlp import model_location

REPO = Path(__file__).resolve().parent.parent
DEV = REPO / "data" / "eval" / "dev.jsonl"


def _findings(results: list) -> list[tuple]:
    return sorted(
        (
            r.entity_type,
            r.start,
            r.end,
            round(r.score, 6),
            r.recognition_metadata["recognizer_name"],
        )
        for r in results
    )


def _staged(redactor: TextRedactor, texts: list[str], prefilter: bool, stages=None) -> list:
    detector = redactor.detector
    return detector.analyzer.analyze_staged(
        texts,
        language="en",
        entities=detector.entities,
        score_threshold=detector.config.lowest_threshold(),
        allow_list=None,
        batch_size=64,
        ner_prefilter=prefilter,
        stages=stages,
    )


def test_staged_analysis_equals_presidio_analyze(
    redactor: TextRedactor, dev_texts: list[str], chat_texts: list[str]
) -> None:
    """Prefilter off: the same findings, scores and recognizers as AnalyzerEngine.analyze
    (which runs the whole spaCy pipeline on every text first), on eval texts and chat-mix
    ones (long write-ups included), where NER runs alone on most."""
    detector = redactor.detector
    long_texts = [text for text in chat_texts if len(text.split()) >= 40]
    dev_texts = dev_texts + chat_texts[:150] + long_texts[:30]
    plain = [
        _findings(
            detector.analyzer.analyze(
                text=text,
                language="en",
                entities=detector.entities,
                score_threshold=detector.config.lowest_threshold(),
            )
        )
        for text in dev_texts
    ]
    stage_of: list[str] = []
    staged = [_findings(r) for r in _staged(redactor, dev_texts, False, stage_of)]
    assert staged == plain
    assert sum(len(f) for f in plain) > 300  # the texts hold plenty to compare
    # Without the prefilter NER runs on all; the lemma pass only where context words count.
    assert {"ner_only", "ner_and_lemmas"} == set(stage_of)

    # With an allow list: values found above, of several entities, are let through alike.
    pairs = zip(dev_texts, plain, strict=True)
    allowed = sorted({text[f[1] : f[2]] for text, found in pairs for f in found})
    allow_list = allowed[::40]
    kwargs = {
        "language": "en",
        "entities": detector.entities,
        "score_threshold": detector.config.lowest_threshold(),
        "allow_list": allow_list,
    }
    plain_allowed = [_findings(detector.analyzer.analyze(text=t, **kwargs)) for t in dev_texts]
    staged_allowed = detector.analyzer.analyze_staged(
        dev_texts, batch_size=64, ner_prefilter=False, **kwargs
    )
    assert [_findings(r) for r in staged_allowed] == plain_allowed
    assert sum(map(len, plain_allowed)) < sum(map(len, plain))  # the list did remove some


def test_prefilter_drops_no_name(redactor: TextRedactor, dev_texts: list[str]) -> None:
    """Prefilter on: every PERSON the full analysis finds in a word without digits (names,
    not ticket numbers or URLs) is still found; everything else is unchanged."""
    stage_of: list[str] = []
    full = [_findings(r) for r in _staged(redactor, dev_texts, False)]
    filtered = [_findings(r) for r in _staged(redactor, dev_texts, True, stage_of)]
    stages = Counter(stage_of)
    assert stages["lemmas_only"] + stages["no_nlp"] > 50  # the prefilter did skip NER
    assert any(f[4] == "SpacyRecognizer" for found in filtered for f in found)
    with_context = {r.name for r in redactor.detector.analyzer.registry.recognizers if r.context}
    for text, stage, after in zip(dev_texts, stage_of, filtered, strict=True):
        # a PERSON from the model means NER ran; a finding of a recognizer with context
        # words means the lemmas were there for them
        assert stage.startswith("ner") or all(f[4] != "SpacyRecognizer" for f in after)
        lemmas = stage in ("ner_and_lemmas", "lemmas_only")
        assert lemmas or all(f[4] not in with_context for f in after), text
    for text, before, after in zip(dev_texts, full, filtered, strict=True):
        assert set(after) <= set(before), text
        for lost in set(before) - set(after):
            value = text[lost[1] : lost[2]]
            assert lost[0] == "PERSON" and any(c.isdigit() or c in "/@" for c in value), value


def test_prefilter_keeps_eval_recall(redactor: TextRedactor) -> None:
    """The eval dev set: redaction recall with the prefilter is the same as without."""
    docs = load_labels(DEV)[:600]
    detector = redactor.detector

    original = detector.config

    def recall(prefilter: bool) -> dict:
        detector.config = original.model_copy(update={"ner_prefilter": prefilter})
        try:
            predicted = as_spans(pipeline_predictions(redactor, docs))
        finally:
            detector.config = original
        return score(docs, predicted)["redaction"]

    without, with_prefilter = recall(False), recall(True)
    assert with_prefilter["char_recall"] >= without["char_recall"]
    assert with_prefilter["span_recall"] >= without["span_recall"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("thanks!", False),
        ("ok", False),
        ("call me at 555-0100 after 5", False),
        ("the build passed again", False),
        ("Thanks! See you tomorrow.", False),  # capitals opening sentences
        ("it's done, don't worry", False),
        ("the build is green again", True),  # "Green" is a surname: NER decides
        ("ask hunter about it", True),  # a name in Faker's lists
        ("thanks Ana!", True),  # capitalised inside a sentence
        ("can we push it to Friday?", True),
        ("meeting with Obama", True),
        ("did you see what obama said", True),  # the model calls it a proper noun
        ("lol trump was right", True),  # "lol" pulls the next word into a PERSON span
        ("Will said it was fine", True),  # an English name opening a sentence
        ("ping john.smith about it", True),  # looks like a URL to spaCy, is a name
        ("see https://example.com/jsmith", True),  # unless a recognizer found the URL
        ("ask Zyxqwv", True),  # unknown word
        ("café at noon", True),  # not in the ASCII list: NER decides
    ],
)
def test_may_hold_name(redactor: TextRedactor, text: str, expected: bool) -> None:
    nlp = redactor.detector.analyzer.nlp_engine.nlp["en"]
    assert may_hold_name(nlp.make_doc(text)) is expected


def test_tokens_inside_other_findings_do_not_count(redactor: TextRedactor) -> None:
    """A URL or email another recognizer found (and that will be masked) does not send its
    text to NER; the same text without that finding does."""
    nlp = redactor.detector.analyzer.nlp_engine.nlp["en"]
    text = "see https://example.com/jsmith and mail jsmith@example.com"
    doc = nlp.make_doc(text)
    url, email = text.index("https"), text.index("jsmith@")
    both = [(url, url + len("https://example.com/jsmith")), (email, len(text))]
    assert not may_hold_name(doc, both)
    assert may_hold_name(doc, both[:1])


# Well-known people are not in Faker's lists (which the canaries and eval sets are built
# from), so they test the word lists on names they were not derived from.
FAMOUS = [
    "Barack Obama", "Joe Biden", "Nancy Pelosi", "Angela Merkel", "Jeffrey Epstein",
    "Winston Churchill", "Xi Jinping", "Jeff Bezos", "Donald Trump", "Steve Jobs",
    "Elon Musk", "Narendra Modi", "Emmanuel Macron", "Vladimir Putin", "Albert Einstein",
    "Mahatma Gandhi", "Taylor Swift", "Bernie Sanders", "Oprah", "Beyonce", "Shakira",
    "Rihanna", "Messi", "Kanye",
]  # fmt: skip
TEMPLATES = [
    "{} said it was fine.", "lol {} was right", "did you see what {} posted?",
    "talked to {} today", "{} won.", "meeting with {} at noon", "i think {} is wrong",
]  # fmt: skip


def test_prefilter_masks_what_full_ner_masks_on_unseen_names(redactor: TextRedactor) -> None:
    """Famous names, whole and surname only, capitalised and in lower case, and as
    first.last: every character the full analysis masks is masked with the prefilter."""
    texts = []
    for name in FAMOUS:
        for form in {name, name.split()[-1]}:
            for template in TEMPLATES:
                texts += [template.format(form), template.format(form.lower())]
        if " " in name:
            texts.append("ping {}.{} about it".format(*name.lower().split()))
    detector = redactor.detector
    stage_of: list[str] = []
    full = detector.analyzer.analyze_staged(
        texts, "en", detector.entities, detector.config.lowest_threshold(), None, 64, False
    )
    filtered = detector.analyzer.analyze_staged(
        texts,
        "en",
        detector.entities,
        detector.config.lowest_threshold(),
        None,
        64,
        True,
        stage_of,
        detector._final_threshold,
    )

    def masked(findings: list) -> set[int]:
        return {
            i
            for f in findings
            if f.score >= detector._final_threshold(f.entity_type)
            for i in range(f.start, f.end)
        }

    lost = [t for t, a, b in zip(texts, full, filtered, strict=True) if masked(a) - masked(b)]
    assert not lost
    assert sum(bool(masked(a)) for a in full) > len(texts) // 2  # names were found at all
    ner_texts = sum(stage.startswith("ner") for stage in stage_of)
    assert 0 < ner_texts < len(texts)  # and the prefilter did skip some texts


def test_committed_word_lists_follow_their_rule() -> None:
    """The committed lists (not edited by hand): Faker's English first and last names never
    open a sentence unchecked, and outside stop words ("will", "may") are never common."""
    from spacy.lang.en.stop_words import STOP_WORDS

    names = set()
    for locale in (name for name in faker.config.AVAILABLE_LOCALES if name.startswith("en")):
        try:
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        except ImportError:
            continue
        for pool in (provider.first_names, provider.last_names):
            names.update(n.casefold() for n in pool if n.isalpha())
    starts, common = word_list("sentence_starts.txt"), word_list("common_words.txt")
    assert len(common) > 20_000 and len(starts) > 1_500
    assert not names & starts
    assert not (names - STOP_WORDS) & common


def test_repeat_cache_returns_what_analysis_gives(redactor: TextRedactor) -> None:
    """Texts seen in an earlier batch are not analyzed again, and get the same redaction;
    the cache stays within its size and never holds long texts."""
    cached = TextRedactor(redactor.detector, redactor.masker, redactor.mentions, repeat_cache=3)
    batch = ["thanks Ann Lee!", "call 415-555-0199", "ok", "x" * 300 + " bob@acme.com"]
    first_stages: Counter[str] = Counter()
    first = cached.redact(batch, first_stages)
    again_stages: Counter[str] = Counter()
    again = cached.redact(["ok", "call 415-555-0199", "thanks Ann Lee!", batch[3]], again_stages)
    assert sum(first_stages.values()) == 4
    # cache hits count under the stage they had: counts do not depend on the cache
    assert again_stages == first_stages
    assert len(cached.repeats._recent) == 3  # bounded, and the long text never cached
    assert batch[3] not in cached.repeats._recent
    assert [again[2], again[1], again[0]] == first[:3]
    assert again[3] == first[3] == redactor.redact([batch[3]])[0]
    assert "Ann Lee" not in again[2].text and "415-555-0199" not in again[1].text


def test_engines_outlive_a_run_and_the_repeat_cache_does_not(monkeypatch, sample_config) -> None:
    """A long-lived worker (an existing Dask cluster) keeps its engines for the next run of
    the same config, registry and secret, but starts that run with an empty repeat cache."""
    from pipelines import redact
    from redactors.consent import load_gate

    from .conftest import SECRET_A

    monkeypatch.setenv("REDACT_SECRET", SECRET_A)
    sha256 = load_gate(sample_config).decision_sha256
    monkeypatch.delitem(redact._worker.__dict__, "engines", raising=False)
    try:
        engines = redact._checked(sample_config, sha256, "run-1")[0]
        engines.redactor.redact(["thanks!", "see you at 5"])
        assert redact._checked(sample_config, sha256, "run-1")[0] is engines
        assert "thanks!" in engines.redactor.repeats._recent  # same run: kept
        assert redact._checked(sample_config, sha256, "run-2")[0] is engines  # not rebuilt
        assert not engines.redactor.repeats._recent  # a new run: emptied
    finally:
        redact._worker.__dict__.pop("engines", None)


def test_cache_size_is_not_part_of_the_config_hash(sample_config) -> None:
    """A different repeat cache gives the same output: stored units stay valid."""
    bigger = sample_config.model_copy(
        update={"runner": sample_config.runner.model_copy(update={"repeat_cache": 7})}
    )
    no_prefilter = sample_config.model_copy(
        update={"detection": sample_config.detection.model_copy(update={"ner_prefilter": False})}
    )
    assert bigger.config_hash() == sample_config.config_hash()
    assert no_prefilter.config_hash() != sample_config.config_hash()


def test_ner_runs_alone_only_where_nothing_else_can_change_its_entities(
    redactor: TextRedactor,
) -> None:
    """The sample model's NER has its own tok2vec: it runs alone. A sentence splitter (NER
    keeps entities inside a sentence) or an entity ruler before it means the whole pipeline."""
    import spacy

    from redactors.staged import _ner_only

    assert _ner_only(redactor.detector.analyzer.nlp_engine.nlp["en"]) == ["ner"]
    for extra, name in (("sentencizer", None), ("parser", None), ("entity_ruler", "tagger")):
        nlp = spacy.blank("en")
        nlp.add_pipe(extra, name=name)  # judged by what it is, not by its name
        nlp.add_pipe("ner")
        assert _ner_only(nlp) == [], extra
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("attribute_ruler")
    nlp.add_pipe("ner")
    ruler.add([[{"LOWER": "u"}]], {"LEMMA": "you"})  # type: ignore[attr-defined]
    assert _ner_only(nlp) == ["ner"]
    ruler.add([[{"LOWER": "u"}]], {"NORM": "you"})  # type: ignore[attr-defined]  # NER reads NORM
    assert _ner_only(nlp) == []
    assert _ner_only(spacy.blank("en")) == []  # no NER at all


def test_ner_alone_finds_what_the_whole_pipeline_finds(
    redactor: TextRedactor, chat_texts: list[str]
) -> None:
    """Entities of the NER component alone equal those of the whole pipeline, on the
    benchmark's chat mix (long write-ups included)."""
    nlp = redactor.detector.analyzer.nlp_engine.nlp["en"]
    texts = chat_texts
    others = [name for name in nlp.pipe_names if name != "ner"]

    def entities(docs) -> list[list[tuple]]:
        return [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in docs]

    whole = entities(nlp.pipe(texts, batch_size=64))
    assert entities(nlp.pipe(texts, batch_size=64, disable=others)) == whole
    assert sum(map(len, whole)) > 100
    assert any(len(text.split()) >= 40 for text in texts)


def test_numpy_blas_finds_what_blis_finds(
    redactor: TextRedactor, chat_texts: list[str], dev_texts: list[str]
) -> None:
    """The detector's model multiplies on numpy's BLAS (detect._nlp_engine); its entities,
    tags and lemmas match those of the model as spaCy loads it (blis) on the chat mix and
    the eval dev texts. Measured identical on this machine; another CPU's BLAS kernels may
    round differently, so a tie may flip on a rare text (at most 1 in 200 here)."""
    import spacy

    nlp = redactor.detector.analyzer.nlp_engine.nlp["en"]
    layers = [
        (name, node)
        for name, pipe in nlp.pipeline
        if getattr(pipe, "model", None) is not None
        for node in pipe.model.walk()
    ]
    on_numpy = Counter(name for name, node in layers if not node.ops.use_blis)
    assert on_numpy["tok2vec"] > 0 and on_numpy["ner"] > 0
    # spaCy may build a layer with ops of its own (the NER's output layer): at most that one
    assert sum(1 for _, node in layers if node.ops.use_blis) <= 1

    on_blis = spacy.load(model_location(redactor.detector.config.spacy_model))
    for name in set(on_blis.pipe_names) - set(nlp.pipe_names):  # as the config disables
        on_blis.disable_pipe(name)
    assert on_blis.pipe_names == nlp.pipe_names

    def annotations(docs) -> list[tuple]:
        return [
            (
                [(e.start_char, e.end_char, e.label_) for e in doc.ents],
                [(t.tag_, t.lemma_) for t in doc],
            )
            for doc in docs
        ]

    texts = chat_texts + dev_texts
    expected = annotations(on_blis.pipe(texts, batch_size=64))
    found = annotations(nlp.pipe(texts, batch_size=64))
    differ = sum(1 for a, b in zip(found, expected, strict=True) if a != b)
    assert differ <= len(texts) / 200
    assert sum(len(ents) for ents, _ in expected) > 100


def test_a_workers_engines_come_with_one_blas_thread(sample_config) -> None:
    """build_engines (each worker's) leaves its process one BLAS thread, whatever it had:
    workers are the parallelism, OpenBLAS would start one thread per core in each."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from redactors.unit import build_engines
    from tests.conftest import SECRET_A

    def blas_threads() -> set[int]:
        return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}

    with threadpool_limits(limits=2, user_api="blas"):
        assert blas_threads() == {2}
        build_engines(sample_config, SECRET_A)
        assert blas_threads() == {1}


def test_a_whole_name_found_without_the_model_keeps_only_that_text_from_ner(
    redactor: TextRedactor,
) -> None:
    """A text whose other words are common and whose name the text-only recognizers found
    whole (capitalised first name and surname) skips NER and masks what full NER masks;
    a first name alone or a lower-case name still goes to NER (the model may read a longer
    name around it)."""
    texts = [
        "can you ping Valerie Russo about the invoice?",
        "can you ping Valerie about the invoice?",
        "can you ping valerie russo about the invoice?",
    ]
    detector = redactor.detector
    args = (texts, "en", detector.entities, detector.config.lowest_threshold(), None, 64)
    stage_of: list[str] = []
    full = detector.analyzer.analyze_staged(*args, False)
    filtered = detector.analyzer.analyze_staged(
        *args, True, stage_of, detector._final_threshold
    )
    assert [stage.startswith("ner") for stage in stage_of] == [False, True, True]
    for text, before, after in zip(texts, full, filtered, strict=True):
        spans = {(f.start, f.end) for f in after if f.entity_type == "PERSON"}
        assert spans == {(f.start, f.end) for f in before if f.entity_type == "PERSON"}, text
        assert spans, text


LONG_TEXT = (
    "The quarterly review is done and the numbers look fine overall. We shipped the new "
    "build on time and the team did great work again this week. Please ask Zorbulon "
    "Quentmaier about the invoice before the end of the day. Thanks again for all the help "
    "with the release and the testing, it was a big effort from everyone."
)


def test_ner_reads_only_the_stretches_of_a_long_text_that_may_hold_a_name(
    redactor: TextRedactor,
) -> None:
    """A long text's sentences of common words are spared the model; the sentence that may
    hold a name is read with 4 tokens of context on each side; short texts stay whole."""
    from redactors.namewords import MARGIN_TOKENS, name_stretches, sentences

    nlp = redactor.detector.analyzer.nlp_engine.nlp["en"]
    doc = nlp.make_doc(LONG_TEXT)
    third = sentences(doc)[2]
    assert doc[third[0] : third[1]].text.startswith("Please ask Zorbulon")
    assert name_stretches(doc) == [(third[0] - MARGIN_TOKENS, third[1] + MARGIN_TOKENS)]
    short = nlp.make_doc("ask Zorbulon about it. The build is fine.")
    assert name_stretches(short) == [(0, len(short))]
    [found] = redactor.redact([LONG_TEXT])
    assert [LONG_TEXT[s.start : s.end] for s in found.spans] == ["Zorbulon Quentmaier"]


def test_stretches_mask_what_ner_on_the_whole_text_masks(
    redactor: TextRedactor, chat_texts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the benchmark's chat mix (multi-sentence write-ups with names, addresses and
    other personal data among work chat), NER on the stretches masks the same characters
    as NER on every whole text."""
    import redactors.staged as staged

    detector = redactor.detector
    long_texts = [t for t in chat_texts if len(t.split()) >= 40]
    assert len(long_texts) > 20

    def masked() -> list[set[int]]:
        return [
            {i for f in findings for i in range(f.start, f.end)}
            for findings in detector.analyze(long_texts)
        ]

    nlp = detector.analyzer.nlp_engine.nlp["en"]
    docs = [nlp.make_doc(text) for text in long_texts]
    assert any(staged.name_stretches(doc) != [(0, len(doc))] for doc in docs)  # some are cut
    cut = masked()
    monkeypatch.setattr(staged, "name_stretches", lambda doc, covered=(): [(0, len(doc))])
    assert masked() == cut
    assert any(cut)
