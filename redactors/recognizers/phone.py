"""Presidio's phone recognizer, with phonenumbers' parse skipped where it cannot succeed.

Presidio's ``PhoneRecognizer`` runs ``phonenumbers.PhoneNumberMatcher`` once per region (eight
by default). For each candidate the matcher finds (a run of digits and phone punctuation) and
for each piece of it (``_extract_inner_match``), ``_parse_and_verify`` parses the string and
keeps it only if the number is valid (leniency VALID or stricter). In chat most candidates
are "5", "10:30" or "2024": 0.64 s of the recognizer's 1.51 s over 4,980 chat texts went to
parsing strings that cannot be a valid number.

Why a string without ASCII letters and with fewer than 4 digits (or 4 digits not in
``_VALID_FOUR_DIGITS``) cannot be valid, in any of the proved regions:
- ``parse`` keeps a substring (``_extract_possible_number``), strips an extension suffix,
  then works on the remaining digits and on whether they start with a plus sign: letters
  only count when three ASCII letters are present (``_VALID_ALPHA_PHONE_PATTERN``, phone
  words such as 1-800-FLOWERS), and punctuation either makes it reject or drops a suffix
  (an extension after "#", ",", ";", "~"; a second number after "/"). So a valid
  number read from the string is the number ``parse`` reads from ``"+" + digits`` or from
  ``digits``, with ``digits`` a contiguous run of the string's digits
  (``normalize_digits_only``, any script; the gate counts an extension's digits too, which
  only makes it skip less).
- ``tests/test_phones.py`` parses every string of 1 to 4 digits, with and without "+", in
  every proved region: none of 1-3 digits is valid; the valid 4-digit ones are
  ``_VALID_FOUR_DIGITS``. The proof holds for one phonenumbers release (its metadata), so
  with any other release installed, or other regions, or a lenient leniency, every string
  is parsed as in Presidio.
Skipping ``_parse_and_verify`` leaves the matcher's search, its order and its try budget
(``max_tries``, counted by the callers) untouched: the results are Presidio's.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import Leniency, NumberParseException, PhoneNumberMatch, PhoneNumberMatcher
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

# What the proof in tests/test_phones.py was run against.
PROVED_RELEASE = "9.0.43"
# Presidio's default regions, written out: a Presidio release with another list is not proved
# until the test has run for it.
PROVED_REGIONS = frozenset({"US", "GB", "DE", "FR", "IL", "IN", "CA", "BR"})
# The 4-digit strings valid in a proved region (German 164x, 168x, 169x numbers).
_VALID_FOUR_DIGITS = frozenset(str(n) for n in (*range(1640, 1650), *range(1680, 1700)))
_ASCII_LETTER = re.compile("[A-Za-z]")
# Leniencies that require phonenumbers.is_valid_number (matcher's _verify).
_VALIDATING = frozenset({Leniency.VALID, Leniency.STRICT_GROUPING, Leniency.EXACT_GROUPING})


def cannot_be_valid(candidate: str) -> bool:
    """True when ``parse`` cannot read a valid number of a proved region from the string."""
    if _ASCII_LETTER.search(candidate):
        return False  # letters may become digits (phone words): parse decides
    digits = phonenumbers.normalize_digits_only(candidate)
    return len(digits) < 4 or (len(digits) == 4 and digits not in _VALID_FOUR_DIGITS)


class _GatedMatcher(PhoneNumberMatcher):
    def _parse_and_verify(self, candidate: str, offset: int) -> PhoneNumberMatch | None:
        if cannot_be_valid(candidate):
            return None  # what parse and verify would return, without parsing
        return super()._parse_and_verify(candidate, offset)


def gate_applies(regions: tuple[str, ...] | list[str], leniency: int | None) -> bool:
    """Whether the proof covers this recognizer's regions and leniency, and the installed
    phonenumbers release."""
    return (
        phonenumbers.__version__ == PROVED_RELEASE
        and set(regions) <= PROVED_REGIONS
        and leniency in _VALIDATING
    )


def phone_matcher(text: str, region: str, leniency: int) -> PhoneNumberMatcher:
    """``phonenumbers.PhoneNumberMatcher``, gated where the proof covers the region and
    leniency (same matches)."""
    gated = gate_applies((region,), leniency)
    return (_GatedMatcher if gated else PhoneNumberMatcher)(text, region, leniency=leniency)


class GatedPhoneRecognizer(PhoneRecognizer):
    """Presidio's PhoneRecognizer (presidio-analyzer 2.2), same regions, leniency, context and
    results; the matcher skips parsing strings that cannot be a valid number (module doc)."""

    def __init__(self, base: PhoneRecognizer) -> None:
        super().__init__(
            context=base.context,
            supported_language=base.supported_language,
            supported_entity=base.supported_entities[0],
            supported_regions=base.supported_regions,
            leniency=base.leniency,
            name=base.name,
        )
        self.version = base.version
        self.score_thresholds = base.score_thresholds

    @property
    def gated(self) -> bool:
        """Whether the proof covers this recognizer's settings now."""
        return gate_applies(self.supported_regions, self.leniency)

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if not self.gated:
            return super().analyze(text, entities, nlp_artifacts)
        # Presidio's loop, with the gated matcher. The region of a match's explanation is
        # the number's own region when it parses alone (Presidio reassigns the loop variable
        # the same way; the matcher was already built with the requested region).
        results: list[RecognizerResult] = []
        for region in self.supported_regions:
            for match in _GatedMatcher(text, region, leniency=self.leniency):
                try:
                    parsed_number = phonenumbers.parse(text[match.start : match.end])
                    region = phonenumbers.region_code_for_number(parsed_number)
                except NumberParseException:
                    pass
                results.append(self._get_recognizer_result(match, text, region, nlp_artifacts))
        return EntityRecognizer.remove_duplicates(results)
