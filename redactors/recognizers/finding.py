"""A finding of one of this project's recognizers, tagged with it as Presidio tags its own."""

from __future__ import annotations

from typing import Any

from presidio_analyzer import EntityRecognizer, RecognizerResult


def finding(
    recognizer: EntityRecognizer,
    entity: str,
    start: int,
    end: int,
    score: float,
    **metadata: Any,
) -> RecognizerResult:
    """``metadata``: extra keys for the decision trail (e.g. the lexicon's ``rule``)."""
    return RecognizerResult(
        entity,
        start,
        end,
        score,
        recognition_metadata={
            RecognizerResult.RECOGNIZER_NAME_KEY: recognizer.name,
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: recognizer.id,
            **metadata,
        },
    )
