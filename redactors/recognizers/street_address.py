"""Street addresses: number, name, street suffix, optional unit and city/postcode."""

from __future__ import annotations

import re
from typing import ClassVar

from presidio_analyzer import Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from redactors.recognizers.address_words import (
    ADDRESS_INTRO,
    ANY_CASE_ADDRESS,
    STRONG_ANY_CASE_ADDRESS,
    TITLE_CASE_ADDRESS,
    trim_end,
)


class StreetAddressRecognizer(PatternRecognizer):
    """US street addresses: number, name, USPS suffix, optional unit and "City, ST 12345".

    Presidio compiles patterns with re.IGNORECASE unless told otherwise, which made the
    title-case street name no filter at all ("10 min drive", "5 unit tests pass" were
    addresses). Here patterns are case-sensitive unless they say ``(?i:...)``:

    - title case ("42 Elm St", "42 Elm drive", "742 EVERGREEN TERRACE") scores 0.6 on its
      own, except common words before a weak suffix ("Top 3 Key Points");
    - any case with a strong suffix ("meet me at 9 oak street") 0.4, over the threshold;
    - any case with any suffix 0.25, under the threshold unless an address-introducing
      phrase is right before it ("I live at 9 oak run"), which adds 0.35.

    No Presidio context words: its window of 5 lemmas matched too much (see
    ``ADDRESS_INTRO``), and without them a text whose only finding is an address needs no
    lemmas (staged.py runs the lemma pipeline only for recognizers with context words).
    """

    ENTITY = "STREET_ADDRESS"
    INTRO_BOOST = 0.35  # as Presidio's context boost
    MIN_SCORE_WITH_INTRO = 0.4
    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern("us_street_address_title_case", TITLE_CASE_ADDRESS, 0.6),
        Pattern("us_street_address_strong_suffix", STRONG_ANY_CASE_ADDRESS, 0.4),
        Pattern("us_street_address_any_case", ANY_CASE_ADDRESS, 0.25),
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            context=[],  # see the docstring
            supported_language=supported_language,
            name="StreetAddressRecognizer",
            global_regex_flags=re.DOTALL | re.MULTILINE,  # no IGNORECASE: see the docstring
        )

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        """Presidio's pattern matching, with the sentence's full stop left outside
        (``address_words.trim_end``): the patterns end in an optional period for "St."."""
        results = super().analyze(text, entities, nlp_artifacts, regex_flags)
        for result in results:
            result.end = trim_end(text, result.start, result.end)
        return results

    def enhance_using_context(
        self,
        text: str,
        raw_recognizer_results: list[RecognizerResult],
        other_raw_recognizer_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        """Raise findings right after an address-introducing phrase (``ADDRESS_INTRO``)."""
        for result in raw_recognizer_results:
            if ADDRESS_INTRO.search(text, max(0, result.start - 60), result.start):
                result.score = min(
                    max(result.score + self.INTRO_BOOST, self.MIN_SCORE_WITH_INTRO), 1.0
                )
                result.recognition_metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = (
                    True
                )
        return raw_recognizer_results

