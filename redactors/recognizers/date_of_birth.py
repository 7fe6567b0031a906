"""Dates of birth: a date right after birth context."""

from __future__ import annotations

import re
from typing import ClassVar

from redactors.recognizers.group_regex import GroupRegexRecognizer

_MONTHS = (
    "Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    "Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?"
)
_DATE = (
    rf"\d{{1,2}}[/.-]\d{{1,2}}[/.-](?:\d{{4}}|\d{{2}})|\d{{4}}-\d{{2}}-\d{{2}}|"
    rf"(?:{_MONTHS})\.? \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}}|"
    rf"\d{{1,2}}(?:st|nd|rd|th)? (?:{_MONTHS}) \d{{4}}"
)


class DateOfBirthRecognizer(GroupRegexRecognizer):
    """A date right after birth context ("born on", "DOB:", "date of birth", "birthday is").
    Other dates (deadlines, releases) are not personal data and stay."""

    ENTITY = "DATE_OF_BIRTH"
    FLAGS = re.IGNORECASE
    GATE = r"born|d\.?o\.?b|birth"  # what each of the rule's cues holds
    RULES: ClassVar[list[tuple[str, str, float]]] = [
        (
            "dob_in_context",
            rf"\b(?:born(?: on| in)?|d\.?o\.?b\.?|date of birth|birth ?date|birthday(?: is)?)"
            rf"\s*[:=-]?\s*({_DATE})",
            0.85,
        )
    ]


