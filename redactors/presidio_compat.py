"""The one place that reaches into Presidio's private API.

``staged.StagedAnalyzerEngine`` runs ``AnalyzerEngine.analyze``'s steps itself (to run
spaCy only where it can change a result), so it needs steps Presidio keeps private: the
name-mangled ``__add_recognizer_id_if_not_exists``, ``__remove_low_scores`` and
``__remove_decision_process``, and the NLP engine's ``_doc_to_nlp_artifact`` (whose steps
``nlp_artifacts`` takes, building ``NlpArtifacts``' token lists only when read).
``IndexedContextEnhancer`` overrides two private methods of Presidio's context enhancer.
All of them are reached from here only, and only on a Presidio release this was checked
against (``SUPPORTED_PRESIDIO``): another release fails at import with a clear message
instead of silently computing something else. ``tests/test_presidio_compat.py`` checks
every hook exists with the expected signature and that ``AnalyzerEngine.analyze``'s source
is the one the staged engine copies; an upgrade re-runs it and updates both.
"""

from __future__ import annotations

import bisect
import functools
import importlib.metadata
import re
from typing import Any

from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerResult
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine
from spacy.tokens import Doc

# Releases whose private steps were read and tested against (requirements.lock pins one).
SUPPORTED_PRESIDIO = frozenset({"2.2.366"})
PRESIDIO_VERSION = importlib.metadata.version("presidio-analyzer")
if PRESIDIO_VERSION not in SUPPORTED_PRESIDIO:
    raise ImportError(
        f"presidio-analyzer {PRESIDIO_VERSION} is installed; this pipeline reaches into its "
        f"private API and was checked against {sorted(SUPPORTED_PRESIDIO)} only "
        "(redactors/presidio_compat.py). Install the locked version (make install)."
    )

# The flags AnalyzerEngine.analyze passes to its allow-list regex.
_PRESIDIO_REGEX_FLAGS = re.DOTALL | re.MULTILINE | re.IGNORECASE


def add_recognizer_id(
    engine: AnalyzerEngine, results: list[RecognizerResult], recognizer: EntityRecognizer
) -> None:
    """Tag each result with the recognizer that found it, as ``analyze`` does."""
    engine._AnalyzerEngine__add_recognizer_id_if_not_exists(results, recognizer)  # type: ignore[attr-defined]


class LazyNlpArtifacts(NlpArtifacts):
    """``NlpArtifacts`` as ``SpacyNlpEngine._doc_to_nlp_artifact`` builds them, with the
    per-token lists (lemmas, token offsets, and the keywords ``set_keywords`` derives from
    the lemmas) made on first use: most texts' findings have no context words, and then
    nothing reads them (5% of a chat run went to building them)."""

    def __init__(
        self,
        entities: list[Any],
        tokens: Doc,
        nlp_engine: NlpEngine,
        language: str,
        scores: list[float] | None = None,
        keyword_cache: KeywordCache | None = None,
    ) -> None:
        self.entities = entities
        self.tokens = tokens
        self.nlp_engine = nlp_engine
        self.language = language
        self.scores = scores if scores else [0.85] * len(entities)
        self.keyword_cache = keyword_cache

    @functools.cached_property
    def lemmas(self) -> list[str]:  # type: ignore[override]
        return [token.lemma_ for token in self.tokens]

    @functools.cached_property
    def tokens_indices(self) -> list[int]:  # type: ignore[override]
        return [token.idx for token in self.tokens]

    @functools.cached_property
    def keywords(self) -> list[str]:  # type: ignore[override]
        if self.keyword_cache is None:
            return NlpArtifacts.set_keywords(self.nlp_engine, self.lemmas, self.language)
        return self.keyword_cache.keywords(self.nlp_engine, self.language, self.lemmas)


class KeywordCache:
    """What ``NlpArtifacts.set_keywords`` makes of each lemma (it treats each alone: none
    for a stop word, punctuation, "-PRON-" or "be", else its lower case split at ":"), kept
    per lemma: the stop-word and punctuation look-ups were a fifth of the context step on
    PII-dense chat. One per analyzer engine, so it lives and dies with the engine and its
    model; cleared when it holds ``MAX_LEMMAS``."""

    MAX_LEMMAS = 1 << 16

    def __init__(self) -> None:
        self._by_lemma: dict[tuple[str, str], tuple[str, ...]] = {}

    def keywords(self, nlp_engine: NlpEngine, language: str, lemmas: list[str]) -> list[str]:
        by_lemma = self._by_lemma
        if len(by_lemma) >= self.MAX_LEMMAS:
            by_lemma.clear()
        found: list[str] = []
        for lemma in lemmas:
            words = by_lemma.get((language, lemma))
            if words is None:
                words = tuple(NlpArtifacts.set_keywords(nlp_engine, [lemma], language))
                by_lemma[(language, lemma)] = words
            found.extend(words)
        return found


def nlp_artifacts(
    nlp_engine: NlpEngine, doc: Doc, language: str, keyword_cache: KeywordCache | None = None
) -> NlpArtifacts:
    """Presidio's NLP artifacts of an already processed spaCy doc: the entities and scores
    of ``_doc_to_nlp_artifact`` (its engine's own steps), the token lists on first use (the
    keywords through ``keyword_cache`` if given)."""
    engine: Any = nlp_engine
    entities, scores = engine._get_updated_entities(
        engine._get_entities(doc), engine._get_scores_for_entities(doc)
    )
    return LazyNlpArtifacts(entities, doc, nlp_engine, language, scores, keyword_cache)


def remove_low_scores(
    engine: AnalyzerEngine,
    results: list[RecognizerResult],
    score_threshold: float | None,
    recognizers: list[EntityRecognizer],
) -> list[RecognizerResult]:
    return engine._AnalyzerEngine__remove_low_scores(results, score_threshold, recognizers)  # type: ignore[attr-defined,no-any-return]


# The context step of a recognizer that does not override it: returns its findings as given.
_BASE_ENHANCE = EntityRecognizer.enhance_using_context


def enhance_using_context(
    engine: AnalyzerEngine,
    text: str,
    results: list[RecognizerResult],
    artifacts: NlpArtifacts,
    recognizers: list[EntityRecognizer],
) -> list[RecognizerResult]:
    """``analyze``'s context step, given only the recognizers that can take part in it.

    Presidio's step walks every recognizer, splitting all findings into the recognizer's
    and the others' (two list scans, ~22 a text on PII-dense chat), and returns the
    findings grouped in recognizer order; the context enhancer after it only looks up the
    recognizers of findings. A recognizer without findings whose ``enhance_using_context``
    is ``EntityRecognizer``'s (it returns the findings it is given) adds nothing there, so
    it is left out: the same findings, in the same order (``test_presidio_compat``).
    A recognizer that overrides the step is always passed: it may act on others' findings.
    """
    finders = {r.recognition_metadata[RecognizerResult.RECOGNIZER_IDENTIFIER_KEY] for r in results}
    taking_part = [
        r
        for r in recognizers
        if r.id in finders or type(r).enhance_using_context is not _BASE_ENHANCE
    ]
    return engine._enhance_using_context(text, results, artifacts, taking_part, None)


def remove_allow_list(
    engine: AnalyzerEngine, results: list[RecognizerResult], allow_list: list[str], text: str
) -> list[RecognizerResult]:
    """``analyze``'s exact-match allow list."""
    return engine._remove_allow_list(results, allow_list, text, _PRESIDIO_REGEX_FLAGS, "exact")


def remove_decision_process(
    engine: AnalyzerEngine, results: list[RecognizerResult]
) -> list[RecognizerResult]:
    return engine._AnalyzerEngine__remove_decision_process(results)  # type: ignore[attr-defined,no-any-return]


class _ShallowOnDeepcopy(list[RecognizerResult]):
    """A list whose deep copy is a new list of the same findings."""

    def __deepcopy__(self, memo: dict[int, Any]) -> list[RecognizerResult]:
        return list(self)


class IndexedContextEnhancer(LemmaContextAwareEnhancer):
    """Presidio's LemmaContextAwareEnhancer with the same results at linear cost.

    For each finding, Presidio scans the document's tokens from the start to find the
    finding's token, and looks context lemmas up in a list of the document's keywords: cost
    findings x tokens. On a 100,000-character text that was 90% of the analysis time
    (cProfile), so per-character cost grew with text length. Here the token is found by
    binary search over token end offsets and keywords are looked up in a set, both built
    once per document (the last document's are cached; Presidio passes the same list
    objects for every finding of a document).

    And a finding whose recognizer's context words cannot be among the document's keywords
    is not looked at (``_may_support``). Presidio collects the finding's surrounding words
    (its token found, the lemmas around it that are keywords, lower-cased), then looks for a
    context word equal to one of them ("whole_word") or inside one ("substring"). Every
    surrounding word is a keyword of the document (already in lower case: ``set_keywords``
    lowers each lemma): where no context word equals or is inside any keyword, none is found
    and the finding is left as it was, which is also what the enhancer does with a finding
    whose recognizer it was not given (findings are kept, in their order). On PII-dense chat
    77% of the findings that reached the context step had no such word in their document.
    """

    def __init__(self, context_matching_mode: str) -> None:
        super().__init__(context_matching_mode=context_matching_mode)
        self._ends: tuple[list[int], list[int]] | None = None
        self._keywords: tuple[list[str], frozenset[str]] | None = None

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        """Presidio's, on the findings themselves: it deep-copies them first so that the
        caller's list stays as it was (85 µs a text on PII-dense chat, 4% of a run), and
        the staged engine's caller holds no other reference to them. Given only the
        recognizers whose context words may be found (class doc)."""
        if not context and nlp_artifacts is not None and nlp_artifacts.tokens:
            recognizers = [r for r in recognizers if self._may_support(r, nlp_artifacts)]
        return super().enhance_using_context(
            text, _ShallowOnDeepcopy(raw_results), nlp_artifacts, recognizers, context
        )

    def _may_support(self, recognizer: EntityRecognizer, nlp_artifacts: NlpArtifacts) -> bool:
        """False where none of the recognizer's context words can match a keyword of the
        document (none equal to one, or, matching substrings, none inside one): none of its
        findings' scores can change (class doc). Without context words Presidio skips the
        recognizer's findings too."""
        if not recognizer.context:
            return False
        keywords = nlp_artifacts.keywords
        words = [word.lower() for word in recognizer.context]
        if self.context_matching_mode == "whole_word":
            found = self._keyword_set(keywords)
            return any(word in found for word in words)
        if self.context_matching_mode == "substring":
            return any(word in keyword for keyword in keywords for word in words)
        return True  # another mode: Presidio decides

    def _keyword_set(self, keywords: list[str]) -> frozenset[str]:
        """The document's keywords as a set, made once per document (the last one's kept:
        Presidio passes the same list for every finding of a document)."""
        cached = self._keywords
        if cached is None or cached[0] is not keywords:
            cached = self._keywords = (keywords, frozenset(keywords))
        return cached[1]

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
        # only `in` is used: a set serves
        keywords: list[str] = self._keyword_set(lemmatized_filtered_keywords)  # type: ignore[assignment]
        return super()._add_n_words(index, n_words, lemmas, keywords, is_backward)

