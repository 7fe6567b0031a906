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
- IP: an IPv4 address (alone or inside an IPv6 one) holds three dots between 1-3 digit
  octets (``[0-9]\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]``); every IPv6 pattern but one holds
  "::", and that one (eight groups) seven colons;
- this project's 2-series Mastercard pattern: four digits too (``2`` and three more);
- this project's @-mentions (``UserMentionRecognizer``): an "@";
- this project's US street addresses (``StreetAddressRecognizer``): each of its patterns
  starts with a house number, an optional letter and a blank (``\\d[a-z]?\\s``, any case).
A gate applies only while the recognizer holds its class's own patterns (a deny list or a
user's patterns get none). On the chat mix the gated recognizers took 120 µs a text, 47 of
them email alone; ``tests/test_structured.py`` checks each gated recognizer's findings equal
its ungated ones on eval and chat texts and on the edges of each gate.

Presidio's URL recognizer has a gate built from its own patterns (``url_gate``: a host
character, a dot and one of its top-level domains), which recognizers/url.py also applies
word by word.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

import regex
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    PhoneRecognizer,
    UrlRecognizer,
    UsSsnRecognizer,
)

from redactors.recognizers.card import Mastercard2SeriesRecognizer
from redactors.recognizers.mention import UserMentionRecognizer
from redactors.recognizers.street_address import StreetAddressRecognizer

_DIGIT = re.compile(r"\d")  # Unicode digits: a superset of [0-9]


def has_digit(text: str) -> bool:
    return _DIGIT.search(text) is not None


def has_at(text: str) -> bool:
    return "@" in text


# What each of Presidio's SSN patterns holds: "123-45", "123 45 ", "12345-", "123-456789",
# "123456789".
_SSN_PARTS = re.compile(r"[0-9]{3}(?:[- .][0-9]{2}|[0-9]{2}-|-[0-9]{6}|[0-9]{6})")
_DOTTED_QUAD = re.compile(r"[0-9]\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]")


def may_hold_ssn(text: str) -> bool:
    return _SSN_PARTS.search(text) is not None


def may_hold_ip(text: str) -> bool:
    if "::" in text or _DOTTED_QUAD.search(text) is not None:
        return True
    return text.count(":") >= 7


def _searcher(pattern: str, flags: int) -> Callable[[str], bool]:
    """True where the ``regex`` pattern, compiled as Presidio compiles its own (same module,
    same flags), finds something."""
    compiled = regex.compile(pattern, flags=flags)
    return lambda text: compiled.search(text) is not None


def _four_digits(flags: int) -> Callable[[str], bool]:
    return _searcher(r"\d{4}", flags)


# The gate of each pattern recognizer, built from its regex flags (module doc); it applies
# only to a recognizer holding exactly its class's own patterns.
_OWN_PATTERN_GATES: dict[type[PatternRecognizer], Callable[[int], Callable[[str], bool]]] = {
    UsSsnRecognizer: lambda flags: may_hold_ssn,
    IbanRecognizer: lambda flags: _searcher(r"[A-Z]{2}[0-9]{2}", flags),
    CreditCardRecognizer: _four_digits,
    Mastercard2SeriesRecognizer: _four_digits,
    IpRecognizer: lambda flags: may_hold_ip,
    EmailRecognizer: lambda flags: has_at,
    UserMentionRecognizer: lambda flags: has_at,
    StreetAddressRecognizer: lambda flags: _searcher(r"\d(?i:[a-z])?\s", flags),
}


def _own_patterns_gate(recognizer: PatternRecognizer) -> Callable[[str], bool] | None:
    """The gate of a recognizer whose class is in ``_OWN_PATTERN_GATES`` (or inherits its
    patterns from one) and that holds exactly those patterns; None for any other (a deny
    list, a user's patterns, a subclass with patterns of its own not in the table)."""
    own = getattr(type(recognizer), "PATTERNS", None)
    for kind, make in _OWN_PATTERN_GATES.items():
        if own is kind.PATTERNS and isinstance(recognizer, kind):
            if [p.regex for p in recognizer.patterns] != [p.regex for p in own]:
                return None
            return make(recognizer.global_regex_flags)
    return None


# Every pattern of Presidio's URL recognizer holds this, then its list of top-level domains
# ``(?:(?:com)|(?:edu)|...)``.
_URL_HOST_END = r"[a-z0-9.\-]{1,253}[.]"
_TLD_GROUP = regex.compile(r"\(\?:\(\?:[a-z0-9\-]+\)(?:\|\(\?:[a-z0-9\-]+\))*\)")
# Full case folding matches one character against several ("ﬆ" against "st"): the URL
# gate's one-character look-ahead would not follow.
FULL_CASE = regex.FULLCASE | regex.V1


def url_gate(patterns: list[Pattern]) -> regex.Pattern[str] | None:
    r"""A regex that finds something in every text Presidio's URL patterns match; None for
    any other patterns (a user's own list may not need a domain: ``localhost:8080``).

    Each of Presidio's URL patterns needs ``[a-z0-9.\-]{1,253}[.]`` then one of its ~1,500
    top-level domains: so wherever one matches, the last character before the dot, the dot
    and the domain match ``[a-z0-9.\-][.](?:<the domains>)`` (a look-ahead for the domains'
    first letters fails fast before trying the list). That takes 0.01 s over 4,980 chat
    texts where the patterns take 0.70 s: each tries a 253-character run at every letter.
    The domain list is read from the patterns, so a new list in Presidio is followed. Not
    for full case folding (``FULL_CASE``)."""
    return _url_gate(tuple(p.regex for p in patterns))


@functools.cache
def _url_gate(regexes: tuple[str, ...]) -> regex.Pattern[str] | None:
    if list(regexes) != [p.regex for p in UrlRecognizer.PATTERNS]:
        return None
    groups: set[str] = set()
    for pattern in regexes:
        at = pattern.find(_URL_HOST_END + "(?:")
        found = _TLD_GROUP.match(pattern, at + len(_URL_HOST_END)) if at >= 0 else None
        if found is None:
            return None
        groups.add(found.group())
    if len(groups) != 1:
        return None
    tlds = groups.pop()
    firsts = "".join(sorted({word[0] for word in regex.findall(r"\(\?:([a-z0-9\-]+)\)", tlds)}))
    return regex.compile(rf"[a-z0-9.\-][.](?=[{firsts}]){tlds}", flags=regex.IGNORECASE)


def _url_text_gate(recognizer: UrlRecognizer) -> Callable[[str], bool] | None:
    gate = url_gate(recognizer.patterns)
    if gate is None or recognizer.global_regex_flags & FULL_CASE:
        return None  # (the run's callers pass no regex_flags: the recognizer's own apply)
    return lambda text: gate.search(text) is not None


def text_gate(recognizer: EntityRecognizer) -> Callable[[str], bool] | None:
    """False for a text the recognizer cannot find anything in; None: no gate known."""
    if isinstance(recognizer, PhoneRecognizer):
        return has_digit  # phonenumbers' matcher finds nothing without a digit
    if isinstance(recognizer, UrlRecognizer):
        return _url_text_gate(recognizer)
    if isinstance(recognizer, PatternRecognizer):
        return _own_patterns_gate(recognizer)
    return None
