"""Card numbers Presidio's own pattern misses."""

from __future__ import annotations

from typing import ClassVar

from presidio_analyzer import Pattern
from presidio_analyzer.predefined_recognizers import CreditCardRecognizer


class Mastercard2SeriesRecognizer(CreditCardRecognizer):
    """Mastercard's 2221-2720 BIN range (issued since 2017), which Presidio's card pattern
    does not cover. Same Luhn validation and scoring as Presidio's recognizer."""

    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern(
            "mastercard_2_series",
            r"\b2(?:22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)[- ]?\d{4}[- ]?\d{4}[- ]?\d{4}\b",
            0.3,
        )
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            patterns=self.PATTERNS,
            supported_language=supported_language,
            name="Mastercard2SeriesRecognizer",
        )

