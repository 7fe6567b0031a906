"""Texts in which a recognizer cannot find anything, told without running its patterns.

Each of Presidio's pattern recognizers below tries its regexes at every position of every
text, though each of its patterns needs a character most chat texts lack: a digit (SSN,
IBAN, card numbers; phonenumbers' matcher pattern needs ``\\d`` too), a digit or ":" (IPv4
needs digits, every IPv6 pattern a colon), an "@" (email). None of these characters has a
case variant, so Presidio's IGNORECASE does not widen them. A gate applies only while the
recognizer holds its class's own patterns (a deny list or a user's patterns get none).
On the chat mix the gated recognizers took 120 µs a text, 47 of them email alone;
``tests/test_structured.py`` checks each gated recognizer's findings equal its ungated
ones on eval and chat texts.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from presidio_analyzer import EntityRecognizer, PatternRecognizer
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    PhoneRecognizer,
    UsSsnRecognizer,
)

_DIGIT = re.compile(r"\d")  # Unicode digits: a superset of [0-9]


def has_digit(text: str) -> bool:
    return _DIGIT.search(text) is not None


def has_digit_or_colon(text: str) -> bool:
    return ":" in text or has_digit(text)


def has_at(text: str) -> bool:
    return "@" in text


_PATTERN_GATES: tuple[tuple[type[PatternRecognizer], Callable[[str], bool]], ...] = (
    (UsSsnRecognizer, has_digit),
    (IbanRecognizer, has_digit),
    (CreditCardRecognizer, has_digit),  # and its subclasses with their own digit patterns
    (IpRecognizer, has_digit_or_colon),
    (EmailRecognizer, has_at),
)


def text_gate(recognizer: EntityRecognizer) -> Callable[[str], bool] | None:
    """False for a text the recognizer cannot find anything in; None: no gate known."""
    if isinstance(recognizer, PhoneRecognizer):
        return has_digit  # phonenumbers' matcher finds nothing without a digit
    for kind, gate in _PATTERN_GATES:
        if isinstance(recognizer, kind) and isinstance(recognizer, PatternRecognizer):
            own = getattr(type(recognizer), "PATTERNS", None) or []
            if own and [p.regex for p in recognizer.patterns] == [p.regex for p in own]:
                return gate
    return None
