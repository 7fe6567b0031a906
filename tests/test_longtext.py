"""Long texts: linear-time overlap resolution and context enhancement (real Presidio +
spaCy for the enhancer)."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st
from presidio_analyzer import RecognizerResult
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

from redactors.detect import IndexedContextEnhancer
from redactors.evalset import generate
from redactors.longtext import overlap_groups
from redactors.mask import resolve_overlaps


def r(entity: str, start: int, end: int, score: float) -> RecognizerResult:
    return RecognizerResult(entity_type=entity, start=start, end=end, score=score)


_RESULTS = st.lists(
    st.builds(
        lambda entity, start, length, score: r(entity, start, start + length, score),
        st.sampled_from(["PERSON", "LOCATION", "EMAIL_ADDRESS", "URL", "PHONE_NUMBER"]),
        st.integers(0, 60),
        st.integers(1, 15),
        st.sampled_from([0.4, 0.5, 0.85, 1.0]),
    ),
    max_size=25,
)


def _key(results: list[RecognizerResult]) -> list[tuple[str, int, int, float]]:
    return [(x.entity_type, x.start, x.end, x.score) for x in results]


@settings(max_examples=300, deadline=None)
@given(results=_RESULTS, text=st.text(alphabet="ab C1-.@ ", min_size=80, max_size=80))
def test_overlap_resolution_by_group_equals_resolution_of_all(results, text):
    by_group = [x for group in overlap_groups(results) for x in resolve_overlaps(text, group)]
    assert _key(by_group) == _key(resolve_overlaps(text, results))


SEPARATOR = "\n\n* * *\n\n"  # keeps a regex or a phone match from running into the next piece


def test_indexed_context_enhancer_gives_presidio_results(redactor, monkeypatch):
    detector = redactor.detector
    text = SEPARATOR.join(str(record["text"]) for record in generate(seed=4_343, n=250))
    ours = detector.analyze([text])[0]
    presidio = LemmaContextAwareEnhancer(context_matching_mode=detector.config.context_matching)
    monkeypatch.setattr(detector.analyzer, "context_aware_enhancer", presidio)
    theirs = detector.analyze([text])[0]
    assert _key(ours) == _key(theirs) and len(ours) > 100
    # the token lookup itself, at every offset of a short text (past the last token: both
    # raise)
    artifacts = detector.analyzer.nlp_engine.process_text(text[:1_500], "en")
    indexed = IndexedContextEnhancer("whole_word")

    def lookup(find: Callable[..., int], start: int) -> int | None:
        try:
            return find("w", start, artifacts.tokens, artifacts.tokens_indices)
        except ValueError:
            return None

    presidio_find = LemmaContextAwareEnhancer._find_index_of_match_token
    found = [lookup(indexed._find_index_of_match_token, start) for start in range(1_501)]
    assert found == [lookup(presidio_find, start) for start in range(1_501)]
    assert found[0] == 0 and found[-1] is None
