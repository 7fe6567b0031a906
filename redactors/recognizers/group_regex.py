"""Bases for recognizers that read the text alone: ``TextOnlyRecognizer``, and
``GroupRegexRecognizer``, whose regex group 1 is the finding (context stays unmasked)."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts


class TextOnlyRecognizer(EntityRecognizer):
    """A recognizer whose ``analyze`` never reads the NLP artifacts: the staged analyzer
    runs it before spaCy, on the text alone (staged.TEXT_ONLY_RECOGNIZERS)."""

    def load(self) -> None:
        """Nothing to load."""


class GroupRegexRecognizer(TextOnlyRecognizer):
    """Regexes whose *group 1* is the finding, so context words ("password:", "born on")
    select a value without being masked themselves (Python's re has no variable-length
    look-behind)."""

    ENTITY = ""
    RULES: ClassVar[list[tuple[str, str, float]]] = []  # (name, regex with group 1, score)
    FLAGS = 0
    # ``regex`` for rules that need Unicode properties (\p{Lu}); ``re`` is the default.
    ENGINE: ClassVar[Any] = re
    # A regex that finds something (same engine and flags) in every text any rule matches:
    # the text is not scanned rule by rule when it finds nothing. None: no gate.
    GATE: ClassVar[str | None] = None

    def __init__(self, supported_language: str = "en") -> None:
        self._rules = [
            (name, self.ENGINE.compile(rx, self.FLAGS), score) for name, rx, score in self.RULES
        ]
        self._gate = None if self.GATE is None else self.ENGINE.compile(self.GATE, self.FLAGS)
        super().__init__(
            supported_entities=[self.ENTITY],
            name=type(self).__name__,
            supported_language=supported_language,
        )

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if self._gate is not None and self._gate.search(text) is None:
            return []
        return [
            RecognizerResult(self.ENTITY, match.start(1), match.end(1), score)
            for _, pattern, score in self._rules
            for match in pattern.finditer(text)
            if self.keep(match.group(1))
        ]

    def keep(self, value: str) -> bool:
        return True

