"""TextRedactor: detection + masking, configured once per worker, then fed batches of text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from presidio_anonymizer import AnonymizerEngine

from redactors.config import DetectionConfig, MaskingConfig
from redactors.detect import Detector, build_detector
from redactors.errors import SecretError
from redactors.mask import CUSTOM_OPERATORS, presidio_operator, resolve_overlaps

MIN_SECRET_BYTES = 16


def secret_key(secret: str | None, masking: MaskingConfig, entities: list[str]) -> bytes | None:
    """Validate the run secret; None when no configured operator needs one."""
    if not masking.needs_secret(entities):
        return None
    if secret is None:
        raise SecretError(
            "REDACT_SECRET is not set, and the masking config uses keyed operators "
            "(hash/pseudonym). Set it to a long random value and keep it: the same secret "
            "gives the same pseudonyms across runs."
        )
    key = secret.encode()
    if len(key) < MIN_SECRET_BYTES:
        raise SecretError(
            f"REDACT_SECRET is too short ({len(key)} bytes, need at least {MIN_SECRET_BYTES})"
        )
    return key


@dataclass(frozen=True)
class MaskedSpan:
    """One masked region, with offsets into the original text."""

    start: int
    end: int
    entity_type: str
    score: float


@dataclass(frozen=True)
class RedactedText:
    text: str
    spans: tuple[MaskedSpan, ...]


class TextRedactor:
    """Presidio analyzer + anonymizer with this project's recognizers, operators and rules."""

    def __init__(self, detector: Detector, masking: MaskingConfig, key: bytes | None) -> None:
        self.detector = detector
        self.anonymizer = AnonymizerEngine()
        for operator_cls in CUSTOM_OPERATORS:
            self.anonymizer.add_anonymizer(operator_cls)
        entities = list(detector.config.entities)
        self.operator_names = {entity: masking.operator_for(entity).type for entity in entities}
        self.operators = {
            entity: presidio_operator(entity, masking.operator_for(entity), key)
            for entity in entities
        }

    @classmethod
    def build(
        cls, detection: DetectionConfig, masking: MaskingConfig, secret: str | None
    ) -> TextRedactor:
        key = secret_key(secret, masking, list(detection.entities))
        return cls(build_detector(detection), masking, key)

    def redact(self, texts: Sequence[str]) -> list[RedactedText]:
        redacted: list[RedactedText] = []
        for text, findings in zip(texts, self.detector.analyze(texts), strict=True):
            if not findings:
                redacted.append(RedactedText(text, ()))
                continue
            regions = resolve_overlaps(text, findings)
            result = self.anonymizer.anonymize(
                text=text, analyzer_results=regions, operators=self.operators
            )
            spans = tuple(
                MaskedSpan(r.start, r.end, r.entity_type, round(float(r.score), 4)) for r in regions
            )
            redacted.append(RedactedText(result.text, spans))
        return redacted
