"""Engines configured once per worker, then fed batches of text.

- ``Masker``: presidio-anonymizer with this project's operators and overlap rules; turns
  findings into redacted text. Used by runs and by ``forget``.
- ``TextRedactor``: a Detector (Presidio analyzer) + a Masker.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from presidio_analyzer import RecognizerResult
from presidio_anonymizer import AnonymizerEngine

from redactors.config import NON_CONSENTED_ENTITY, DetectionConfig, MaskingConfig
from redactors.detector import Detector, build_detector
from redactors.longtext import overlap_groups
from redactors.mask import CUSTOM_OPERATORS, presidio_operator, resolve_overlaps
from redactors.mentions import NonConsentedMentions

MIN_SECRET_BYTES = 16


def secret_key(secret: str | None, required: bool) -> bytes | None:
    """Validate the run secret; None when nothing in the run needs one. The rule (at least
    16 non-whitespace characters, at least 6 different ones) is in redactors/secret.py, which
    the CLI can check without importing the engines."""
    from redactors.secret import check_secret

    return check_secret(secret, required)


@dataclass(frozen=True)
class MaskedSpan:
    """One masked region, with offsets into the original text."""

    start: int
    end: int
    entity_type: str
    score: float
    recognizer: str = ""


@dataclass(frozen=True)
class RedactedText:
    text: str
    spans: tuple[MaskedSpan, ...]  # offsets into the original text
    replaced: tuple[tuple[int, int], ...] = ()  # where replacements sit in ``text``
    nlp_stage: str = ""  # how detection used spaCy on it (see staged.StagedAnalyzerEngine)


class Masker:
    """Overlap resolution + presidio-anonymizer operators for a fixed set of entities."""

    def __init__(self, masking: MaskingConfig, entities: Sequence[str], key: bytes | None) -> None:
        self.anonymizer = AnonymizerEngine()
        for operator_cls in CUSTOM_OPERATORS:
            self.anonymizer.add_anonymizer(operator_cls)
        self.operator_names = {entity: masking.operator_for(entity).type for entity in entities}
        self.operators = {
            entity: presidio_operator(entity, masking.operator_for(entity), key)
            for entity in entities
        }

    def mask(self, text: str, findings: Sequence[RecognizerResult]) -> RedactedText:
        if not findings:
            return RedactedText(text, ())
        regions = [
            region for group in overlap_groups(findings) for region in resolve_overlaps(text, group)
        ]
        result = self.anonymizer.anonymize(
            text=text, analyzer_results=regions, operators=self.operators
        )
        spans = tuple(
            MaskedSpan(
                r.start,
                r.end,
                r.entity_type,
                round(float(r.score), 4),
                (r.recognition_metadata or {}).get("recognizer_name", ""),
            )
            for r in regions
        )
        replaced = tuple(sorted((item.start, item.end) for item in result.items))
        return RedactedText(result.text, spans, replaced)


class RepeatCache:
    """The redaction of recent short texts, least recently used out first. Redaction is a
    pure function of the text for a given set of engines, so a hit is exactly what analyzing
    again would give. One per TextRedactor: the flow builds engines per worker thread, so
    each thread has its own (the lock keeps it safe if one redactor is ever shared)."""

    MAX_CHARS = 256  # longer texts rarely repeat, and would make the cache large

    def __init__(self, entries: int) -> None:
        self.entries = entries
        self._recent: OrderedDict[str, RedactedText] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, texts: Sequence[str]) -> dict[str, RedactedText]:
        found = {}
        with self._lock:
            for text in texts:
                result = self._recent.get(text)
                if result is not None:
                    self._recent.move_to_end(text)
                    found[text] = result
        return found

    def clear(self) -> None:
        with self._lock:
            self._recent.clear()

    def put(self, results: dict[str, RedactedText]) -> None:
        with self._lock:
            for text, result in results.items():
                if len(text) <= self.MAX_CHARS:
                    self._recent[text] = result
            while len(self._recent) > self.entries:
                self._recent.popitem(last=False)


class TextRedactor:
    """Presidio analyzer + anonymizer with this project's recognizers, operators and rules,
    plus (optionally) the consent-derived matcher of mentions of non-consented people."""

    def __init__(
        self,
        detector: Detector,
        masker: Masker,
        mentions: NonConsentedMentions | None = None,
        repeat_cache: int = 0,
    ) -> None:
        self.detector = detector
        self.masker = masker
        self.mentions = mentions
        self.repeats = RepeatCache(repeat_cache) if repeat_cache else None
        # Texts redacted ahead of the batch that brings them (redact_ahead), taken once.
        self._ahead: dict[str, RedactedText] = {}

    @classmethod
    def build(
        cls,
        detection: DetectionConfig,
        masking: MaskingConfig,
        key: bytes | None,
        mentions: NonConsentedMentions | None = None,
        repeat_cache: int = 0,
        people_names: Iterable[str] = (),
    ) -> TextRedactor:
        detector = build_detector(detection, people_names)
        entities = [*detector.entities, *([NON_CONSENTED_ENTITY] if mentions else [])]
        return cls(detector, Masker(masking, entities, key), mentions, repeat_cache)

    def redact(
        self, texts: Sequence[str], stages: Counter[str] | None = None
    ) -> list[RedactedText]:
        """Redact a batch. Identical texts (chat repeats "ok", "thanks!") are analyzed once
        per batch, and not again while the repeat cache holds them: detection and masking
        are deterministic, so every copy gets the same result. ``stages`` counts the batch's
        unique texts per NLP stage (see staged.StagedAnalyzerEngine), cache hits included,
        so the counts do not depend on what a worker saw before."""
        unique = list(dict.fromkeys(texts))
        by_text = self.repeats.get(unique) if self.repeats is not None else {}
        redacted = {
            text: self._ahead.pop(text)
            for text in unique
            if text in self._ahead and text not in by_text
        }
        new = [text for text in unique if text not in by_text and text not in redacted]
        redacted.update(zip(new, self._redact_unique(new), strict=True))
        if self.repeats is not None:
            self.repeats.put(redacted)
        by_text.update(redacted)
        if stages is not None:
            stages.update(by_text[text].nlp_stage for text in unique)
        return [by_text[text] for text in texts]

    def redact_ahead(self, texts: Sequence[str]) -> None:
        """Redact texts that a later ``redact`` call will bring, while the process would
        otherwise wait (the CLI, for the Prefect server to start: ``ahead.redact_ahead``);
        that call takes each result once instead of analyzing the text again. The same
        engines give the same result whenever a text is redacted, as for the repeat cache."""
        new = [text for text in dict.fromkeys(texts) if text not in self._ahead]
        self._ahead.update(zip(new, self._redact_unique(new), strict=True))

    def _redact_unique(self, texts: Sequence[str]) -> list[RedactedText]:
        redacted = []
        stages: list[str] = []
        for text, findings, stage in zip(
            texts, self.detector.analyze(texts, stages), stages, strict=True
        ):
            if self.mentions is not None:
                # Outside Presidio, so detection.allow_list never un-masks a person who
                # said no; score 1.0 outranks every other finding on the same characters.
                findings = [
                    *findings,
                    *(
                        RecognizerResult(
                            NON_CONSENTED_ENTITY,
                            start,
                            end,
                            1.0,
                            recognition_metadata={"recognizer_name": "NonConsentedMentions"},
                        )
                        for start, end in self.mentions.find(text)
                    ),
                ]
            redacted.append(replace(self.masker.mask(text, findings), nlp_stage=stage))
        return redacted
