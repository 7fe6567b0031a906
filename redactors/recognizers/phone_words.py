"""Regions and phone words of possible_phone.py."""

from __future__ import annotations

import re

from presidio_analyzer.predefined_recognizers import PhoneRecognizer

# Presidio's default regions (US GB DE FR IL IN CA BR) and the common European ones: a
# number written the way one of them writes it is a possible number. DetectionConfig's
# ``phone_regions`` defaults to this.
DEFAULT_PHONE_REGIONS: tuple[str, ...] = (
    *PhoneRecognizer.DEFAULT_SUPPORTED_REGIONS,
    *("ES", "IT", "NL", "BE", "AT", "CH", "IE", "PT", "SE", "NO", "DK", "FI", "PL"),
)

# Phone words that end right before a number, with a few filler words between: "call me
# at", "you can call", "tel.", "phone: ", "text me on", "ph #", "reach us at", "whatsapp",
# "not answering at", "my number is". Matched on the 40 characters before a candidate and
# anchored at its start, so "call me about order 12345678" is no phone.
_PHONE_WORDS = (
    r"call(?:ed|ing|s)?|ring|dial(?:led|ing)?|answer(?:ing|s)?|reach(?:ed|able)?|contact"
    r"|tel(?:ephone)?|phone(?:\s*(?:no|number|nr))?|ph|mob(?:ile)?|cell(?:phone)?"
    r"|te?xt|sms|whats\s?app|signal|fax|hotline|number|landline|home|work|office"
)
_FILLER = (
    r"(?:(?:me|us|him|her|them|back|at|on|via|is|was|no|nr|number|the|my|our|your)\b\.?"
    r"|[:#+-])"
)
PHONE_PHRASE_BEFORE = re.compile(
    rf"\b(?:{_PHONE_WORDS})\b\.?(?:\s*{_FILLER})*\s*\Z", re.IGNORECASE
)
# Labels right after a number: "0431 35 06 90-Office", "166-684-7899 fax", "(mobile)".
PHONE_LABEL_AFTER = re.compile(
    r"[ \t]*[-–(/]?[ \t]*(?:office|fax|mobile|mob|cell|home|work|tel|phone|direct)\b",
    re.IGNORECASE,
)
