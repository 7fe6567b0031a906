"""Presidio's IBAN recognizer, also when a word follows the number.

Presidio's registry compiles every pattern with IGNORECASE, and its IBAN pattern takes up to
six more groups of four letters or digits after the country code and check digits, each
after an optional blank. Where the IBAN's own groups leave room (20- and 24-character IBANs:
AT, ES, SE, LU, EE, LT, CZ, SK, RO, ...), the pattern goes on into the next word: "IBAN
AT61 1904 3002 3457 3201 please" reads "... 3201 plea" + "se", each of the ends Presidio
tries fails the checksum, and the real IBAN stays visible (Presidio 2.2; a word of three
letters or fewer, a full stop or the end of the text does not do it).

``WordSafeIbanRecognizer`` runs Presidio's analysis as before and, under IGNORECASE, once
more case-sensitively (IBANs are written in capitals: the pattern then stops at a
lower-case word), and keeps a case-sensitive finding that overlaps none of the first run's.
Lower-case IBANs are found as before (the first run); an upper-case word after one still
hides it, as in Presidio.
"""

from __future__ import annotations

import copy

import regex
from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import IbanRecognizer


class WordSafeIbanRecognizer(IbanRecognizer):
    """Presidio's IbanRecognizer (same patterns, context and flags), plus a case-sensitive
    run for IBANs followed by a word (module doc)."""

    def __init__(self, base: IbanRecognizer) -> None:
        super().__init__(
            patterns=base.patterns,
            context=base.context,
            supported_language=base.supported_language,
            supported_entity=base.supported_entities[0],
            name=base.name,
        )
        self.global_regex_flags = base.global_regex_flags
        self.version = base.version
        self.score_thresholds = base.score_thresholds
        # Presidio's IbanRecognizer.analyze reads its flags from the instance (it ignores
        # ``regex_flags``): the case-sensitive run is a copy of the base with other flags.
        self._case_sensitive = copy.copy(base)
        self._case_sensitive.global_regex_flags = base.global_regex_flags & ~regex.IGNORECASE

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        found = super().analyze(text, entities, nlp_artifacts, regex_flags)
        if not self.global_regex_flags & regex.IGNORECASE:
            return found
        for result in self._case_sensitive.analyze(text, entities, nlp_artifacts):
            if not any(result.start < f.end and f.start < result.end for f in found):
                result.recognition_metadata = {
                    **(result.recognition_metadata or {}),
                    RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                }
                found.append(result)
        return found
