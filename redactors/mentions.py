"""Mentions of people who did not consent, inside the text of people who did.

A consented user's message may name or @mention someone who opted out. Their records are
dropped by the consent gate, but their handle, display name or mention token would still
reach training through other people's text. This matcher finds those references, from the
registry (handles and display names of every non-consented user, from any of their rows)
and from mention tokens (``<@U024BE7LH>``, checked against the gate, so ids that are not in
the registry at all count too under opt-in).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from redactors.config import NON_CONSENTED_ENTITY
from redactors.consent import ConsentGate

MENTION_TOKEN = re.compile(r"<@([UW][A-Z0-9]{6,14})(?:\|[^<>\n]{1,80})?>")
# Display names shorter than this would match ordinary words ("Al", "Jo").
MIN_NAME_CHARS = 3


def _alternation(words: Iterable[str]) -> str:
    # Longest first, so "Ann Lee-Smith" wins over "Ann Lee".
    return "|".join(re.escape(word) for word in sorted(set(words), key=lambda w: (-len(w), w)))


class NonConsentedMentions:
    """Compiled once per run; ``find`` returns (start, end) spans in a text."""

    def __init__(
        self,
        is_consented: Callable[[str], bool],
        handles: Iterable[str],
        display_names: Iterable[str],
    ) -> None:
        self.is_consented = is_consented
        clean_handles = {h.strip().lstrip("@") for h in handles if h and h.strip().lstrip("@")}
        clean_names = {
            " ".join(n.split()) for n in display_names if n and len(n.strip()) >= MIN_NAME_CHARS
        }
        parts = []
        if clean_handles:
            parts.append(rf"(?<![\w.@/])@(?:{_alternation(clean_handles)})(?![\w-])")
        if clean_names:
            # Whitespace inside a name may vary ("Ann  Lee", "Ann\nLee").
            names = _alternation(clean_names).replace(r"\ ", r"\s+")
            parts.append(rf"(?<!\w)(?:{names})(?!\w)")
        self._pattern = re.compile("|".join(parts), re.IGNORECASE) if parts else None
        self.size = len(clean_handles) + len(clean_names)

    @classmethod
    def from_gate(cls, gate: ConsentGate) -> NonConsentedMentions:
        identities = gate.non_consented_identities
        return cls(
            gate.is_consented,
            identities["handle"].drop_nulls().to_list(),
            identities["display_name"].drop_nulls().to_list(),
        )

    def find(self, text: str) -> list[tuple[int, int]]:
        spans = [
            match.span()
            for match in MENTION_TOKEN.finditer(text)
            if not self.is_consented(match.group(1))
        ]
        if self._pattern is not None:
            spans += [match.span() for match in self._pattern.finditer(text)]
        return sorted(spans)


class NonConsentedMentionRecognizer(EntityRecognizer):
    """Presidio wrapper: findings of entity NON_CONSENTED_USER with score 1.0."""

    def __init__(self, mentions: NonConsentedMentions, supported_language: str = "en") -> None:
        self.mentions = mentions
        super().__init__(
            supported_entities=[NON_CONSENTED_ENTITY],
            name="NonConsentedMentionRecognizer",
            supported_language=supported_language,
        )

    def load(self) -> None:
        """Nothing to load: the matcher is built from the registry before."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        return [
            RecognizerResult(NON_CONSENTED_ENTITY, start, end, 1.0)
            for start, end in self.mentions.find(text)
        ]
