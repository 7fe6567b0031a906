"""Card numbers of 12 to 19 digits that Presidio's pattern misses.

Presidio's ``CreditCardRecognizer`` wants 13-19 digits starting with 1, 3, 4, 5 or 6 in its
own grouping, so Maestro's 12 and 19 digits, 15-digit cards in 4-6-5 grouping (Amex),
4-4-4-4-3 and other issuers' ranges stay visible. Here a number passing Luhn's check is a card:
- in a card grouping (0.6): 4-4-4(-4)(-3), 4-6-4 (Diners), 4-6-5 (Amex), one separator kind
  (space or "-");
- as one run of digits (0.3, under the run's threshold) unless a card word comes shortly
  before ("card", "visa", "amex", "cc", "credit", "debit", "pay with"...; 0.6): one run of
  12-19 digits is also an order id or a millisecond timestamp, and one in ten of those
  passes Luhn.
Never: a number inside a longer run of digits or a word, all one digit repeated.
"""

from __future__ import annotations

import re
from typing import ClassVar

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from redactors.recognizers.group_regex import GroupRegexRecognizer

_GROUPED = (
    r"\d{4}(?P<sep>[ -])\d{4}(?P=sep)\d{4}(?:(?P=sep)\d{4}(?:(?P=sep)\d{3})?)?"
    r"|\d{4}(?P<sep2>[ -])\d{6}(?P=sep2)\d{4,5}"
)
# Card words shortly before a contiguous number: "card no. 4000...", "visa ending", "cc:",
# and paying: "pay with 5020...", "charged to 4000...".
CARD_WORDS_BEFORE = re.compile(
    r"\b(?:card|cards|visa|amex|american\s+express|mastercard|master\s+card|maestro|discover"
    r"|diners|jcb|unionpay|cc|credit|debit|pan|pay|paid|paying|payment|charge|charged)\b"
    r"[^\n\d]{0,25}\Z",
    re.IGNORECASE,
)


def luhn_valid(digits: str) -> bool:
    """Luhn's check (ISO/IEC 7812) on a string of ASCII digits."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char)
        if i % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


class LuhnCardRecognizer(GroupRegexRecognizer):
    """12-19 digit numbers passing Luhn in card grouping or after a card word (module doc)."""

    ENTITY = "CREDIT_CARD"
    GROUPED_SCORE = 0.6
    CONTIGUOUS_SCORE = 0.3
    CONTEXT_SCORE = 0.6
    RULES: ClassVar[list[tuple[str, str, float]]] = [
        ("card_grouped", rf"(?<![\w.,-])(?<!\d )({_GROUPED})(?![\w]|[.,-]\d| \d)", 0.6),
        ("card_contiguous", r"(?<![\w.,-])(\d{12,19})(?![\w]|[.,-]\d)", 0.3),
    ]
    FLAGS = re.ASCII

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results = []
        for _, pattern, rule_score in self._rules:
            for match in pattern.finditer(text):
                digits = re.sub(r"\D", "", match.group(1))
                if not 12 <= len(digits) <= 19 or len(set(digits)) == 1 or not luhn_valid(digits):
                    continue
                start = match.start(1)
                score = rule_score
                if CARD_WORDS_BEFORE.search(text, max(0, start - 40), start):
                    score = max(score, self.CONTEXT_SCORE)
                results.append(RecognizerResult(self.ENTITY, start, match.end(1), score))
        return results
