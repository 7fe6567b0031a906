"""Leak re-scan: strict, high-precision detectors run over the text that goes to shards.

It looks only *outside* the regions the pipeline replaced (surrogates such as a pseudonym
phone number are not leaks), with validators that keep false alarms rare: Luhn for cards,
mod-97 for IBANs, issued-range rules for SSNs, numbering-plan validity for phones (the
matcher of recognizers/phone.py, which skips parsing only what cannot be valid), published
formats for secrets. Findings leave this module as counts and *shapes* ("xxxx@xxxxx.xxx"),
never as text.

Two checks look at the edges of the replaced regions and beyond the strict detectors:
partial masks (an email's local part left in front of a tag or surrogate, ``jonathan55@<URL>``;
a phone's digits left beside a phone tag or surrogate, ``(415) <PHONE_NUMBER>``), counted as
leaks; and an *estimate* of residual names: a capitalised first name followed by a capitalised
last name from the name lexicon (recognizers/name_lexicon.py, many locales), neither an
everyday word, outside masked spans. Names are counted by shape ("Xxxx Xxxxx"), never quoted.
The share of records written mostly in non-Latin scripts is counted too: detection is tuned
for English, so those records carry more unmeasured risk.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import phonenumbers

from redactors.recognizers import SecretRecognizer
from redactors.recognizers.luhn_card import luhn_valid
from redactors.recognizers.name_lexicon import WORD, fold, lexicon
from redactors.recognizers.phone import phone_matcher
from redactors.recognizers.text_gates import has_digit

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
SSN = re.compile(r"(?<!\d)(\d{3})-(\d{2})-(\d{4})(?!\d)")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_SECRETS = [
    rule for rule in SecretRecognizer.RULES if rule[0] not in SecretRecognizer.CONTEXT_RULES
]
SECRET_PATTERNS = [re.compile(rx) for _, rx, _ in _SECRETS]
SECRET_GATE = re.compile(SecretRecognizer.GATE or "")



def _iban_ok(candidate: str) -> bool:
    compact = candidate.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _ssn_ok(match: re.Match[str]) -> bool:
    area, group, serial = match.groups()
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _emails(text: str) -> Iterable[tuple[int, int]]:
    for match in EMAIL.finditer(text):
        domain = match.group().rsplit("@", 1)[1].lower()
        if domain.split(".")[-2:-1] != ["example"]:  # reserved example domains are safe
            yield match.span()


def _cards(text: str) -> Iterable[tuple[int, int]]:
    for match in CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits) and len(set(digits)) > 1:
            yield match.span()


def _ssns(text: str) -> Iterable[tuple[int, int]]:
    return (m.span() for m in SSN.finditer(text) if _ssn_ok(m))


def _ibans(text: str) -> Iterable[tuple[int, int]]:
    return (m.span() for m in IBAN.finditer(text) if _iban_ok(m.group()))


def _phones(text: str) -> Iterable[tuple[int, int]]:
    for match in phone_matcher(text, "US", phonenumbers.Leniency.VALID):
        yield match.start, match.end


def _secrets(text: str) -> Iterable[tuple[int, int]]:
    if SECRET_GATE.search(text) is None:  # what every rule's match starts with
        return
    for pattern in SECRET_PATTERNS:
        for match in pattern.finditer(text):
            yield match.span(1)


DETECTORS: dict[str, Callable[[str], Iterable[tuple[int, int]]]] = {
    "EMAIL_ADDRESS": _emails,
    "CREDIT_CARD": _cards,
    "US_SSN": _ssns,
    "IBAN_CODE": _ibans,
    "PHONE_NUMBER": _phones,
    "SECRET": _secrets,
}


# Partial masks. An email's local part right in front of a replaced region ("ann.lee42@"
# + "<URL>"), and a phone's digits beside a region that held a phone ("(415) " + tag).
LOCAL_PART = re.compile(r"(?<![\w.+-])[\w.+-]*\w@ ?\Z")
DIGITS_BEFORE = re.compile(r"(?<![\w])\+?\(?\d[\d().\- ]*\d\)?[ \-.]?\Z")
DIGITS_AFTER = re.compile(r"^[ \-.x]?\(?\d[\d().\- ]*\d(?![\w])")
PARTIAL_EMAIL = "EMAIL_ADDRESS (partly masked)"
PARTIAL_PHONE = "PHONE_NUMBER (partly masked)"
_PHONE_TAG = re.compile(r"PHONE", re.IGNORECASE)
_YEAR = re.compile(r"(?:19|20)\d\d")


def _phone_region(replacement: str) -> bool:
    """A region that held a phone: its tag, or a surrogate with a phone's digits."""
    if _PHONE_TAG.search(replacement):
        return True
    return sum(c.isdigit() for c in replacement) >= 7 and not re.search(
        r"[^\d\s()+.\-x]", replacement
    )


def _enough_digits(value: str) -> bool:
    digits = re.sub(r"\D", "", value)
    return len(digits) >= 3 and not _YEAR.fullmatch(value.strip(" -.x()"))


def partial_masks(text: str, replaced: Iterable[tuple[int, int]]) -> list[tuple[str, int, int]]:
    """Pieces of an email or phone left in the clear right beside a replaced region."""
    regions = sorted(replaced)
    findings: list[tuple[str, int, int]] = []
    for index, (start, end) in enumerate(regions):
        before_limit = regions[index - 1][1] if index else 0
        after_limit = regions[index + 1][0] if index + 1 < len(regions) else len(text)
        before = text[max(before_limit, start - 64) : start]
        after = text[end : min(after_limit, end + 32)]
        local = LOCAL_PART.search(before)
        if local and any(c.isalnum() for c in local.group()):
            findings.append((PARTIAL_EMAIL, start - len(before) + local.start(), start))
            continue
        if not _phone_region(text[start:end]):
            continue
        digits = DIGITS_BEFORE.search(before)
        if digits and _enough_digits(digits.group()):
            findings.append((PARTIAL_PHONE, start - len(before) + digits.start(), start))
        digits = DIGITS_AFTER.search(after)
        if digits and _enough_digits(digits.group()):
            findings.append((PARTIAL_PHONE, end, end + digits.end()))
    return findings


def _outside(regions: list[tuple[int, int]], start: int, end: int) -> bool:
    return not any(start < r_end and r_start < end for r_start, r_end in regions)


def residual_names(text: str, replaced: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Estimated names left in the clear: "First Last" pairs of capitalised words, the first
    a first name and the second a last name of the lexicon, neither an everyday word, both
    outside replaced regions and separated by one space. An estimate, not a detector: it
    misses lower-case and single names, and takes a few capitalised phrases for names."""
    regions = list(replaced)
    names = lexicon()
    words = [
        match
        for match in WORD.finditer(text)
        if match.group()[0].isupper() and _outside(regions, *match.span())
    ]
    found: list[tuple[int, int]] = []
    for first, last in itertools.pairwise(words):
        if text[first.end() : last.start()] != " ":
            continue
        a, b = fold(first.group()), fold(last.group())
        if len(a) < 2 or len(b) < 2 or names.is_word(a) or names.is_word(b):
            continue
        if names.is_place(a) or names.is_place(b) or a in names.sentence_starts:
            continue
        if names.is_first(a) and names.is_last(b):
            found.append((first.start(), last.end()))
    return found


def non_latin(text: str) -> bool:
    """Most letters outside the Latin script (Cyrillic, Greek, CJK, Arabic, Devanagari...)."""
    if text.isascii():  # ASCII letters are Latin; most texts end here
        return False
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return False
    others = sum(1 for c in letters if ord(c) > 0x24F and not 0x1E00 <= ord(c) <= 0x1EFF)
    return others * 2 > len(letters)


def shape(value: str) -> str:
    """Letters -> x, digits -> 9: enough to see what kind of thing leaked, not what."""
    return re.sub(r"\d", "9", re.sub(r"[^\W\d_]", "x", value))


def name_shape(value: str) -> str:
    """ "Maria Garcia" -> "Xxxxx Xxxxxx": how a residual name looks, not which it is."""
    return re.sub(r"[^\W\d_]", lambda m: "X" if m.group().isupper() else "x", value)


@dataclass
class LeakStats:
    records_scanned: int = 0
    records_with_hits: int = 0
    hits: Counter[str] = field(default_factory=Counter)
    examples: list[dict[str, str]] = field(default_factory=list)
    # Residual-name estimate: records with a "First Last" pair left, pairs, their shapes.
    records_with_names: int = 0
    name_pairs: int = 0
    name_shapes: list[str] = field(default_factory=list)
    # Records written mostly in non-Latin scripts (detection is tuned for English).
    records_non_latin: int = 0

    def merge(self, other: LeakStats, max_examples: int) -> None:
        self.records_scanned += other.records_scanned
        self.records_with_hits += other.records_with_hits
        self.hits.update(other.hits)
        room = max_examples - len(self.examples)
        self.examples += other.examples[: max(room, 0)]
        self.records_with_names += other.records_with_names
        self.name_pairs += other.name_pairs
        room = max_examples - len(self.name_shapes)
        self.name_shapes += other.name_shapes[: max(room, 0)]
        self.records_non_latin += other.records_non_latin


# Detectors whose every match holds a digit (\d, what ``has_digit`` looks for; the phone
# matcher's pattern needs one too, recognizers/text_gates.py), and the one whose every match
# holds an "@". A match that touches a replaced region does not count, so a detector is not
# run where no such character lies outside the replaced regions: most chat texts have
# neither, and on PII-dense chat nine in ten masked texts with a digit have it only in a
# surrogate (a pseudonymous phone number, a card's tag).
_NEED_DIGIT = {"CREDIT_CARD", "US_SSN", "IBAN_CODE", "PHONE_NUMBER"}
_NEED_AT = {"EMAIL_ADDRESS"}


def _text_outside(text: str, regions: list[tuple[int, int]]) -> str:
    """The text's characters outside the regions (which may overlap), run together."""
    parts, done = [], 0
    for start, end in sorted(regions):
        parts.append(text[done:start])
        done = max(done, end)
    parts.append(text[done:])
    return "".join(parts)


def scan(text: str, replaced: Iterable[tuple[int, int]] = ()) -> list[tuple[str, int, int]]:
    """Strict findings in ``text`` that do not touch a replaced region."""
    regions = list(replaced)
    outside = _text_outside(text, regions) if regions else text
    skip = (set() if has_digit(outside) else _NEED_DIGIT) | (
        set() if "@" in outside else _NEED_AT
    )
    findings = []
    for entity, detector in DETECTORS.items():
        if entity in skip:
            continue
        for start, end in detector(text):
            if _outside(regions, start, end):
                findings.append((entity, start, end))
    return findings


def scan_record(
    stats: LeakStats,
    text: str,
    replaced: Iterable[tuple[int, int]],
    source: str,
    max_examples: int,
) -> None:
    stats.records_scanned += 1
    regions = list(replaced)
    findings = scan(text, regions) + partial_masks(text, regions)
    names = residual_names(text, regions)
    if names:
        stats.records_with_names += 1
        stats.name_pairs += len(names)
        for start, end in names[: max(max_examples - len(stats.name_shapes), 0)]:
            stats.name_shapes.append(name_shape(text[start:end]))
    if non_latin(text):
        stats.records_non_latin += 1
    if not findings:
        return
    stats.records_with_hits += 1
    for entity, start, end in findings:
        stats.hits[entity] += 1
        if len(stats.examples) < max_examples:
            stats.examples.append(
                {"entity": entity, "source": source, "shape": shape(text[start:end])}
            )
