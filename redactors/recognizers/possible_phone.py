"""Phone numbers that are possible (right length for a region) but not valid.

Presidio's recognizer (phone.py) keeps only numbers ``phonenumbers`` calls *valid*: a real,
assigned area code. People write numbers it does not know ("(488) 618-1460" has an unassigned
area code), short local numbers ("785 8949") and foreign ones of regions it was not asked
about; those stayed visible. Here ``PhoneNumberMatcher`` with ``Leniency.POSSIBLE`` finds
candidates in each configured region, and a candidate is kept when it is written like a phone
number or when phone words come right before or after it: length alone is not enough, since
almost any run of 7 to 15 digits is a possible number somewhere.

- Phone-like layout (0.5, over the run's threshold): a leading "+" or international "00",
  an area code in parentheses, an extension ("x818", "ext. 12"), three or more digit groups,
  or two groups joined by "-" or "." ("555-1234", "0910-5877671").
- Other layouts (not reported): one run of digits, two groups split by a space
  ("785 8949"), groups of three as in thousands ("1 200 000"), 4+4 digits with "-"
  ("0900-1700"). Phone words right before ("call", "tel", "phone: ", "text me at", "ph #")
  or a label right after ("-Office", " fax") make any candidate a phone (0.6).
- Six digits in groups ("61 51 81") only next to phone words.
- Never a phone: dates, times, IP addresses, versions ("v1.2.3.4567", dotted groups of one
  digit), SSN-shaped 3-2-4, ZIP+4 5-4, year lists, numbers inside words, prices, paths or
  ids ("JIRA-1234567", "#48213", "$1 200 000"), card-length runs.

Cheap on chat: texts without six digits close together (most of them) are not searched;
the matcher runs only where a candidate passes the checks above, and regions are tried in
order until every candidate is a possible number in one of them (usually the first).
Not gated like phone.py: that proof covers Leniency.VALID only. No Presidio context words
(the phrases are checked here), so a text whose only finding is a phone needs no lemmas.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import phonenumbers
from phonenumbers import Leniency, PhoneNumberMatcher
from presidio_analyzer import AnalysisExplanation, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from redactors.recognizers.phone import keep_compiled_patterns
from redactors.recognizers.phone_words import (
    DEFAULT_PHONE_REGIONS,
    PHONE_LABEL_AFTER,
    PHONE_PHRASE_BEFORE,
)

# Six digits with at most three separator characters between neighbours: a text without
# this holds no candidate of 6+ digits, so the matcher does not run.
_SIX_DIGITS = re.compile(r"\d(?:[\s().+\-/x]{0,3}\d){5}")
_EXTENSION = re.compile(r"\s*(?:x|ext\.?|extension|#)\s*\d{1,6}\s*$", re.IGNORECASE)
_DATE = re.compile(
    r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}(?!\d)|\d{1,2}[-./]\d{1,2}[-./]\d{4}(?!\d)"
    r"|\d{1,2}[-./]\d{1,2}[-./]\d{2}$)"
)
_SSN_SHAPE = re.compile(r"^\d{3}-\d{2}-\d{4}$")
_ZIP_PLUS_FOUR = re.compile(r"^\d{5}-\d{4}$")
_THOUSANDS = re.compile(r"^\d{1,3}(?:([ ,.'])\d{3})(?:\1\d{3})*$")
_YEAR = re.compile(r"^(?:19|20)\d\d$")
# Just before a number: part of a word, id, price, path, decimal or time ("JIRA-1234567",
# "#48213", "$1 200", "v1.2", "10:30").
_BAD_BEFORE = re.compile(r"(?:[^\W\d_]-?|[$€£¥#@/\\:_]|\d[.,]|\d[ -])\Z")
# An IBAN's country, check digits and letter groups before the digits ("GB54 LWTB 8136").
_IBAN_BEFORE = re.compile(r"\b[A-Z]{2}\d{2}(?: [A-Z0-9]{4})* \Z")
# Just after: more of a word, a decimal or a time ("1234567.89", "12:30", "1234567abc").
_BAD_AFTER = re.compile(r"^(?:[^\W_]|[.,:]\d|-\d)")
LAYOUT_SCORE = 0.5
BARE_SCORE = 0.3
SHORT_SCORE = 0.1  # not a phone on its own, whatever the layout; phone words make it one
CONTEXT_SCORE = 0.6


# Digits and phone punctuation, and an extension, as the matcher's candidates.
_CANDIDATE = re.compile(r"[+(]?\d[\d().\-/ ]{4,40}\d\)?(?: ?(?:x|ext\.?) ?\d{1,6}\b)?")


def _candidates(text: str) -> list[tuple[int, int]]:
    """Spans that may hold a phone number this recognizer keeps: not a date, time, IP
    address, version, id or price (the checks of ``layout_score``); a run of more than 15
    digits with separators may be two numbers, which the matcher splits."""
    found = []
    for match in _CANDIDATE.finditer(text):
        if _BAD_BEFORE.search(text, max(0, match.start() - 2), match.start()):
            continue
        raw = match.group()
        groups = _groups(raw)
        composite = len("".join(groups)) > 15 and len(groups) > 1
        if composite and not all(len(g) == 4 for g in groups):
            found.append(match.span())  # may be two numbers: the matcher splits them
        elif _score(text, match.start(), match.end(), raw) is not None:
            found.append(match.span())
    return found


def _groups(core: str) -> list[str]:
    return re.findall(r"\d+", core)


def layout_score(raw: str) -> float | None:
    """The score a candidate gets from how it is written; None when it is no phone number."""
    core = _EXTENSION.sub("", raw)
    extension = core != raw
    groups = _groups(core)
    digits = "".join(groups)
    if not 6 <= len(digits) <= 15:
        return None
    if len(digits) == 6:
        # Short local numbers ("61 51 81 office") only in groups and next to phone words.
        return SHORT_SCORE if len(groups) > 1 else None
    stripped = core.strip()
    # A leading "+" is the international dialling prefix: a date, IP address or version
    # is not written after one, so "+61-8-0011-3911" (read as 61-8-0011) and
    # "+61.495.717.732" (four dotted groups) are numbers.
    if not stripped.startswith("+") and _not_a_phone(stripped, groups):
        return None
    if len(groups) >= 3 and all(len(g) == 4 for g in groups):
        return None  # card-like groups: the card recognizers' (Luhn) call
    international = stripped.startswith("+") or (stripped.startswith("00") and len(groups) > 1)
    if international or "(" in stripped or extension:
        return LAYOUT_SCORE
    if len(groups) >= 3:
        if _THOUSANDS.match(stripped) or (all(len(g) <= 2 for g in groups) and " " in stripped):
            return BARE_SCORE  # "1 200 000", "10 20 30 40": counts as much as numbers
        return LAYOUT_SCORE
    if len(groups) == 2 and re.search(r"\d[-.]\d", stripped):
        first, second = map(len, groups)
        if (first, second) == (3, 4) or (2 <= first <= 4 and second >= 5):
            return LAYOUT_SCORE
    return BARE_SCORE


def _not_a_phone(stripped: str, groups: list[str]) -> bool:
    """Written as a date, SSN, ZIP+4, list of years, IP address or version."""
    if _SSN_SHAPE.match(stripped):
        return True
    # Dates, also with spaces around the separators ("4 / 22 / 2014") or a time after.
    if _DATE.match(re.sub(r"\s*([-./])\s*", r"\1", stripped.lstrip("("))):
        return True
    if "/" in stripped and len(groups) >= 3:
        return True  # "/" separates date parts and alternatives, not phone groups
    if _ZIP_PLUS_FOUR.match(stripped) or all(_YEAR.match(g) for g in groups):
        return True
    if "." in stripped and (len(groups) == 4 and all(len(g) <= 3 for g in groups)):
        return True  # an IP address
    return "." in stripped and any(len(g) == 1 for g in groups)  # a version


def _score(text: str, start: int, end: int, raw: str) -> float | None:
    """The score of the candidate ``raw`` at ``start:end``; None when it is no phone."""
    if _BAD_BEFORE.search(text, max(0, start - 2), start) or _BAD_AFTER.match(text[end:]):
        return None
    if _IBAN_BEFORE.search(text, max(0, start - 40), start):
        return None
    score = layout_score(raw)
    if score is None:
        return None
    if PHONE_PHRASE_BEFORE.search(text, max(0, start - 40), start) or PHONE_LABEL_AFTER.match(
        text, end
    ):
        return CONTEXT_SCORE
    # A bare run of digits or a short number without phone words is not reported at all.
    return None if score in (SHORT_SCORE, BARE_SCORE) else score


class PossiblePhoneRecognizer(PhoneRecognizer):
    """Possible phone numbers in phone-like layout or next to phone words (module doc)."""

    def __init__(
        self,
        supported_language: str = "en",
        regions: Sequence[str] = DEFAULT_PHONE_REGIONS,
    ) -> None:
        super().__init__(
            supported_language=supported_language,
            supported_regions=list(regions),
            leniency=Leniency.POSSIBLE,
            name="PossiblePhoneRecognizer",
        )
        keep_compiled_patterns()  # 21 regions' patterns (phone.py)
        # PhoneRecognizer puts its default context words back when given none: without
        # Presidio context words a phone-only text needs no lemmas (see the module doc).
        self.context = []

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if not _SIX_DIGITS.search(text):
            return []
        candidates = _candidates(text)
        if not candidates:
            return []
        spans: dict[tuple[int, int], str] = {}
        for region in self.supported_regions:
            for match in PhoneNumberMatcher(text, region, leniency=self.leniency):
                spans.setdefault((match.start, match.end), match.raw_string)
            if all(any(s <= a + 1 and e >= b - 1 for s, e in spans) for a, b in candidates):
                break  # every candidate is a possible number already: no more regions
        results = []
        for (start, end), raw in spans.items():
            score = _score(text, start, end, raw)
            if score is not None:
                results.append(
                    RecognizerResult(
                        self.supported_entities[0],
                        start,
                        end,
                        score,
                        AnalysisExplanation(
                            recognizer=self.name,
                            original_score=score,
                            textual_explanation="possible phone number",
                        ),
                    )
                )
        return self.remove_duplicates(results)



def is_possible_somewhere(raw: str, regions: Sequence[str]) -> bool:
    """Whether ``raw`` is a possible number in one of ``regions`` (for tests and the docs)."""
    for region in regions:
        try:
            if phonenumbers.is_possible_number(phonenumbers.parse(raw, region)):
                return True
        except phonenumbers.NumberParseException:
            continue
    return False


def use_regions(recognizers: Sequence[object], regions: Sequence[str]) -> None:
    """Give each PossiblePhoneRecognizer among ``recognizers`` the configured regions
    (``DetectionConfig.phone_regions``); the registry builds them with the defaults."""
    for recognizer in recognizers:
        if isinstance(recognizer, PossiblePhoneRecognizer):
            recognizer.supported_regions = list(regions)
