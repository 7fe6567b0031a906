"""Possible (not only valid) phone numbers and 12-19 digit Luhn cards (recognizer level; the
run's thresholds: 0.35)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redactors.config import DetectionConfig
from redactors.engine import TextRedactor
from redactors.recognizers import LuhnCardRecognizer, PossiblePhoneRecognizer
from redactors.recognizers.luhn_card import luhn_valid
from redactors.recognizers.phone_words import DEFAULT_PHONE_REGIONS
from redactors.recognizers.possible_phone import is_possible_somewhere, use_regions

THRESHOLD = 0.35


def _found(recognizer, text: str) -> list[str]:
    return [
        text[r.start : r.end]
        for r in recognizer.analyze(text, [recognizer.supported_entities[0]])
        if r.score >= THRESHOLD
    ]


@pytest.fixture(scope="module")
def phones() -> PossiblePhoneRecognizer:
    return PossiblePhoneRecognizer()


PHONES = [
    ("call me at (488) 618-1460", "(488) 618-1460"),  # unassigned US area code
    ("They're not answering at (88) 684-334", "(88) 684-334"),
    ("call 785 8949", "785 8949"),  # local, no area code
    ("You can call 73 448 266", "73 448 266"),
    ("Phone: 88 165 40 96", "88 165 40 96"),
    ("reach me on 25-62-29-72", "25-62-29-72"),
    ("fax +1-962-819-8200 pls", "+1-962-819-8200"),
    ("001-748-088-2851x818", "001-748-088-2851x818"),
    ("(311)905-4466x8827", "(311)905-4466x8827"),
    ("0431 35 06 90-Office", "0431 35 06 90"),
    ("96 228011 office", "96 228011"),
    ("my number is 4886181460", "4886181460"),
    ("text me 0612345678", "0612345678"),
    ("whatsapp: +44 20 7946 0958", "+44 20 7946 0958"),
    ("61 51 81 office", "61 51 81"),  # six digits only with a phone label
    # After a leading "+" no date, IP address or version: 61-8-0011 is no date, four
    # dotted groups no IP address, a one-digit group no version.
    ("call me at +61-8-0011-3911", "+61-8-0011-3911"),
    ("my cell is +61.495.717.732", "+61.495.717.732"),
    ("+61.8.0658.5310 is the office", "+61.8.0658.5310"),
]


@pytest.mark.parametrize(("text", "value"), PHONES)
def test_possible_numbers_in_phone_layout_or_context_are_found(phones, text, value):
    assert _found(phones, text) == [value]


NOT_PHONES = [
    "order 12345678 shipped",  # a bare run: needs phone words
    "call me about order 12345678",  # phone word, but not right before the number
    "price 1 200 000",
    "$1,234,567.89",
    "scores 10 20 30 40",
    "on 2024-01-15 10:30:00",
    "Date: 1972-10-01 21:58:22",
    "at 10:30 on 12/05/2024",
    "My fitbit #Fitstats for 4 / 22 / 2014 : 5 , 649 steps",
    "on Willey Street : 4 / 23 / 2014 10 : 09 : 21 AM",
    "release 2024.01.15",
    "v1.2.3.4567",
    "build 20240115.3",
    "ip 93.184.216.34",
    "ssn 433-65-3111",
    "zip 62704-1234",
    "2019 2020 2021",
    "ticket JIRA-1234567",
    "order #48213 and #48214",
    "meeting 0900-1700",
    "card 4111 1111 1111 1111",
    "IBAN GB54 LWTB 8136 6695 2159 33",
    "61 51 81 apples",
]


@pytest.mark.parametrize("text", NOT_PHONES)
def test_numbers_that_are_not_phones_stay(phones, text):
    assert _found(phones, text) == []


def test_texts_without_six_digits_are_not_searched(phones, monkeypatch):
    from redactors.recognizers import possible_phone

    def refuse(*args, **kwargs):
        raise AssertionError("matcher ran")

    monkeypatch.setattr(possible_phone, "PhoneNumberMatcher", refuse)
    for text in ("ok", "see you at 10:30", "PR 4521", "v2.3.1", "2024-01-15"):
        assert phones.analyze(text, ["PHONE_NUMBER"]) == []


def test_no_presidio_context_words(phones):
    """Phone words are checked by the recognizer itself: a text whose only finding is a
    phone needs no lemma stage."""
    assert phones.context == []


def test_regions_default_and_config_agree():
    assert DetectionConfig(entities=["PHONE_NUMBER"]).phone_regions == list(DEFAULT_PHONE_REGIONS)
    recognizer = PossiblePhoneRecognizer()
    use_regions([recognizer, object()], ["US"])
    assert recognizer.supported_regions == ["US"]
    with pytest.raises(ValueError):
        DetectionConfig(entities=["PHONE_NUMBER"], phone_regions=["usa"])


def test_possible_is_judged_per_region():
    assert is_possible_somewhere("+44 20 7946 0958", ["US"])  # "+" carries its own region
    assert is_possible_somewhere("030 1234567", ["DE"])


# Cards


@pytest.fixture(scope="module")
def cards() -> LuhnCardRecognizer:
    return LuhnCardRecognizer()


def _luhn_complete(body: str) -> str:
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


GROUPINGS = {
    12: [(4, 4, 4)],
    14: [(4, 6, 4)],
    15: [(4, 6, 5)],
    16: [(4, 4, 4, 4)],
    19: [(4, 4, 4, 4, 3)],
}


def _group(digits: str, sizes: tuple[int, ...], sep: str) -> str:
    out, i = [], 0
    for size in sizes:
        out.append(digits[i : i + size])
        i += size
    return sep.join(out)


@settings(max_examples=200, deadline=None)
@given(
    length=st.sampled_from(sorted(GROUPINGS)),
    seed=st.integers(0, 2**32),
    sep=st.sampled_from([" ", "-"]),
)
def test_luhn_valid_numbers_in_card_grouping_are_found(cards, length, seed, sep):
    rng = random.Random(seed)
    body = str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(length - 2))
    digits = _luhn_complete(body)
    if len(set(digits)) == 1:
        return
    for sizes in GROUPINGS[length]:
        number = _group(digits, sizes, sep)
        assert _found(cards, f"paid with {number} yesterday") == [number]


@settings(max_examples=200, deadline=None)
@given(length=st.integers(12, 19), seed=st.integers(0, 2**32))
def test_contiguous_numbers_need_a_card_word(cards, length, seed):
    rng = random.Random(seed)
    body = str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(length - 2))
    digits = _luhn_complete(body)
    if len(set(digits)) == 1:
        return
    assert _found(cards, f"my card: {digits}") == [digits]
    assert _found(cards, f"pay with {digits}") == [digits]  # paying is card context too
    assert _found(cards, f"order {digits} shipped") == []


@settings(max_examples=200, deadline=None)
@given(length=st.integers(12, 19), seed=st.integers(0, 2**32))
def test_numbers_failing_luhn_are_not_cards(cards, length, seed):
    rng = random.Random(seed)
    digits = str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(length - 1))
    if luhn_valid(digits):
        digits = digits[:-1] + str((int(digits[-1]) + 1) % 10)
    assert _found(cards, f"card {digits}") == []
    sizes = (4,) * (length // 4) + ((length % 4,) if length % 4 else ())
    assert _found(cards, f"card {_group(digits, sizes, ' ')}") == []


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1111 2222",  # part of a longer run of groups
        "ts 1700000000000 logged",  # a millisecond timestamp, no card word
        "0000 0000 0000 0000",  # one digit repeated
        "v4111.1111.1111.1111",
    ],
)
def test_not_cards(cards, text):
    assert _found(cards, text) == []


def test_known_test_cards():
    assert luhn_valid("4111111111111111") and luhn_valid("378282246310005")
    assert not luhn_valid("4111111111111112")


def test_text_gates_change_no_finding(
    redactor: TextRedactor, dev_texts: list[str], chat_texts: list[str]
) -> None:
    """Every gated recognizer of the run (recognizers/text_gates.py) finds the same on eval
    and chat texts as without its gate, and the gates do skip texts."""
    from redactors.recognizers.text_gates import text_gate
    from redactors.staged import TEXT_ONLY_RECOGNIZERS

    texts = dev_texts + chat_texts + ["mail a@b.co now", "ip ::1 and 10.0.0.1", "１２３-45-6789"]
    # Edges of the stricter gates: IPv6 with and without "::", an IPv4-mapped address, IBANs
    # in upper and lower case, cards and SSNs in several layouts, digits of other scripts.
    texts += [
        "host 2001:0db8:85a3:0000:0000:8a2e:0370:7334 up",
        "link fe80::1ff:fe23:4567:890a%eth0 and ::ffff:192.0.2.128",
        "iban DE89 3704 0044 0532 0130 00, gb82west12345698765432",
        "card 4111-1111-1111-1111 or 4111111111111111 or ４１１１ １１１１ １１１１ １１１１",
        "ssn 078-05-1120, 078 05 1120, 078051120",
        "at 221B Baker Street, 9 oak st, 42\tElm Drive, 1600 PENNSYLVANIA AVE, 7ｂ Main St",
        "ping @ann_lee and <@U024BE7LH|ann>, card 2221 0012 3412 3456 or 2720-9912-3412-3453",
        "hosts 192.168.1.20 and 10.0.0.255/24, not v1.2 or 3.5",
    ]
    registry = redactor.detector.analyzer.registry
    gated = [
        (recognizer, gate)
        for recognizer in registry.get_recognizers(language="en", all_fields=True)
        if isinstance(recognizer, TEXT_ONLY_RECOGNIZERS) and (gate := text_gate(recognizer))
    ]
    names = {recognizer.name for recognizer, _ in gated}
    assert {"PhoneRecognizer", "UsSsnRecognizer", "IbanRecognizer", "IpRecognizer"} <= names
    assert {"CreditCardRecognizer", "OfflineEmailRecognizer", "UrlRecognizer"} <= names
    assert {"StreetAddressRecognizer", "UserMentionRecognizer"} <= names
    assert "Mastercard2SeriesRecognizer" in names
    skipped = 0
    for recognizer, gate in gated:
        entities = recognizer.supported_entities
        for text in texts:
            found = sorted(
                (r.entity_type, r.start, r.end, r.score)
                for r in recognizer.analyze(text=text, entities=entities, nlp_artifacts=None)
            )
            if not gate(text):
                skipped += 1
                assert found == [], (recognizer.name, text)
    assert skipped > 1000


def test_strict_gates_skip_lone_digits() -> None:
    """The SSN, card, IBAN and IP gates ask for what their patterns need, not any digit:
    chat's times and counts skip all four; each still lets its own kind through."""
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        IbanRecognizer,
        IpRecognizer,
        UsSsnRecognizer,
    )

    from redactors.recognizers.text_gates import text_gate

    chat = "see you at 10:30, 2 mins late, room 4b"
    own = {
        UsSsnRecognizer: "ssn 078-05-1120",
        CreditCardRecognizer: "card 4111 1111 1111 1111",
        IbanRecognizer: "iban DE89 3704 0044 0532 0130 00",
        IpRecognizer: "host fe80::1 up",
    }
    for kind, text in own.items():
        gate = text_gate(kind())
        assert gate is not None, kind
        assert not gate(chat), kind
        assert gate(text), kind


def test_group_regex_gates_change_no_finding(dev_texts: list[str], chat_texts: list[str]) -> None:
    """A GroupRegexRecognizer's GATE (one scan instead of one per rule) never turns away a
    text any of its rules matches: gated findings equal the rules' own, on eval and chat
    texts and on one text per rule (invented credentials)."""
    from redactors.recognizers.cued_ssn import CuedSsnRecognizer
    from redactors.recognizers.date_of_birth import DateOfBirthRecognizer
    from redactors.recognizers.secret import SecretRecognizer

    edges = [
        "key AKIAIOSFODNN7EXAMPLE in the log",
        "ghp_" + "a1B2" * 9 + " and github_pat_" + "x" * 30,
        "slack xoxb-1234567890-abcdef, stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "AIza" + "Sy" * 17 + "Q and eyJhbGciOiJI.eyJzdWIiOiIx.SflKxwRJSMeKKF2QT4",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
        "password: hunter2xyz, PASSWD IS = s3cr3t99, api key=abcdef123, Token:qwerty12",
        "my password is hunter2. the PIN was 4321, the password is wrong",
    ]
    edges += [
        "born on 12/03/1990, D.O.B: 1990-03-12; Birthday is March 3, 1990",
        "birth date: 3rd May 1990, dob 03.05.90",
        "SSN: 123-45-6789, ss# 666 12 3456, Social Security Number is 078051120",
    ]
    texts = dev_texts + chat_texts + edges
    gated = [SecretRecognizer(), DateOfBirthRecognizer(), CuedSsnRecognizer()]
    for recognizer in gated:
        assert recognizer._gate is not None
        skipped = 0
        for text in texts:
            found = recognizer.analyze(text, [recognizer.ENTITY])
            recognizer_gate, recognizer._gate = recognizer._gate, None
            try:
                expected = recognizer.analyze(text, [recognizer.ENTITY])
            finally:
                recognizer._gate = recognizer_gate
            skipped += recognizer_gate.search(text) is None
            key = [(r.start, r.end, r.score) for r in found]
            assert key == [(r.start, r.end, r.score) for r in expected], text
        assert skipped > len(texts) // 2
    secrets_found = SecretRecognizer().analyze(" ".join(edges), ["SECRET"])
    assert len(secrets_found) >= 10


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("my ssn is 123-45-6789", "123-45-6789"),  # Presidio's published sample
        ("SSN: 666-12-3456 for the form", "666-12-3456"),  # an area never issued
        ("ss# 078 05 1120", "078 05 1120"),
        ("social security number was 000-00-0000", "000-00-0000"),
        ("HR form needs SSN 219-09-9999 for Dana", "219-09-9999"),  # a valid one too
    ],
)
def test_an_ssn_shaped_number_after_its_cue_is_masked_valid_or_not(
    redactor: TextRedactor, text: str, value: str
) -> None:
    [redacted] = redactor.redact([text])
    start = text.index(value)
    assert any(
        s.entity_type == "US_SSN" and s.start <= start and start + len(value) <= s.end
        for s in redacted.spans
    ), redacted.spans


@pytest.mark.parametrize(
    "text",
    [
        "order 123-45-6789 shipped",  # no cue: Presidio's rules decide (a published sample)
        "ssn 123-45-678901",  # longer than an SSN
        "ssn 123-45.6789",  # two kinds of separator
    ],
)
def test_other_numbers_are_no_cued_ssn(text: str) -> None:
    from redactors.recognizers.cued_ssn import CuedSsnRecognizer

    assert CuedSsnRecognizer().analyze(text, ["US_SSN"]) == []


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("db password is Tr0ub4dor&3", "Tr0ub4dor&3"),
        ("my password is hunter2.", "hunter2"),  # the full stop stays
        ("the PIN was 4321, ok?", "4321"),
        ("wifi password is 'c0ffee-time'", "c0ffee-time"),
    ],
)
def test_a_password_said_in_a_sentence_is_a_secret(text: str, secret: str) -> None:
    from redactors.recognizers.secret import SecretRecognizer

    found = SecretRecognizer().analyze(text, ["SECRET"])
    assert [text[r.start : r.end] for r in found] == [secret]


@pytest.mark.parametrize(
    "text",
    ["the password is wrong", "password was expired yesterday", "the pin is on the wiki"],
)
def test_words_after_password_is_are_no_secret(text: str) -> None:
    from redactors.recognizers.secret import SecretRecognizer

    assert SecretRecognizer().analyze(text, ["SECRET"]) == []


@pytest.mark.parametrize(
    "iban",
    [
        "AT611904300234573201",  # 20 characters
        "AT61 1904 3002 3457 3201",
        "ES9121000418450200051332",  # 24
        "SE4550000000058398257466",
        "BE68539007547034",  # 16
    ],
)
@pytest.mark.parametrize("after", [" please", " Thanks", ", please", " asap", ""])
def test_an_iban_followed_by_a_word_is_masked(redactor: TextRedactor, iban: str, after: str):
    # Presidio's IGNORECASE pattern runs on into "plea" and every end it tries fails the
    # checksum (recognizers/iban.py)
    text = f"IBAN {iban}{after}"
    [redacted] = redactor.redact([text])
    assert [(text[s.start : s.end], s.entity_type) for s in redacted.spans] == [
        (iban, "IBAN_CODE")
    ]


def test_the_word_safe_iban_recognizer_adds_only_what_presidio_missed(
    dev_texts: list[str], chat_texts: list[str]
) -> None:
    from presidio_analyzer.predefined_recognizers import IbanRecognizer

    from redactors.detector import base_registry
    from redactors.recognizers.iban import WordSafeIbanRecognizer

    [base] = [r for r in base_registry("en", None).recognizers if isinstance(r, IbanRecognizer)]
    word_safe = WordSafeIbanRecognizer(base)
    edges = ["iban de89 3704 0044 0532 0130 00 ok", "AT611904300234573201."]
    texts = [*dev_texts, *chat_texts, *edges]
    for text in texts:
        key = [(r.start, r.end, r.score) for r in base.analyze(text, ["IBAN_CODE"])]
        assert [(r.start, r.end, r.score) for r in word_safe.analyze(text, ["IBAN_CODE"])] == key
    text = "IBAN AT611904300234573201 please"
    assert base.analyze(text, ["IBAN_CODE"]) == []  # Presidio's miss, still there
    assert [(r.start, r.end) for r in word_safe.analyze(text, ["IBAN_CODE"])] == [(5, 25)]
