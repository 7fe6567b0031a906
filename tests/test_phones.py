"""The gated phone recognizer: the proof its gate rests on, and its results against Presidio's."""

from __future__ import annotations

import hashlib
import inspect
import itertools
import json
import subprocess
import sys
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import NumberParseException, PhoneNumberMatcher
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from redactors import leakscan
from redactors.recognizers import phone as phones
from redactors.recognizers.phone import (
    GatedPhoneRecognizer,
    SharedMatcher,
    SharedText,
    cannot_be_valid,
    phone_matcher,
)

REPO = Path(__file__).resolve().parent.parent
DEVSETS = Path("/work/shared/devsets")


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


# The shared matcher (module doc of redactors.recognizers.phone): the same matches as
# phonenumbers' own matcher, region by region, try budget included, and the recognizer's
# results equal to Presidio's on the corpora.


def _presidio_findings(recognizer: PhoneRecognizer, text: str) -> list[tuple]:
    """Every field Presidio sets on a phone finding, in its order (the recognizer's id holds
    the object's address: its name is compared instead)."""
    return [
        (
            r.entity_type,
            r.start,
            r.end,
            r.score,
            r.analysis_explanation.to_dict(),
            r.recognition_metadata[r.RECOGNIZER_NAME_KEY],
        )
        for r in recognizer.analyze(text, ["PHONE_NUMBER"])
    ]


def _matches(matcher: PhoneNumberMatcher) -> list[tuple]:
    return [(m.start, m.end, m.raw_string, m.number) for m in matcher]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(PHONE_PIECES), max_size=24).map("".join),
    st.sampled_from(sorted(phones.PROVED_REGIONS)),
    st.integers(min_value=0, max_value=8),
)
def test_the_shared_matcher_matches_like_phonenumbers_within_any_try_budget(text, region, tries):
    """Small budgets run out inside _extract_inner_match's passes: the shared matcher stops
    where phonenumbers' does."""
    valid = phonenumbers.Leniency.VALID
    shared = SharedText(text, valid)
    expected = _matches(PhoneNumberMatcher(text, region, leniency=valid, max_tries=tries))
    assert _matches(SharedMatcher(shared, region, max_tries=tries)) == expected
    # and with the default budget, after other regions filled the shared text
    assert _matches(SharedMatcher(shared, region)) == _matches(
        PhoneNumberMatcher(text, region, leniency=valid)
    )


# Texts whose matches change with the try budget: an inner match found after the budget's
# last try, a budget spent on failing candidates before a number.
BUDGET_TEXTS = [
    "12 - 212-555-0199",
    "call 12 - 212-555-0199 or 7 - 415-555-0133",
    "(12) 34 (212) 555-0199",
    "1.2. 212-555-0199",
    "12/212-555-0199",
    "5 6 7 8 212-555-0199 9 10 415-555-0133",
    "a 1 b 2 c 3 d 4 e 212-555-0199",
]


@pytest.mark.parametrize("text", BUDGET_TEXTS)
def test_the_shared_matcher_spends_the_try_budget_as_phonenumbers_does(text):
    valid = phonenumbers.Leniency.VALID
    for region in sorted(phones.PROVED_REGIONS):
        shared = SharedText(text, valid)
        by_budget = [
            _matches(PhoneNumberMatcher(text, region, leniency=valid, max_tries=tries))
            for tries in range(12)
        ]
        for tries, expected in enumerate(by_budget):
            assert _matches(SharedMatcher(shared, region, max_tries=tries)) == expected
        if region == "US":
            assert len({len(matches) for matches in by_budget}) > 1  # the budget matters


PLUS_PIECES = [
    *("+", "\uff0b", "++", "+0", "+00", "+44", "+1", "+49", "+999", "+0044", "00", "011"),
    *("20 7946 0958", "212 555 0199", "30 901820", "6 12 34 56 78", "98765 43210", " ", "-"),
    *(" ext. 7", " x12", ";ext=3", "tel:", ";phone-context=", "+33", "foo.com", "(0)", "1"),
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PLUS_PIECES), min_size=1, max_size=8).map("".join))
def test_a_number_read_without_a_region_reads_the_same_in_every_region(string):
    """The lemma SharedText.verified rests on: where parse reads a string with no region, it
    returns the same number, every field, in each proved region."""
    try:
        alone = phonenumbers.parse(string, None, keep_raw_input=True)
    except NumberParseException:
        return
    for region in sorted(phones.PROVED_REGIONS):
        assert phonenumbers.parse(string, region, keep_raw_input=True) == alone


def test_a_plus_that_reads_as_a_region_s_idd_is_parsed_per_region():
    """A plus before "0044" is no country code: parse retries with the region's
    international prefix, so the string is parsed region by region."""
    shared = SharedText("call +0044 20 7946 0958", phonenumbers.Leniency.VALID)
    assert not shared._is_regionless("+0044 20 7946 0958")
    assert shared._is_regionless("+44 20 7946 0958")
    found = {
        region: _matches(SharedMatcher(shared, region)) for region in sorted(phones.PROVED_REGIONS)
    }
    assert found["GB"] and not found["US"]
    for region, matches in found.items():
        assert matches == _matches(PhoneNumberMatcher(shared.text, region))


# Invented numbers (fictional ranges where a country has them), in the forms people write.
INVENTED = [
    "call me at 212-555-0199 or (415) 555-0133 tonight",  # US, two numbers
    "office: +1 (312) 555-0147 ext. 204, cell 312.555.0178",  # + form, extension, dots
    "UK desk 020 7946 0958, mobile 07700 900123",
    "ring +44 20 7946 0958 x 12 or +44 7700 900456",
    "Büro: 030 901820, Handy 0151 23456789",  # DE
    "Tel. +49 30 901820 / +49 89 1234567",  # two German numbers split by a slash
    "appelle le 01 23 45 67 89 ou le +33 6 12 34 56 78",  # FR
    "mera number 98765 43210 hai, office +91 22 2345 6789",  # IN
    "liga pra (11) 91234-5678 ou +55 21 2345-6789",  # BR
    "Israel: 03-123-4567, +972 52-123-4567",
    "Toronto 416-555-0199; Montreal +1 514 555 0112",
    "1-800-FLOWERS or 1 800 356 9377",  # phone words
    "international: 0044 20 7946 0958, from the US 011 44 20 7946 0958",  # IDD prefixes
    "+0044 20 7946 0958 and +999 123 4567",  # a plus before an IDD, an unknown code
    "555-0199 ext 12; 212-555-0199 ext. 345; 212 555 0199 #6",
    "ids 4913379515403893 and 233-38-3748, then 212-555-0199",
    "meeting 2024-03-05 10:30, room 1645, call 0164 1234567",
]


@pytest.mark.parametrize("text", INVENTED)
def test_invented_numbers_are_found_as_presidio_finds_them(text):
    presidio = PhoneRecognizer()
    expected = _presidio_findings(presidio, text)
    assert expected  # every text holds a number Presidio finds
    assert _presidio_findings(GatedPhoneRecognizer(presidio), text) == expected


def _jsonl_texts(path: Path) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text().splitlines() if line.strip()]


def _generated(mix: str, n: int, seed: int) -> list[str]:
    from redactors.testing.synth import generate_sample

    sample = generate_sample(seed=seed, n_users=200, n_messages=n, n_posts=0, message_mix=mix)
    return sample.messages["text"].to_list()


CORPORA = {
    "eval": lambda: [
        text
        for name in ("dev.jsonl", "test.jsonl", "hard_cases.jsonl")
        for text in _jsonl_texts(REPO / "data" / "eval" / name)
    ],
    # The development splits only (never the held-back test splits).
    "devsets": lambda: [
        text
        for name in ("wnut17-dev.jsonl", "btc-dev.jsonl", "presidio-generated.jsonl")
        for text in _jsonl_texts(DEVSETS / name)
    ],
    "chat": lambda: _generated("chat", 2000, seed=23),
    "pii_dense": lambda: _generated("pii_dense", 2000, seed=29),
}


@pytest.mark.parametrize("corpus", sorted(CORPORA))
def test_the_recognizer_equals_presidios_on_the_corpora(corpus):
    """Every finding, every field Presidio sets (explanation region included), in order."""
    if corpus == "devsets" and not DEVSETS.is_dir():
        pytest.skip("no shared development sets on this machine")
    texts = CORPORA[corpus]()
    presidio = PhoneRecognizer()
    gated = GatedPhoneRecognizer(presidio)
    assert gated.gated
    compared = 0
    for text in texts:
        expected = _presidio_findings(presidio, text)
        assert _presidio_findings(gated, text) == expected, text
        compared += len(expected)
    minimum = {"eval": 100, "devsets": 100, "chat": 50, "pii_dense": 500}[corpus]
    assert compared >= minimum


def test_the_mirrored_matcher_code_is_phonenumbers():
    """SharedText and SharedMatcher mirror these methods of the proved release: a release
    that changes them fails here (and on PROVED_RELEASE)."""
    source = "".join(
        inspect.getsource(getattr(PhoneNumberMatcher, name))
        for name in (
            "_find",
            "_trim_after_first_match",
            "_extract_match",
            "_extract_inner_match",
            "_parse_and_verify",
        )
    )
    assert hashlib.sha256(source.encode()).hexdigest() == (
        "d22c3afc7accf5b4b6306f5d319521cc4af7ddfb0831a86ab498109012ff8114"
    )


def test_phone_recognizers_have_phonenumbers_keep_its_compiled_patterns():
    """Built in a fresh process, either phone recognizer turns on phonenumbers' pattern
    cache, and a parse then leaves the region's patterns in it."""
    code = (
        "import phonenumbers\n"
        "import phonenumbers.re_util as cache\n"
        "from presidio_analyzer.predefined_recognizers import PhoneRecognizer\n"
        "from redactors.recognizers.phone import GatedPhoneRecognizer\n"
        "from redactors.recognizers.possible_phone import PossiblePhoneRecognizer\n"
        "assert cache._COMPILED_PATTERNS is None\n"
        "{build}\n"
        "found = recognizer.analyze('call 020 7946 0958 today', ['PHONE_NUMBER'])\n"
        "assert found, 'a GB number is found'\n"
        "gb = phonenumbers.PhoneMetadata.metadata_for_region('GB')\n"
        "assert gb.general_desc.national_number_pattern in cache._COMPILED_PATTERNS\n"
    )
    for build in (
        "recognizer = GatedPhoneRecognizer(PhoneRecognizer())",
        "recognizer = PossiblePhoneRecognizer()",
    ):
        done = subprocess.run(
            [sys.executable, "-c", code.format(build=build)], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-2000:]


def _valid_in(string: str, region: str) -> bool:
    """phonenumbers' own answer: the matcher's parse and verification (leniency VALID)."""
    from phonenumbers import phonenumbermatcher

    try:
        number = phonenumbers.parse(string, region, keep_raw_input=True)
    except NumberParseException:
        return False
    checker = PhoneNumberMatcher("", None)
    return phonenumbermatcher._verify(phonenumbers.Leniency.VALID, number, string, checker)


def _country_pieces() -> list[str]:
    """What parse reads specially at a number's start, for every proved region: its country
    code, international and national prefixes, carrier codes (BR), the GB text relay."""
    pieces = {"00", "011", "0", "1", "90", "180020", "0 15 ", "90 21 ", "012 "}
    for region in phones.PROVED_REGIONS:
        pieces.add(str(phonenumbers.country_code_for_region(region)))
    return sorted(pieces)


PLAIN_PIECES = [
    *_country_pieces(),
    *("2", "3", "4", "5", "6", "7", "8", "9", "20", "212", "555", "7946", "0958", "1234567"),
    *(" ", "-", ".", "(", ")", "  "),
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PLAIN_PIECES), min_size=1, max_size=12).map("".join))
def test_a_string_is_skipped_in_a_region_only_where_it_cannot_be_valid(string):
    for region in sorted(phones.PROVED_REGIONS):
        assert phones.may_be_valid_in(string, region) or not _valid_in(string, region), region


# The country codes of the proved regions.
PROVED_CODES = sorted({phonenumbers.country_code_for_region(r) for r in phones.PROVED_REGIONS})


def _example_numbers(code: int, regions: int | None = None) -> list[phonenumbers.PhoneNumber]:
    """phonenumbers' example number of every type, for the country code's regions (its
    first ``regions`` of them if given)."""
    from phonenumbers import PhoneNumberType
    from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

    return [
        number
        for region in COUNTRY_CODE_TO_REGION_CODE[code][:regions]
        for kind in PhoneNumberType.values()
        if (number := phonenumbers.example_number_for_type(region, kind)) is not None
    ]


def _example_strings() -> list[str]:
    """Every example number of every region of the proved country codes and of every type,
    written nationally, internationally without "+" and after an international prefix,
    and with its last digits changed."""
    from phonenumbers import PhoneNumberFormat

    strings: set[str] = set()
    for number in (n for code in PROVED_CODES for n in _example_numbers(code)):
        national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
        international = phonenumbers.format_number(number, PhoneNumberFormat.E164)[1:]
        for written in (national, international, "00" + international):
            strings.add(written)
            for tail in ("0", "5", "99"):  # neighbours, valid or not
                strings.add(written[: -len(tail)] + tail)
    return sorted(strings)


def test_every_example_number_may_be_valid_wherever_it_is():
    """The other side: no valid reading is skipped. Example numbers are valid by
    construction, in the region whose country code they carry and often in others."""
    valid_pairs = 0
    for string in _example_strings():
        for region in sorted(phones.PROVED_REGIONS):
            if _valid_in(string, region):
                valid_pairs += 1
                assert phones.may_be_valid_in(string, region), (string, region)
    assert valid_pairs > 500  # the example numbers of 25 NANPA regions and six countries


def test_prefixes_parse_may_strip_before_every_example_number():
    """Country codes and national prefixes stacked before a national number: parse may
    strip the country code, then a prefix by the region's rule, then one by the main
    region's ("1 1 1 404 480 3892" is a valid US number)."""
    valid_pairs = 0
    for code in PROVED_CODES:
        main = phonenumbers.region_code_for_country_code(code)
        assert main in phones.PROVED_REGIONS  # each proved country's main region is one
        pieces = [str(code), "0", "1", "90", "15", "180020"]
        # NANPA: the examples of US, AG and AI
        nsns = {phonenumbers.national_significant_number(n) for n in _example_numbers(code, 3)}
        for size in range(4):
            for prefix in itertools.product(pieces, repeat=size):
                for nsn in sorted(nsns):
                    string = " ".join((*prefix, nsn))
                    for region in (main, *sorted(phones.PROVED_REGIONS - {main})[:2]):
                        if _valid_in(string, region):
                            valid_pairs += 1
                            assert phones.may_be_valid_in(string, region), (string, region)
    assert valid_pairs > 1000


def test_the_region_gate_skips_most_parses_on_pii_dense_chat():
    """What it is for: US numbers, cards and IPs are not parsed as German or French ones."""
    assert not phones.may_be_valid_in("4913379515403893", "US")  # a card number
    assert not phones.may_be_valid_in("404-480-3892", "GB")  # a US number
    assert phones.may_be_valid_in("404-480-3892", "US")
    assert phones.may_be_valid_in("020 7946 0958", "GB")
    assert phones.may_be_valid_in("011 44 20 7946 0958", "US")  # after an IDD: any country
    assert phones.may_be_valid_in("00 1 404 480 3892", "DE")
    assert phones.may_be_valid_in("+1 404 480 3892", "DE")  # a plus: parse decides
    texts = _generated("pii_dense", 400, seed=31)
    shared_calls: list[bool] = []
    for text in texts:
        shared = SharedText(text, phonenumbers.Leniency.VALID)
        for region in sorted(phones.PROVED_REGIONS):
            list(SharedMatcher(shared, region))  # its walk fills the shared text's parses
        shared_calls += [
            phones.may_be_valid_in(string, region)
            for (string, region) in shared._verified
            if region is not None
        ]
    assert len(shared_calls) > 1000
    assert shared_calls.count(False) > len(shared_calls) / 2
