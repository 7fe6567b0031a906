"""Presidio's analysis of a batch, with the spaCy pipeline run only where it can matter."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from presidio_analyzer import (
    AnalyzerEngine,
    EntityRecognizer,
    PatternRecognizer,
    RecognizerResult,
)
from presidio_analyzer.predefined_recognizers import PhoneRecognizer, SpacyRecognizer
from presidio_analyzer.recognizer_registry import RecognizerRegistry
from spacy.attrs import NORM
from spacy.language import Language
from spacy.tokens import Doc, Span

from redactors import presidio_compat
from redactors.context_lemmas import context_words, lemma_table, set_lemmas
from redactors.namewords import may_hold_name, name_stretches
from redactors.recognizers.group_regex import TextOnlyRecognizer
from redactors.recognizers.name_lexicon import WORD, is_capitalised
from redactors.recognizers.text_gates import text_gate

# Recognizers whose findings depend on the text alone (their analyze() never reads the NLP
# artifacts): regexes with checksums, deny lists, phone numbers, this project's rules.
TEXT_ONLY_RECOGNIZERS = (PatternRecognizer, PhoneRecognizer, TextOnlyRecognizer)


def _masked_anyway(
    text: str,
    found: list[RecognizerResult],
    final_thresholds: Callable[[str], float] | None,
    allow_list: list[str] | None,
) -> list[tuple[int, int]]:
    """Spans of text-only findings that will be masked whatever NER says: already at their
    entity's final threshold (context words only raise scores) and not allow-listed. A
    PERSON finding only as a whole name of capitalised words ("Valerie Russo"): around a
    single or lower-case one the model may find a longer name ("steve" of "steve jobs"),
    which names.settle_names grows the finding to; around a whole name the model has only
    common words left to read, as in any text the prefilter keeps from NER."""
    if final_thresholds is None:
        return []
    allowed = set(allow_list or ())
    return [
        (f.start, f.end)
        for f in found
        if (f.entity_type != "PERSON" or _whole_name(text[f.start : f.end]))
        and f.score >= final_thresholds(f.entity_type)
        and text[f.start : f.end] not in allowed
    ]


def _ner_on_stretches(
    nlp: Language,
    docs: list[Doc],
    indices: list[int],
    covered: list[list[tuple[int, int]]],
    batch_size: int,
    disable: list[str],
) -> None:
    """Run NER (alone) on ``docs[i]`` for each of ``indices``, in place: on the whole doc,
    or where that spares the model a long text's sentences of common words, on the stretches
    that may hold a name (``name_stretches``), their entities set back on the whole doc."""
    pieces: list[tuple[int, int, Doc]] = []  # (text index, first token, doc to run on)
    for i in indices:
        stretches = name_stretches(docs[i], covered[i])
        if stretches == [(0, len(docs[i]))]:
            pieces.append((i, 0, docs[i]))
        else:
            norms = docs[i].to_array([NORM])
            pieces += [(i, start, _piece(docs[i], start, end, norms)) for start, end in stretches]
    piped = nlp.pipe((doc for _, _, doc in pieces), batch_size=batch_size, disable=disable)
    entities: dict[int, list[Span]] = {}
    for (i, first, piece), done in zip(pieces, piped, strict=True):
        if piece is docs[i]:
            continue  # NER ran on the whole doc, which holds its entities
        entities.setdefault(i, []).extend(
            Span(docs[i], first + e.start, first + e.end, label=e.label) for e in done.ents
        )
    for i, found in entities.items():
        docs[i].set_ents(found, default="outside")


def _piece(doc: Doc, start: int, end: int, norms: np.ndarray) -> Doc:
    """Tokens ``start:end`` of a tokenized doc as a doc of their own, with what NER reads:
    the words (their lexemes: shape, prefix, suffix, vectors), the spaces and the norms the
    tokenizer set (exceptions: "n't" -> "not"). Not ``Span.as_doc``, which also averages the
    span's word vectors and copies every attribute: five times slower, for nothing NER uses
    (same entities on the chat mix's 1,938 stretches)."""
    tokens = doc[start:end]
    piece = Doc(
        doc.vocab,
        words=[token.text for token in tokens],
        spaces=[bool(token.whitespace_) for token in tokens],
    )
    return piece.from_array([NORM], norms[start:end])


def _whole_name(value: str) -> bool:
    """Two or more words, each capitalised: a first name and a surname at least."""
    words = WORD.findall(value)
    return len(words) >= 2 and all(is_capitalised(w) and not w.isupper() for w in words)


# Component factories that never set entities, nor anything NER reads (it reads NORM,
# PREFIX, SUFFIX, SHAPE, and sentence starts if set), unless NER listens to them (a shared
# tok2vec or transformer). A parser or senter is not here: NER keeps an entity inside a
# sentence, so it must run where they run.
_NER_INDEPENDENT = {"tok2vec", "transformer", "tagger", "morphologizer", "attribute_ruler"}
_NER_INDEPENDENT |= {"lemmatizer", "trainable_lemmatizer"}
# What an attribute ruler may set without touching NER's input.
_RULER_ATTRS = {"TAG", "POS", "MORPH", "LEMMA", "DEP"}


def _ner_only(nlp: Language) -> list[str]:
    """The components NER needs, in pipeline order: "ner" and what it listens to. Empty when
    other components may change its entities (a parser, an entity ruler, an attribute
    ruler setting NORM, a custom one): NER then gets the whole pipeline. Judged by factory,
    not by the name a component was given."""
    factories = {name: nlp.get_pipe_meta(name).factory for name in nlp.pipe_names}
    ner = [name for name, factory in factories.items() if factory == "ner"]
    if ner != ["ner"] or set(factories.values()) - _NER_INDEPENDENT - {"ner"}:
        return []
    for name, factory in factories.items():
        if factory == "attribute_ruler":
            patterns = nlp.get_pipe(name).patterns  # type: ignore[attr-defined]
            if any(set(pattern["attrs"]) - _RULER_ATTRS for pattern in patterns):
                return []
    listened = {
        name
        for name, component in nlp.pipeline
        if "ner" in getattr(component, "listening_components", ())
    }
    return [name for name in nlp.pipe_names if name == "ner" or name in listened]


def nlp_stage(ner: bool, lemmas: bool) -> str:
    """A text's stage name in the report (report.NLP_STAGES)."""
    if ner:
        return "ner_and_lemmas" if lemmas else "ner_only"
    return "lemmas_only" if lemmas else "no_nlp"


# The stages nlp_stage names for each of its two parts, to combine a text's windows.
NER_STAGES = frozenset({"ner_and_lemmas", "ner_only"})
LEMMA_STAGES = frozenset({"ner_and_lemmas", "lemmas_only"})


@dataclass(frozen=True)
class _Asked:
    """The recognizers a batch is analyzed with (``_asked``)."""

    all: list[EntityRecognizer]
    text_only: list[EntityRecognizer]
    nlp_based: list[EntityRecognizer]
    prefilter: bool  # the NER prefilter is on and knows every NLP-based recognizer's need


def _asked(
    registry: RecognizerRegistry, language: str, entities: list[str], ner_prefilter: bool
) -> _Asked:
    """The recognizers for the entities (loaded), split by whether they read the NLP
    artifacts, and whether the NER prefilter may be used with them."""
    recognizers = registry.get_recognizers(language=language, entities=entities)
    for recognizer in recognizers:
        if not recognizer.is_loaded:
            recognizer.load()
            recognizer.is_loaded = True
    nlp_based = [r for r in recognizers if not isinstance(r, TEXT_ONLY_RECOGNIZERS)]
    # The prefilter only knows about names: with other NER entities (LOCATION, ...) or
    # other NLP-based recognizers wanted, every text goes through the whole pipeline.
    ner_entities = {e for r in nlp_based for e in r.supported_entities} & set(entities)
    prefilter = (
        ner_prefilter
        and bool(nlp_based)
        and ner_entities <= {"PERSON"}
        and all(
            isinstance(r, SpacyRecognizer) or getattr(r, "NAMES_ONLY", False) for r in nlp_based
        )
    )
    return _Asked(
        all=recognizers,
        text_only=[r for r in recognizers if isinstance(r, TEXT_ONLY_RECOGNIZERS)],
        nlp_based=nlp_based,
        prefilter=prefilter,
    )


def _wants_ner(
    asked: _Asked, docs: list[Doc], covered: list[list[tuple[int, int]]] | None
) -> list[bool]:
    """Per text, whether NER runs (step 2): never without an NLP-based recognizer; with
    the prefilter (``covered``: each text's spans masked anyway) where the text may hold a
    name; otherwise always."""
    if not asked.nlp_based:
        return [False] * len(docs)
    if covered is not None:
        return [may_hold_name(doc, c) for doc, c in zip(docs, covered, strict=True)]
    return [True] * len(docs)


def _wants_lemmas(
    asked: _Asked, raw: list[tuple[list[RecognizerResult], set[int]]], wants_ner: list[bool]
) -> list[bool]:
    """Per text, whether it needs lemmas (step 3). Lemmas only matter to context words,
    and only for findings of recognizers that have them (Presidio's context enhancer skips
    the rest: an email, a phone number), and on NER texts if an NLP-based recognizer has
    them."""
    with_context = {id(r) for r in asked.text_only if r.context}
    nlp_context = any(r.context for r in asked.nlp_based)
    return [
        bool(by & with_context) or (ner and nlp_context)
        for (_, by), ner in zip(raw, wants_ner, strict=True)
    ]


def _run_nlp(
    nlp: Language,
    docs: list[Doc],
    wants_lemmas: list[bool],
    wants_ner: list[bool],
    covered: list[list[tuple[int, int]]] | None,
    table: dict[str, str] | None,
    batch_size: int,
) -> list[str]:
    """Give each tokenized doc (in place) the components its stage needs, in one pass per
    set of components; returns each text's stage (``nlp_stage``). ``covered``: with the
    prefilter, each text's spans masked anyway (NER then reads a long text's stretches
    that may hold a name); ``table``: context lemmas from a table instead of the model's
    tagger and lemmatizer (used only where NER can run alone)."""
    # The NER of the sm/md/lg English models has its own tok2vec and reads no tag, lemma
    # or sentence start, so alone it finds what it finds in the whole pipeline (the
    # equivalence tests check it); where that cannot be known (``_ner_only`` is empty),
    # NER texts get the whole pipeline and count as NER and lemmas.
    ner_only = _ner_only(nlp)
    if not ner_only:
        wants_lemmas = [lemmas or ner for lemmas, ner in zip(wants_lemmas, wants_ner, strict=True)]
        table = None
    components = {
        "ner_and_lemmas": list(nlp.pipe_names) if table is None else ner_only,
        "ner_only": ner_only,
        "lemmas_only": [name for name in nlp.pipe_names if name != "ner"],
    }
    stage_of = list(map(nlp_stage, wants_ner, wants_lemmas))
    # One pass per set of components: where the lemmas come from the table, NER texts
    # with and without context findings share one pass and its batches.
    passes: dict[tuple[str, ...], list[int]] = {}
    for i, stage in enumerate(stage_of):
        if stage not in components:
            continue  # no NLP
        if table is not None and stage == "lemmas_only":
            set_lemmas(docs[i], table)
            continue
        passes.setdefault(tuple(components[stage]), []).append(i)
    for keep, indices in passes.items():
        disable = [name for name in nlp.pipe_names if name not in keep]
        if covered is not None and list(keep) == ner_only:
            # NER alone reads only the stretches of a long text that may hold a name
            # (namewords.name_stretches): its sentences of common words are spared.
            _ner_on_stretches(nlp, docs, indices, covered, batch_size, disable)
            piped: Iterable[Doc] = (docs[i] for i in indices)
        else:
            piped = nlp.pipe((docs[i] for i in indices), batch_size=batch_size, disable=disable)
        for i, doc in zip(indices, piped, strict=True):
            lemmas = bool(table) and stage_of[i] == "ner_and_lemmas"
            docs[i] = set_lemmas(doc, table) if lemmas else doc
    return stage_of


class StagedAnalyzerEngine(AnalyzerEngine):
    """Presidio's ``AnalyzerEngine.analyze`` for a batch, with the spaCy pipeline run only
    where its output can change the result.

    ``analyze`` runs the whole pipeline on every text before any recognizer. Here:
    1. the text-only recognizers run first, on the text;
    2. texts the NER prefilter lets through (namewords.py), or every text when it is off,
       get NER: the "ner" component alone when nothing else in the pipeline can change
       its entities (``_ner_only``), and then, with the prefilter, on the stretches of a
       long text that may hold a name (``_ner_on_stretches``);
    3. texts with a finding of a recognizer that has context words (and, if an NLP-based
       recognizer has them, every NER text) get the pipeline without NER: the lemmas that
       context words are matched against;
    4. the rest get no NLP (a text with no finding and no NER has an empty result whatever
       the NLP says; one whose findings have no context words needs only its tokens);
    5. then Presidio's own steps, as in ``analyze``: NLP-based recognizers, context
       enhancement, score thresholds, duplicates, allow list.
    With the prefilter off the findings equal ``analyze``'s (tested on every corpus in the
    repo); with it on, the only difference is NER findings in texts of common words (and of
    whole names the text-only recognizers found, ``_masked_anyway``), and in a long text's
    sentences of such words.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.keyword_cache = presidio_compat.KeywordCache()

    def analyze_staged(
        self,
        texts: Sequence[str],
        language: str,
        entities: list[str],
        score_threshold: float | None,
        allow_list: list[str] | None,
        batch_size: int,
        ner_prefilter: bool,
        stages: list[str] | None = None,
        final_thresholds: Callable[[str], float] | None = None,
        model_lemmas: bool = True,
    ) -> list[list[RecognizerResult]]:
        """The findings of each text, in the class doc's steps. ``stages``: if given, each
        text's NLP stage (``nlp_stage``) is appended to it, in order."""
        asked = _asked(self.registry, language, entities, ner_prefilter)
        nlp = self.nlp_engine.nlp[language]  # type: ignore[attr-defined]
        gates = [text_gate(r) for r in asked.text_only]
        raw = self._text_only_findings(texts, asked.text_only, gates, entities)
        docs = list(nlp.tokenizer.pipe(texts))
        # With the prefilter: per text, the spans masked whatever NER finds.
        covered = (
            [
                _masked_anyway(text, found, final_thresholds, allow_list)
                for text, (found, _) in zip(texts, raw, strict=True)
            ]
            if asked.prefilter
            else None
        )
        wants_ner = _wants_ner(asked, docs, covered)
        stage_of = _run_nlp(
            nlp,
            docs,
            _wants_lemmas(asked, raw, wants_ner),
            wants_ner,
            covered,
            None if model_lemmas else lemma_table(context_words(asked.all)),
            batch_size,
        )
        if stages is not None:  # one per text, in order
            stages.extend(stage_of)
        return [
            self._finish(
                text,
                found,
                doc,
                language,
                entities,
                asked.all,
                asked.nlp_based,
                score_threshold,
                allow_list,
            )
            if found or ner
            else []  # nothing found, no NER: nothing to score
            for text, (found, _), doc, ner in zip(texts, raw, docs, wants_ner, strict=True)
        ]

    def _text_only_findings(
        self,
        texts: Sequence[str],
        recognizers: list[EntityRecognizer],
        gates: list[Callable[[str], bool] | None],
        entities: list[str],
    ) -> list[tuple[list[RecognizerResult], set[int]]]:
        """Per text, the findings of the text-only recognizers (in recognizer order, as
        ``analyze`` has them), and id() of each recognizer that found something. A
        recognizer whose gate says a text cannot hold its finding is not run on it
        (recognizers/text_gates.py).

        One recognizer over the whole batch, then the next: its patterns and code stay in
        the CPU's caches. Text by text, each text ran all of them in turn (22 with the sample
        config), which measured 22% slower on PII-dense chat (578 vs 448 µs per text) for the
        same calls."""
        raw: list[tuple[list[RecognizerResult], set[int]]] = [([], set()) for _ in texts]
        for recognizer, gate in zip(recognizers, gates, strict=True):
            for text, (found, by) in zip(texts, raw, strict=True):
                if gate is not None and not gate(text):
                    continue
                current = recognizer.analyze(text=text, entities=entities, nlp_artifacts=None)
                if current:
                    presidio_compat.add_recognizer_id(self, current, recognizer)
                    found.extend(current)
                    by.add(id(recognizer))
        return raw

    def _finish(
        self,
        text: str,
        found: list[RecognizerResult],
        doc: Doc,
        language: str,
        entities: list[str],
        recognizers: list[EntityRecognizer],
        nlp_based: list[EntityRecognizer],
        score_threshold: float | None,
        allow_list: list[str] | None,
    ) -> list[RecognizerResult]:
        """The rest of ``AnalyzerEngine.analyze`` (presidio-analyzer 2.2), unchanged."""
        artifacts = presidio_compat.nlp_artifacts(
            self.nlp_engine, doc, language, self.keyword_cache
        )
        results = list(found)
        for recognizer in nlp_based:
            current = recognizer.analyze(text=text, entities=entities, nlp_artifacts=artifacts)
            if current:
                presidio_compat.add_recognizer_id(self, current, recognizer)
                results.extend(current)
        results = presidio_compat.enhance_using_context(self, text, results, artifacts, recognizers)
        results = presidio_compat.remove_low_scores(self, results, score_threshold, recognizers)
        results = EntityRecognizer.remove_duplicates(results)
        if allow_list:
            results = presidio_compat.remove_allow_list(self, results, allow_list, text)
        return presidio_compat.remove_decision_process(self, results)
