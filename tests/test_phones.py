"""The gated phone recognizer: the proof its gate rests on, and its results against Presidio's."""

from __future__ import annotations

import hashlib
import inspect
import itertools

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import NumberParseException, PhoneNumberMatcher
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from redactors import leakscan
from redactors.recognizers import phone as phones
from redactors.recognizers.phone import GatedPhoneRecognizer, cannot_be_valid, phone_matcher


def _valid_digit_strings(length: int) -> set[str]:
    """Every string of ``length`` ASCII digits that parses, alone or after "+", to a valid
    number in a proved region."""
    valid = set()
    regions = sorted(phones.PROVED_REGIONS)
    for digits in map("".join, itertools.product("0123456789", repeat=length)):
        for text, region in itertools.product((digits, "+" + digits), regions):
            try:
                number = phonenumbers.parse(text, region, keep_raw_input=True)
            except NumberParseException:
                continue
            if phonenumbers.is_valid_number(number):
                valid.add(digits)
    return valid


def test_the_gates_table_is_proved_for_the_installed_phonenumbers():
    """The enumeration the gate rests on (module doc of redactors.recognizers.phone). A new
    phonenumbers release in the lock fails here: re-run, update the table and PROVED_RELEASE."""
    assert phonenumbers.__version__ == phones.PROVED_RELEASE
    # A Presidio release with other default regions fails here: prove them first.
    assert set(PhoneRecognizer.DEFAULT_SUPPORTED_REGIONS) == phones.PROVED_REGIONS
    for length in (1, 2, 3):
        assert _valid_digit_strings(length) == set()
    assert _valid_digit_strings(4) == phones._VALID_FOUR_DIGITS


def test_cannot_be_valid_leaves_letters_and_proved_numbers_to_parse():
    assert cannot_be_valid("5") and cannot_be_valid("10:30") and cannot_be_valid("2024")
    assert cannot_be_valid("\u0662\u0660\u0662\u0664")  # 2024 in Arabic-Indic digits
    assert not cannot_be_valid("1645") and not cannot_be_valid("\uff11\uff16\uff14\uff15")
    assert not cannot_be_valid("12345")
    # Three letters make a phone word: parse reads 1-800-FLOWERS as a valid US number.
    assert phonenumbers.is_valid_number(phonenumbers.parse("1-800-FLOWERS", "US"))
    assert not cannot_be_valid("1-800-FLOWERS")


def _phone_findings(recognizer: PhoneRecognizer, text: str) -> list[tuple]:
    return sorted(
        (r.start, r.end, r.score, r.analysis_explanation.textual_explanation)
        for r in recognizer.analyze(text, ["PHONE_NUMBER"])
    )


# Pieces of number-like text: digits of three scripts, the valid German 4-digit numbers'
# parts, plus signs, phone punctuation, extensions, letters around numbers, dates, times.
PHONE_PIECES = [
    *("0", "1", "2", "4", "5", "7", "9", "16", "164", "169", "40", "555", "0123", "800"),
    *("\u0661", "\u0664", "\uff11", "\uff16", "+", "\uff0b", "00", "011", "+1 ", "+49 "),
    *(" ", "-", ".", "/", "(", ")", "x", "X", " ext ", " ext. ", "#", "~", "\u2013"),
    *("a", "call ", "FLOWERS", "%", "$", ":", "30", "pm", "\n", "2024-", "12/", "tel "),
]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(PHONE_PIECES), max_size=16).map("".join))
def test_gated_phone_recognizer_finds_what_presidios_finds(text):
    presidio = PhoneRecognizer()
    gated = GatedPhoneRecognizer(presidio)
    assert gated.gated
    assert _phone_findings(gated, text) == _phone_findings(presidio, text)
    # The leak scan's US matcher, gated the same way
    plain = phonenumbers.PhoneNumberMatcher(text, "US", leniency=phonenumbers.Leniency.VALID)
    assert list(leakscan._phones(text)) == [(m.start, m.end) for m in plain]


def test_gated_phone_recognizer_on_the_corpora_and_in_the_detector(redactor, dev_texts, chat_texts):
    texts = [
        *(dev_texts + chat_texts),
        *("ruf 1645 an", "tel 0164 0", "call 212-555-0199 x12"),
        # Presidio labels the second match of a region's pass with the first one's region
        "call +44 20 7946 0958 or 212-555-0199",
    ]
    presidio = PhoneRecognizer()
    gated = GatedPhoneRecognizer(presidio)
    found = [_phone_findings(presidio, text) for text in texts]
    assert [_phone_findings(gated, text) for text in texts] == found
    assert sum(map(len, found)) >= 20
    phone_recognizers = [
        r
        for r in redactor.detector.analyzer.registry.recognizers
        if "PHONE_NUMBER" in r.supported_entities
    ]
    # Presidio's (valid numbers, gated) and this project's possible numbers (issue 25: not
    # gated, the proof covers Leniency.VALID only; it searches only texts with candidates).
    assert sorted(type(r).__name__ for r in phone_recognizers) == [
        "GatedPhoneRecognizer",
        "PossiblePhoneRecognizer",
    ]
    [gated_in_run] = [r for r in phone_recognizers if type(r) is GatedPhoneRecognizer]
    assert gated_in_run.gated


def _parses(recognizer: PhoneRecognizer, texts: list[str]) -> int:
    """How many times the recognizer's matchers call phonenumbers' parse."""
    import phonenumbers.phonenumbermatcher as matcher_module

    calls = 0
    original = matcher_module.parse

    def counting(*args, **kwargs):
        nonlocal calls
        calls += 1
        return original(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(matcher_module, "parse", counting)
        for text in texts:
            recognizer.analyze(text, ["PHONE_NUMBER"])
    return calls


def test_the_gate_skips_most_parses_on_chat(chat_texts):
    """What the gate is for: the gated matcher parses far less, and nothing where no string
    can be valid."""
    presidio = PhoneRecognizer()
    gated = GatedPhoneRecognizer(presidio)
    assert _parses(gated, ["5 at 10:30 in 2024, room 12"]) == 0
    assert _parses(presidio, ["5 at 10:30 in 2024, room 12"]) > 0
    assert _parses(gated, ["ruf 1645 an"]) > 0  # a valid 4-digit German number is parsed
    assert _parses(gated, chat_texts) < _parses(presidio, chat_texts) / 2


def test_the_copied_loop_is_presidios():
    """GatedPhoneRecognizer.analyze copies PhoneRecognizer.analyze: a Presidio release that
    changes it fails here (compare the two, update the copy and this hash)."""
    source = inspect.getsource(PhoneRecognizer.analyze)
    assert hashlib.sha256(source.encode()).hexdigest() == (
        "dc228ae284c3d101ef6ba5472ce912c66de2fdecc87080e927b4be24d9b22ac0"
    )


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        # Niue has 4-digit numbers: not a proved region
        ({"supported_regions": ("US", "NU")}, "call 4001"),
        # POSSIBLE checks length only: 3 digits can be a possible number
        ({"leniency": phonenumbers.Leniency.POSSIBLE}, "call 123 now"),
    ],
    ids=["unproved-region", "possible-leniency"],
)
def test_no_gate_outside_the_proof(kwargs, text):
    plain = PhoneRecognizer(**kwargs)
    gated = GatedPhoneRecognizer(plain)
    assert not gated.gated
    assert _phone_findings(plain, text)  # a number the gate would have skipped
    assert _phone_findings(gated, text) == _phone_findings(plain, text)


def test_the_gate_follows_the_recognizers_settings():
    gated = GatedPhoneRecognizer(PhoneRecognizer())
    assert gated.gated
    gated.supported_regions = ("US", "NU")
    assert not gated.gated
    assert _phone_findings(gated, "call 4001") == _phone_findings(
        PhoneRecognizer(supported_regions=("US", "NU")), "call 4001"
    )


def test_no_gate_with_another_phonenumbers_release(monkeypatch):
    assert type(phone_matcher("1", "US", phonenumbers.Leniency.VALID)) is not PhoneNumberMatcher
    monkeypatch.setattr(phonenumbers, "__version__", "9.9.9")
    assert not GatedPhoneRecognizer(PhoneRecognizer()).gated
    assert type(phone_matcher("1", "US", phonenumbers.Leniency.VALID)) is PhoneNumberMatcher
