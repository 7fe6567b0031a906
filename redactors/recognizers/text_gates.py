"""Texts in which a recognizer cannot find anything, told without running its patterns.

Each of Presidio's pattern recognizers below tries its regexes at every position of every
text, though each of its patterns needs a character most chat texts lack: a digit (SSN,
IBAN, card numbers; phonenumbers' matcher pattern needs ``\\d`` too), a digit or ":" (IPv4
needs digits, every IPv6 pattern a colon), an "@" (email). None of these characters has a
case variant, so Presidio's IGNORECASE does not widen them.

Where a pattern needs more than one such character, the gate asks for that much, read off
Presidio's patterns (presidio-analyzer 2.2), since chat is full of lone digits ("at 5",
"10:30", "2 mins"):
- SSN: each of its five patterns holds three ASCII digits and then a separator and two
  digits, or six more digits, or two more and a hyphen (``_SSN_PARTS``);
- card numbers (``CreditCardRecognizer``'s own pattern): its first group is four digits
  (``4\\d{3}``, ``5[0-5]\\d{2}``, ...), so ``\\d{4}`` in the ``regex`` module, as Presidio
  matches it;
- IBAN: a country code and check digits, ``[A-Z]{2}[0-9]{2}``, matched with the
  recognizer's own flags (IGNORECASE only if it was given);
- IP: an IPv4 address holds a digit, a dot and a digit (``[0-9]\\.[0-9]``); every IPv6
  pattern but one holds "::", and that one (eight groups) seven colons;
- this project's US street addresses (``StreetAddressRecognizer``): each of its patterns
  starts with a house number, an optional letter and a blank (``\\d[a-z]?\\s``, any case).
A gate applies only while the recognizer holds its class's own patterns (a deny list or a
user's patterns get none). On the chat mix the gated recognizers took 120 µs a text, 47 of
them email alone; ``tests/test_structured.py`` checks each gated recognizer's findings equal
its ungated ones on eval and chat texts and on the edges of each gate.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import regex
from presidio_analyzer import EntityRecognizer, PatternRecognizer
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    PhoneRecognizer,
    UsSsnRecognizer,
)

from redactors.recognizers.street_address import StreetAddressRecognizer

_DIGIT = re.compile(r"\d")  # Unicode digits: a superset of [0-9]


def has_digit(text: str) -> bool:
    return _DIGIT.search(text) is not None


def has_digit_or_colon(text: str) -> bool:
    return ":" in text or has_digit(text)


def has_at(text: str) -> bool:
    return "@" in text


# What each of Presidio's SSN patterns holds: "123-45", "123 45 ", "12345-", "123-456789",
# "123456789".
_SSN_PARTS = re.compile(r"[0-9]{3}(?:[- .][0-9]{2}|[0-9]{2}-|-[0-9]{6}|[0-9]{6})")
_DIGIT_DOT_DIGIT = re.compile(r"[0-9]\.[0-9]")


def may_hold_ssn(text: str) -> bool:
    return _SSN_PARTS.search(text) is not None


def may_hold_ip(text: str) -> bool:
    if "::" in text or _DIGIT_DOT_DIGIT.search(text) is not None:
        return True
    return text.count(":") >= 7


def _searcher(pattern: str, flags: int) -> Callable[[str], bool]:
    """True where the ``regex`` pattern, compiled as Presidio compiles its own (same module,
    same flags), finds something."""
    compiled = regex.compile(pattern, flags=flags)
    return lambda text: compiled.search(text) is not None


_PATTERN_GATES: tuple[tuple[type[PatternRecognizer], Callable[[str], bool]], ...] = (
    (UsSsnRecognizer, has_digit),
    (IbanRecognizer, has_digit),
    (CreditCardRecognizer, has_digit),  # and its subclasses with their own digit patterns
    (IpRecognizer, has_digit_or_colon),
    (EmailRecognizer, has_at),
)


def _pattern_gate(recognizer: PatternRecognizer) -> Callable[[str], bool] | None:
    """The stricter gate of a recognizer holding exactly Presidio's patterns of its class
    (module doc); None for any other."""
    for kind in (UsSsnRecognizer, IbanRecognizer, CreditCardRecognizer, IpRecognizer):
        if type(recognizer).PATTERNS is kind.PATTERNS and isinstance(recognizer, kind):
            break
    else:
        return None
    if [p.regex for p in recognizer.patterns] != [p.regex for p in kind.PATTERNS]:
        return None
    flags = recognizer.global_regex_flags
    if kind is UsSsnRecognizer:
        return may_hold_ssn
    if kind is IpRecognizer:
        return may_hold_ip
    if kind is CreditCardRecognizer:
        return _searcher(r"\d{4}", flags)
    return _searcher(r"[A-Z]{2}[0-9]{2}", flags)


def text_gate(recognizer: EntityRecognizer) -> Callable[[str], bool] | None:
    """False for a text the recognizer cannot find anything in; None: no gate known."""
    if isinstance(recognizer, StreetAddressRecognizer):
        own = [p.regex for p in StreetAddressRecognizer.PATTERNS]
        if [p.regex for p in recognizer.patterns] == own:
            return _searcher(r"\d(?i:[a-z])?\s", recognizer.global_regex_flags)
        return None
    if isinstance(recognizer, PhoneRecognizer):
        return has_digit  # phonenumbers' matcher finds nothing without a digit
    if isinstance(recognizer, PatternRecognizer) and (strict := _pattern_gate(recognizer)):
        return strict
    for kind, gate in _PATTERN_GATES:
        if isinstance(recognizer, kind) and isinstance(recognizer, PatternRecognizer):
            own = getattr(type(recognizer), "PATTERNS", None) or []
            if own and [p.regex for p in recognizer.patterns] == [p.regex for p in own]:
                return gate
    return None
