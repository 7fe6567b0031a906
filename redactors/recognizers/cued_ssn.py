"""US social security numbers right after their own cue, valid or not.

Presidio's ``UsSsnRecognizer`` drops numbers that were never issued or are published
samples (area 000 or 666, a zero group, all one digit, 123-45-6789, 078-05-1120): a detection
view, they are not anyone's number. A redaction pipeline fails closed instead: "my ssn is
123-45-6789" holds a value in the place of an SSN, and whoever planted or typed it there
means it as one (test data, a typo of a real one, the Woolworth number that people used as
their own). So a number of SSN shape (3-2-4 digits, one separator kind or none) right after
"ssn", "ss#" or "social security (number)" is masked as US_SSN whatever its digits; the
same shape elsewhere is left to Presidio's rules. Only with US_SSN among the entities (a US
recognizer: ``detection.countries``).
"""

from __future__ import annotations

import re
from typing import ClassVar

from redactors.recognizers.group_regex import GroupRegexRecognizer

# The cue, then what chat puts between it and the value: "SSN: ", "ssn is ", "SSN # ",
# "social security number was ", "ssn for the form is " (up to four short words).
_CUE = r"\b(?:ssn#?|ss#|social[ -]security(?:[ -](?:number|num|no\.?|#))?)"
_BETWEEN = (
    r"(?:\s*[:#=-]\s*|\s+(?:(?:is|was|number|no\.?|nr|of|for|the|my|his|her|form)\s+){0,4})"
)
_SSN = r"(?<![\d-])([0-9]{3}([- .]?)[0-9]{2}\2[0-9]{4})(?![\d-])"


class CuedSsnRecognizer(GroupRegexRecognizer):
    """An SSN-shaped number right after an SSN cue (module doc)."""

    ENTITY = "US_SSN"
    FLAGS = re.IGNORECASE
    GATE = r"ssn|ss#|social[ -]security"  # what every cue holds
    # Not 0.85, the score of Presidio's SSN finding with its context word: Presidio's
    # duplicate removal keeps one of two equal findings through a set, so a tie would credit
    # either recognizer from run to run (the report's per-recognizer counts would differ).
    RULES: ClassVar[list[tuple[str, str, float]]] = [
        ("ssn_after_cue", _CUE + _BETWEEN + _SSN, 0.84)
    ]
