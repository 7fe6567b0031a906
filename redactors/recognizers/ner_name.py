"""Model findings that are names under another label.

The English models tag many people's names as an organisation, a place or a nationality
("Aoife Castellanos" ORG, "Bohuslav Sobotka" GPE). Plain Presidio masks those as
ORGANIZATION/LOCATION/NRP and so covers the name by accident, at the price of masking every
company and city. Here such a span becomes PERSON only when its words carry name evidence:
- two to four capitalised words, none an everyday word, one of them a first or last name of
  the multi-locale lexicon: "Aoife Castellanos", "Zachary Örlygsdóttir";
- or a chat cue right before it that addresses or points at a person ("thanks", "cc",
  "ping", "ask"): "cc Xiomara Quispe";
- or, for an organisation or nationality span, a word the model's vocabulary has no vector
  for, and no everyday word: "fouseytube", "Jonyeee", "De tailler". The model's vectors
  cover the frequent words of a large web corpus (en_core_web_md: 514k keys), so known
  companies and brands have one; a word without one that the model still calls an
  organisation is, on social text, most often a nickname, a handle written without "@" or
  a name from another language. Measured on ../shared/devsets (``make eval-external``):
  names recall wnut17-dev 0.828 -> 0.836, btc-dev 0.943 -> 0.948, presidio-generated
  0.964 -> 0.966, at char precision 0.823 -> 0.807 (wnut17-dev) and 0.915 -> 0.904
  (btc-dev). After a determiner the span is a thing ("a Zorbex"). Places are left out: a
  village the vectors miss is still a place. A model without vectors (sm) gives no such
  evidence, and the rule is off.
Real organisations and places ("Acme Corp", "New York") stay unmasked.
"""

from __future__ import annotations

import re

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.tokens import Span

from redactors.recognizers.cued_name import DETERMINER_BEFORE
from redactors.recognizers.finding import finding
from redactors.recognizers.name_lexicon import WORD, fold, is_capitalised, lexicon

# Presidio's names for the spaCy labels that may hide a person (nlp.SPACY_TO_PRESIDIO).
RESCUED_LABELS = frozenset({"ORGANIZATION", "LOCATION", "NRP"})
# The labels whose spans a word unknown to the model's vectors makes a name (module doc).
UNKNOWN_WORD_LABELS = frozenset({"ORGANIZATION", "NRP"})
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
            if span.label_ not in RESCUED_LABELS:
                continue
            if self._is_name(text, span.start_char, span.text) or self._is_unknown(text, span):
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

    def _is_unknown(self, text: str, span: Span) -> bool:
        """An organisation or nationality span of one to four words, none an everyday word,
        one of them unknown to the model's vectors (in its own case and in lower case), and
        no determiner right before it ("a Zorbex": a thing)."""
        vocab = span.vocab
        if span.label_ not in UNKNOWN_WORD_LABELS or vocab.vectors.size == 0:
            return False
        if DETERMINER_BEFORE.search(text, max(0, span.start_char - 30), span.start_char):
            return False
        words = WORD.findall(span.text)
        # Words and blanks only: no digits, "#", "@", links or emoji in the span.
        if not words or len(words) > 4 or WORD.sub("", span.text).strip():
            return False
        if any(self.lexicon.is_word(fold(w)) for w in words):
            return False
        return any(not (vocab.has_vector(w) or vocab.has_vector(w.lower())) for w in words)
