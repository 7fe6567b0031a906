r"""Presidio's URL recognizer, its patterns run only on the words that can hold a URL.

Presidio's four URL patterns try a host run of up to 253 characters at every letter of a
text. Where the text cannot hold a URL, the run does not call the recognizer at all (the
gate of recognizers/text_gates.py, ``url_gate``). Where it can (on PII-dense chat, nearly
every text with an email: "ann.lee@example.org" holds the URL "example.org"), the patterns
run on a copy of the text in which every whitespace-separated word without a gate match is
replaced by as many spaces: the same offsets, the same findings, half the time
(``GatedUrlRecognizer.analyze``).

Why the findings are the same, under the flags the gate is proved for and no others (any
of IGNORECASE, MULTILINE, DOTALL; Presidio's default is all three):
- No character a pattern takes is whitespace: "http", "s", "://", quotes, ``\d``, the host
  class ``[a-z0-9.\-]`` (no whitespace character has a case variant), the domains' letters,
  digits and "-", and the path class ``[^\s()<>"']``. So every match lies inside one word
  (a run of ``\S``, same engine, same flags), and trying a pattern at a position reads no
  character before it (no look-behind, no anchor, no ``\b``) and none after the word's
  end but the whitespace character or text end there, which every item fails alike.
- A match holds a gate match (``url_gate``'s argument), which lies inside the same word: a
  word without one holds no match, and once it is blanked no match can start in it either
  (no pattern's first item takes a space).
So trying a pattern at any position gives the same result on the copy as on the text, and
``finditer`` (the leftmost match, then on from its end) yields the same matches; Presidio
reads each match's characters from the copy, the same as the text's there. Outside those
flags (``FULL_CASE``, ASCII, VERBOSE, ...) or with other patterns the recognizer is
Presidio's. (Presidio's regex timeout is wall-clock: a text it cut short may now finish.)
"""

from __future__ import annotations

import regex
from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import UrlRecognizer

from redactors.recognizers.text_gates import url_gate

# The flags the argument above covers.
_PROVED_FLAGS = regex.IGNORECASE | regex.MULTILINE | regex.DOTALL
_WORD = regex.compile(r"\S+", flags=_PROVED_FLAGS)


class GatedUrlRecognizer(UrlRecognizer):
    """Presidio's UrlRecognizer, same patterns and results; the patterns run only on the
    words where ``url_gate`` finds something (module doc)."""

    def __init__(self, base: UrlRecognizer) -> None:
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

    @property
    def gate(self) -> regex.Pattern[str] | None:
        """``url_gate`` of the recognizer's current patterns (None: they run as Presidio's)."""
        return url_gate(self.patterns)

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        flags = regex_flags or self.global_regex_flags
        gate = self.gate  # of the current patterns: they may have been replaced since
        if gate is None or flags & ~_PROVED_FLAGS:
            return super().analyze(text, entities, nlp_artifacts, regex_flags)
        if gate.search(text) is None:
            return []  # no match (the run's text gate tells so before calling)

        def blank_unless_url(word: regex.Match[str]) -> str:
            found = gate.search(word.group()) is not None
            return word.group() if found else " " * len(word.group())

        return super().analyze(
            _WORD.sub(blank_unless_url, text), entities, nlp_artifacts, regex_flags
        )
