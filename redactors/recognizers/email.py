"""Presidio's email recognizer, offline: its domain check never reaches the network."""

from __future__ import annotations

import tldextract
from presidio_analyzer.predefined_recognizers import EmailRecognizer


class OfflineEmailRecognizer(EmailRecognizer):
    """EmailRecognizer whose domain validation uses the suffix list shipped with tldextract.

    Presidio's version calls ``tldextract.extract``, whose default extractor downloads the
    Public Suffix List on first use (presidio#1205): offline that prints tracebacks and can
    hang behind a firewall. ``suffix_list_urls=()`` and no cache directory mean: snapshot only.
    """

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(supported_language=supported_language)
        self._extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    def validate_result(self, pattern_text: str) -> bool:
        return self._extract(pattern_text).fqdn != ""

