"""Presidio's email recognizer, offline: its domain check never reaches the network."""

from __future__ import annotations

import tldextract
from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import EmailRecognizer


class OfflineEmailRecognizer(EmailRecognizer):
    """EmailRecognizer whose domain validation uses the suffix list shipped with tldextract.

    Presidio's version calls ``tldextract.extract``, whose default extractor downloads the
    Public Suffix List on first use (presidio#1205): offline that prints tracebacks and can
    hang behind a firewall. ``suffix_list_urls=()`` and no cache directory mean: snapshot only.

    Not run on a text without "@": every one of Presidio's email patterns needs one (``[@]``,
    which no case folding matches otherwise), and on chat the pattern cost 47 µs a text, the
    third most of any recognizer, nearly all on texts with no "@".
    """

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(supported_language=supported_language)
        self._extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
        # Presidio's own pattern (read: "@" is outside every optional part); another list of
        # patterns is run on every text.
        self.needs_at = [p.regex for p in self.patterns] == [p.regex for p in self.PATTERNS]

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        if self.needs_at and "@" not in text:
            return []
        return super().analyze(text, entities, nlp_artifacts, regex_flags)

    def validate_result(self, pattern_text: str) -> bool:
        return self._extract(pattern_text).fqdn != ""
