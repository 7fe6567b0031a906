"""Leak re-scan: strict, high-precision detectors run over the text that goes to shards.

It looks only *outside* the regions the pipeline replaced (surrogates such as a pseudonym
phone number are not leaks), with validators that keep false alarms rare: Luhn for cards,
mod-97 for IBANs, issued-range rules for SSNs, numbering-plan validity for phones (the
matcher of recognizers/phone.py, which skips parsing only what cannot be valid), published
formats for secrets. Findings leave this module as counts and *shapes* ("xxxx@xxxxx.xxx"),
never as text.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import phonenumbers

from redactors.recognizers import SecretRecognizer
from redactors.recognizers.phone import phone_matcher

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
SSN = re.compile(r"(?<!\d)(\d{3})-(\d{2})-(\d{4})(?!\d)")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_SECRETS = [rule for rule in SecretRecognizer.RULES if rule[0] != "assignment"]
SECRET_PATTERNS = [re.compile(rx) for _, rx, _ in _SECRETS]


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


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
        if 13 <= len(digits) <= 19 and _luhn(digits) and len(set(digits)) > 1:
            yield match.span()


def _ssns(text: str) -> Iterable[tuple[int, int]]:
    return (m.span() for m in SSN.finditer(text) if _ssn_ok(m))


def _ibans(text: str) -> Iterable[tuple[int, int]]:
    return (m.span() for m in IBAN.finditer(text) if _iban_ok(m.group()))


def _phones(text: str) -> Iterable[tuple[int, int]]:
    for match in phone_matcher(text, "US", phonenumbers.Leniency.VALID):
        yield match.start, match.end


def _secrets(text: str) -> Iterable[tuple[int, int]]:
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


def shape(value: str) -> str:
    """Letters -> x, digits -> 9: enough to see what kind of thing leaked, not what."""
    return re.sub(r"\d", "9", re.sub(r"[^\W\d_]", "x", value))


@dataclass
class LeakStats:
    records_scanned: int = 0
    records_with_hits: int = 0
    hits: Counter[str] = field(default_factory=Counter)
    examples: list[dict[str, str]] = field(default_factory=list)

    def merge(self, other: LeakStats, max_examples: int) -> None:
        self.records_scanned += other.records_scanned
        self.records_with_hits += other.records_with_hits
        self.hits.update(other.hits)
        room = max_examples - len(self.examples)
        self.examples += other.examples[: max(room, 0)]


def scan(text: str, replaced: Iterable[tuple[int, int]] = ()) -> list[tuple[str, int, int]]:
    """Strict findings in ``text`` that do not touch a replaced region."""
    regions = list(replaced)
    findings = []
    for entity, detector in DETECTORS.items():
        for start, end in detector(text):
            if not any(start < r_end and r_start < end for r_start, r_end in regions):
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
    findings = scan(text, replaced)
    if not findings:
        return
    stats.records_with_hits += 1
    for entity, start, end in findings:
        stats.hits[entity] += 1
        if len(stats.examples) < max_examples:
            stats.examples.append(
                {"entity": entity, "source": source, "shape": shape(text[start:end])}
            )
