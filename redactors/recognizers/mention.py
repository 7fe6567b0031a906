"""@handles and Slack-style mention tokens, which carry user ids and handles into text."""

from __future__ import annotations

from typing import ClassVar

from presidio_analyzer import Pattern, PatternRecognizer

# Broadcast mentions name nobody.
_NON_PERSONAL_MENTIONS = frozenset({"@here", "@channel", "@everyone", "@all", "@team"})


class UserMentionRecognizer(PatternRecognizer):
    """@handles and Slack-style ``<@U…>`` / ``<@U…|name>`` mention tokens."""

    ENTITY = "USER_MENTION"
    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern("slack_mention_token", r"<@[UW][A-Z0-9]{6,14}(?:\|[^>\n]*)?>", 0.95),
        # Not preceded by a word character, dot, slash or @: excludes the "@domain" of emails.
        Pattern("at_handle", r"(?<![\w.@/])@[A-Za-z0-9_][A-Za-z0-9_.-]{0,38}[A-Za-z0-9_]", 0.6),
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            supported_language=supported_language,
            name="UserMentionRecognizer",
        )

    def invalidate_result(self, pattern_text: str) -> bool:
        return pattern_text.lower() in _NON_PERSONAL_MENTIONS

