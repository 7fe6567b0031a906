"""Model findings that are names under another label.

The English models tag many people's names as an organisation, a place or a nationality
("Aoife Castellanos" ORG, "Bohuslav Sobotka" GPE). Plain Presidio masks those as
ORGANIZATION/LOCATION/NRP and so covers the name by accident, at the price of masking every
company and city. Here such a span becomes PERSON only when its words carry name evidence:
- two to four capitalised words, none an everyday word, one of them a first or last name of
  the multi-locale lexicon: "Aoife Castellanos", "Zachary Örlygsdóttir";
- or a chat cue right before it that addresses or points at a person ("thanks", "cc",
  "ping", "ask"): "cc Xiomara Quispe".
Real organisations and places ("Acme Corp", "New York") stay unmasked.
"""

from __future__ import annotations

import re

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from redactors.recognizers.finding import finding
from redactors.recognizers.name_lexicon import WORD, fold, is_capitalised, lexicon

# Presidio's names for the spaCy labels that may hide a person (nlp.SPACY_TO_PRESIDIO).
RESCUED_LABELS = frozenset({"ORGANIZATION", "LOCATION", "NRP"})
_CUE = re.compile(
    r"(?i:\b(?:hi|hey|hello|thanks|thank you|thx|ty|cc|ping|ask|dear|congrats|"
    r"talk to|talked to|tell|told|with|met)\s+)\Z"
)


class NerNameRecognizer(EntityRecognizer):
    ENTITY = "PERSON"
    SCORE = 0.85
    # staged.StagedAnalyzerEngine: a recognizer that only ever finds names keeps the NER
    # prefilter on (texts of common words cannot hold what it finds).
    NAMES_ONLY = True

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entities=[self.ENTITY],
            name="NerNameRecognizer",
            supported_language=supported_language,
        )
        self.lexicon = lexicon()

    def load(self) -> None:
        """Nothing to load: it reads the model's entities from the NLP artifacts."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if nlp_artifacts is None or self.ENTITY not in entities:
            return []
        results = []
        for span in nlp_artifacts.entities:
            if span.label_ in RESCUED_LABELS and self._is_name(text, span.start_char, span.text):
                results.append(
                    finding(self, self.ENTITY, span.start_char, span.end_char, self.SCORE)
                )
        return results

    def _is_name(self, text: str, start: int, value: str) -> bool:
        words = WORD.findall(value)
        if not words or not all(is_capitalised(w) for w in words) or len(words) > 4:
            return False
        if any(self.lexicon.is_word(fold(w)) for w in words):
            return False
        if len(words) >= 2 and any(self.lexicon.is_name(fold(w)) for w in words):
            return True
        return _CUE.search(text, max(0, start - 20), start) is not None
