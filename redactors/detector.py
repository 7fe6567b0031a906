"""The Detector: the recognizer registry and thresholds, configured once per worker.

``base_registry`` (Presidio's predefined recognizers with the offline email and gated
URL/phone versions) is shared with the plain-Presidio baseline the benchmarks and the
external evaluation compare against; ``registry`` adds this project's recognizers, country
scoping and deny lists on top.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from presidio_analyzer import AnalyzerEngine, PatternRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import (
    IbanRecognizer,
    PhoneRecognizer,
    UrlRecognizer,
)
from presidio_analyzer.recognizer_registry import RecognizerRegistry

from redactors.config import DetectionConfig
from redactors.errors import ConfigError
from redactors.longtext import (
    WindowProgress,
    WindowTracker,
    log_window_progress,
    merge,
    windows,
)
from redactors.names import settle_names
from redactors.nlp import nlp_engine, require_model
from redactors.presidio_compat import IndexedContextEnhancer
from redactors.recognizers import (
    GatedPhoneRecognizer,
    GatedUrlRecognizer,
    OfflineEmailRecognizer,
    PublicFigureRecognizer,
    custom_recognizers,
)
from redactors.recognizers.directory_name import DirectoryNameRecognizer
from redactors.recognizers.iban import WordSafeIbanRecognizer
from redactors.recognizers.possible_phone import use_regions
from redactors.staged import LEMMA_STAGES, NER_STAGES, StagedAnalyzerEngine, nlp_stage


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



def base_registry(language: str, nlp_engine: object | None) -> RecognizerRegistry:
    """Presidio's predefined recognizers for ``language``, as plain Presidio loads them,
    with one change: the email check uses tldextract's bundled list (never the network).
    The pipeline and the plain-Presidio baseline both start from this."""
    registry = RecognizerRegistry(supported_languages=[language])
    with _quiet_presidio():
        registry.load_predefined_recognizers(languages=[language], nlp_engine=nlp_engine)
    registry.remove_recognizer("EmailRecognizer")
    registry.add_recognizer(OfflineEmailRecognizer(language))
    return registry


def registry(config: DetectionConfig, nlp_engine: object | None) -> RecognizerRegistry:
    """The run's registry: the base one with Presidio's URL and phone recognizers gated
    (same findings, less work), its IBAN recognizer also finding IBANs a word follows
    (recognizers/iban.py), this project's recognizers, country scoping, deny lists."""
    registry = base_registry(config.language, nlp_engine)
    gated = {
        UrlRecognizer: GatedUrlRecognizer,
        PhoneRecognizer: GatedPhoneRecognizer,
        IbanRecognizer: WordSafeIbanRecognizer,
    }
    registry.recognizers = [
        gated[type(r)](r) if type(r) in gated else r for r in registry.recognizers
    ]
    for recognizer in custom_recognizers(config.language):
        if isinstance(recognizer, PublicFigureRecognizer) and not config.public_figures:
            continue
        registry.add_recognizer(recognizer)
    use_regions(registry.recognizers, config.phone_regions)
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
    return _supported(config, registry(config, nlp_engine=None))


def _supported(config: DetectionConfig, run_registry: RecognizerRegistry) -> set[str]:
    return set(run_registry.get_supported_entities(languages=[config.language]))


def check_detection_config(
    config: DetectionConfig, run_registry: RecognizerRegistry | None = None
) -> None:
    """Everything about detection that can be checked without loading the model
    (``run_registry``: the run's registry if already built, else one is built)."""
    require_model(config.spacy_model)
    known = _supported(config, run_registry or registry(config, nlp_engine=None))
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
        self,
        texts: Sequence[str],
        stages: list[str] | None = None,
        progress: WindowProgress | None = None,
    ) -> list[list[RecognizerResult]]:
        """Findings per text, in order. Empty texts are not sent to the model; texts longer
        than ``window_chars`` are analyzed as overlapping windows (redactors/longtext.py),
        in the same batches as the rest. ``stages`` gets each text's NLP stage (see
        StagedAnalyzerEngine; a text in windows: NER and lemmas if any window had them).
        ``progress(chars, window, windows)`` is called as each window of a text in more
        than one is done (default: ``longtext.log_window_progress``, an INFO log line)."""
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
        tracker = WindowTracker(texts, origins, progress or log_window_progress)
        found = [
            findings
            for group in tracker.groups(_char_groups(pieces, self.config.window_chars))
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
                model_lemmas=self.config.context_lemmas == "model",
            )
        ]
        by_text: list[list[tuple[int, list[RecognizerResult]]]] = [[] for _ in texts]
        ner, lemmas = [False] * len(texts), [False] * len(texts)
        for (i, start), findings, stage in zip(origins, found, piece_stages, strict=True):
            by_text[i].append((start, findings))
            ner[i] |= stage in NER_STAGES
            lemmas[i] |= stage in LEMMA_STAGES
        if stages is not None:
            stages.extend(map(nlp_stage, ner, lemmas))
        return [
            self._final(text, window_findings) if window_findings else []
            for text, window_findings in zip(texts, by_text, strict=True)
        ]

    def _final(
        self, text: str, window_findings: list[tuple[int, list[RecognizerResult]]]
    ) -> list[RecognizerResult]:
        """A text's findings: windows merged, final thresholds, whole names (names.py)."""
        kept = [
            f for f in merge(window_findings) if f.score >= self._final_threshold(f.entity_type)
        ]
        return settle_names(text, kept)


def build_presidio_baseline(config: DetectionConfig, numpy_blas: bool = False) -> AnalyzerEngine:
    """Plain Presidio for comparisons: default recognizers and thresholds, the same spaCy
    model. One change: the email check uses tldextract's bundled list (never the network).
    ``numpy_blas``: the model on numpy's BLAS, as this pipeline runs it (``nlp.nlp_engine``)."""
    require_model(config.spacy_model)
    engine = nlp_engine(config, numpy_blas)
    return AnalyzerEngine(
        registry=base_registry(config.language, engine),
        nlp_engine=engine,
        supported_languages=[config.language],
    )


def build_detector(config: DetectionConfig, people_names: Iterable[str] = ()) -> Detector:
    """The analyzer for ``config``: Presidio's recognizers, this project's, the config's
    deny lists, country scoping, whole-word context matching and thresholds.
    ``people_names``: names of the run's people (registry, user directory), always PERSON."""
    require_model(config.spacy_model)
    engine = nlp_engine(config, numpy_blas=True)
    run_registry = registry(config, engine)
    directory = DirectoryNameRecognizer(people_names, config.language)
    if directory.size:
        run_registry.add_recognizer(directory)
    check_detection_config(config, run_registry)
    nlp = engine.nlp[config.language]  # type: ignore[attr-defined]
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
    entities = list(config.entities)
    analyzer = StagedAnalyzerEngine(
        registry=run_registry,
        nlp_engine=engine,
        supported_languages=[config.language],
        default_score_threshold=config.lowest_threshold(),
        context_aware_enhancer=IndexedContextEnhancer(config.context_matching),
    )
    return Detector(config=config, analyzer=analyzer, entities=entities)
