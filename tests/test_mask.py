"""Operators and span rules, without the model."""

import re

import pytest
from presidio_analyzer import RecognizerResult

from redactors.engine import secret_key
from redactors.errors import SecretError
from redactors.mask import pseudonym, resolve_overlaps

KEY_A = b"k" * 16 + b"A"
KEY_B = b"k" * 16 + b"B"


def test_pseudonyms_are_consistent_normalised_and_keyed():
    assert pseudonym(KEY_A, "PERSON", "Ann Lee") == pseudonym(KEY_A, "PERSON", "Ann   Lee")
    assert pseudonym(KEY_A, "PERSON", "ann lee") == pseudonym(KEY_A, "PERSON", "Ann Lee").lower()
    assert pseudonym(KEY_A, "PERSON", "Ann Lee") != pseudonym(KEY_B, "PERSON", "Ann Lee")
    email = pseudonym(KEY_A, "EMAIL_ADDRESS", "Ann.Lee@Mail.com")
    assert email == pseudonym(KEY_A, "EMAIL_ADDRESS", "ann.lee@mail.com")
    assert re.fullmatch(r"[a-z]+\.[a-z]+\d\d@example\.(com|org|net)", email)


def test_pseudonym_shapes_are_realistic_and_reserved():
    phone = pseudonym(KEY_A, "PHONE_NUMBER", "(212) 867-5309")
    assert re.fullmatch(r"\(\d{3}\) 555-01\d\d", phone)
    assert pseudonym(KEY_A, "PHONE_NUMBER", "212.867.5309").replace(".", "") == re.sub(
        r"\D", "", phone
    )
    intl = pseudonym(KEY_A, "PHONE_NUMBER", "+1 212 867 5309")
    assert intl.startswith("+1 ") and intl.endswith(re.sub(r"\D", "", phone)[-4:])
    assert re.fullmatch(
        r"(192\.0\.2|198\.51\.100|203\.0\.113)\.\d+", pseudonym(KEY_A, "IP_ADDRESS", "8.8.4.4")
    )
    assert pseudonym(KEY_A, "IP_ADDRESS", "2001:4860::8888").startswith("2001:db8::")
    assert re.fullmatch(r"<@user_[0-9a-f]{8}>", pseudonym(KEY_A, "USER_MENTION", "<@U024BE7LH>"))
    assert re.fullmatch(r"@user_[0-9a-f]{8}", pseudonym(KEY_A, "USER_MENTION", "@donna90"))
    iban = pseudonym(KEY_A, "IBAN_CODE", "GB82WEST12345698765432")
    assert re.fullmatch(r"GB\d\d[A-Z]{4}\d{14}", iban)
    # extensions and foreign numbers: no original digit survives but an explicit +CC
    with_ext = pseudonym(KEY_A, "PHONE_NUMBER", "415-867-5309 ext 1234")
    assert re.fullmatch(r"[2-9]\d\d-555-01\d\d ext \d{4}", with_ext)
    german = pseudonym(KEY_A, "PHONE_NUMBER", "+49 1512 3456 7890")
    assert german.startswith("+49 ") and "1512" not in german and "3456 7890" not in german
    first_only = pseudonym(KEY_A, "PERSON", "Ann")
    assert " " not in first_only


def r(entity, start, end, score):
    return RecognizerResult(entity_type=entity, start=start, end=end, score=score)


def spans(text, results):
    return [(m.entity_type, text[m.start : m.end]) for m in resolve_overlaps(text, results)]


def test_contained_spans_give_way_to_the_specific_entity():
    text = "john.smith@acme.com"  # with a spurious URL "john.sm" inside it
    found = [r("URL", 0, 7, 0.5), r("EMAIL_ADDRESS", 0, 19, 1.0)]
    assert spans(text, found) == [("EMAIL_ADDRESS", "john.smith@acme.com")]


def test_pattern_entity_beats_ner_and_the_rest_is_still_masked():
    text = "@maria Lopez said so"
    found = [r("PERSON", 1, 12, 0.85), r("USER_MENTION", 0, 6, 0.6)]
    assert spans(text, found) == [("USER_MENTION", "@maria"), ("PERSON", "Lopez")]
    text = "call Ann 415-867-5309"
    found = [r("PERSON", 5, 12, 0.85), r("PHONE_NUMBER", 9, 21, 0.4)]
    assert spans(text, found) == [("PERSON", "Ann"), ("PHONE_NUMBER", "415-867-5309")]


def test_lowercase_ner_leftovers_are_dropped():
    # the model stretched a PERSON over "prod key AKIA...": "prod key" names nobody
    text = "prod key AKIAIOSFODNN7EXAMPLE leaked"
    found = [r("PERSON", 0, 29, 0.85), r("SECRET", 9, 29, 0.95)]
    assert spans(text, found) == [("SECRET", "AKIAIOSFODNN7EXAMPLE")]
    text = "@maria pls send it"
    found = [r("PERSON", 1, 10, 0.85), r("USER_MENTION", 0, 6, 0.6)]
    assert spans(text, found) == [("USER_MENTION", "@maria")]


def test_a_lowercase_name_left_beside_a_pattern_finding_stays_masked():
    # the model's PERSON over a handle written without "@" and the link after it
    text = "so cute ! ! zorbyrachel http://t.co/Zx81"
    found = [r("PERSON", 12, 40, 0.85), r("URL", 24, 40, 0.6)]
    assert spans(text, found) == [("PERSON", "zorbyrachel"), ("URL", "http://t.co/Zx81")]
    text = "@timelord zib-lou sounds like a cat"
    found = [r("USER_MENTION", 0, 9, 0.6), r("PERSON", 0, 17, 0.85)]
    assert spans(text, found) == [("USER_MENTION", "@timelord"), ("PERSON", "zib-lou")]


def test_between_equals_the_higher_score_then_the_longer_span_wins():
    text = "abcdefghijkl"
    found = [r("URL", 0, 10, 0.5), r("USER_MENTION", 2, 12, 0.6)]
    assert spans(text, found) == [("URL", "ab"), ("USER_MENTION", "cdefghijkl")]
    found = [r("LOCATION", 0, 10, 0.85), r("PERSON", 0, 12, 0.85)]
    assert spans(text, found) == [("PERSON", "abcdefghijkl")]


def test_leftovers_without_word_characters_are_dropped_and_touching_spans_kept():
    text = "ab, cd"
    assert spans(text, [r("PERSON", 0, 4, 0.8), r("EMAIL_ADDRESS", 0, 2, 1.0)]) == [
        ("EMAIL_ADDRESS", "ab")
    ]
    text = "abcd"
    assert spans(text, [r("PERSON", 0, 2, 0.8), r("PERSON", 2, 4, 0.8)]) == [
        ("PERSON", "ab"),
        ("PERSON", "cd"),
    ]


def test_secret_rules():
    assert secret_key(None, required=False) is None
    for bad in (None, "", "abc"):
        with pytest.raises(SecretError, match="REDACT_SECRET") as error:
            secret_key(bad, required=True)
        if bad:
            assert bad not in str(error.value)
    assert secret_key("abcdef" * 3, required=True) == b"abcdef" * 3


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        (" " * 15 + "x", "too short"),  # 16 bytes, 1 non-whitespace character
        ("x" * 16, "too little variety"),
        ("ab" * 20, "too little variety"),
        ("a b c d e f g h i j k l m n o", "too short"),  # 15 non-whitespace
    ],
)
def test_a_secret_needs_16_visible_characters_and_variety(secret, reason):
    with pytest.raises(SecretError, match=reason) as error:
        secret_key(secret, required=True)
    assert secret not in str(error.value)


def test_secrets_people_use_pass():
    for secret in ("3f9c0d2a71b84e55a0c1d2e3f4a5b6c7", "correct horse battery staple"):
        assert secret_key(secret, required=True) == secret.encode()


def _iban_valid(iban: str) -> bool:
    compact = iban.replace(" ", "")
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _luhn_valid(number: str) -> bool:
    digits = [int(d) for d in re.sub(r"\D", "", number)][::-1]
    doubled = [d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits)]
    total = sum(doubled)
    return total % 10 == 0


CARDS = ["4111 1111 1111 1111", "4111-1111-1111-1111", "5500000000000004", "378282246310005"]
IBANS = ["GB82WEST12345698765432", "DE89 3704 0044 0532 0130 00", "FR1420041010050500013M02606"]


@pytest.mark.parametrize("key", [bytes([i]) * 17 for i in range(40)])
def test_card_and_iban_surrogates_keep_the_format_and_fail_their_check_digits(key):
    for card in CARDS:
        surrogate = pseudonym(key, "CREDIT_CARD", card)
        assert re.sub(r"\d", "9", surrogate) == re.sub(r"\d", "9", card)  # same layout
        assert surrogate[0] == card[0] and surrogate != card  # same network, fresh digits
        assert not _luhn_valid(surrogate)  # no issued card fails Luhn
    for iban in IBANS:
        surrogate = pseudonym(key, "IBAN_CODE", iban)
        shape = re.sub(r"[A-Z]", "A", re.sub(r"\d", "9", surrogate))
        assert shape == re.sub(r"[A-Z]", "A", re.sub(r"\d", "9", iban))
        assert surrogate[:2] == iban[:2] and not _iban_valid(surrogate)
    assert _iban_valid(IBANS[0]) and _luhn_valid(CARDS[0])  # the checks above are right


def test_surrogates_are_never_found_again_by_presidio():
    """Presidio's card and IBAN recognizers validate check digits: a surrogate is no PII."""
    from presidio_analyzer.predefined_recognizers import CreditCardRecognizer, IbanRecognizer

    text = " ".join(
        [pseudonym(KEY_A, "CREDIT_CARD", c) for c in CARDS]
        + [pseudonym(KEY_A, "IBAN_CODE", i) for i in IBANS]
    )
    for recognizer in (CreditCardRecognizer(), IbanRecognizer()):
        found = recognizer.analyze(text, recognizer.supported_entities)
        assert [f for f in found if f.score > 0.5] == [], found


def test_ssn_and_ip_surrogates_come_from_ranges_never_assigned():
    assert re.fullmatch(r"000-\d\d-\d{4}", pseudonym(KEY_A, "US_SSN", "433-65-3111"))
    assert re.fullmatch(r"000\d{6}", pseudonym(KEY_A, "US_SSN", "433653111"))
    import ipaddress

    reserved = [
        ipaddress.ip_network(n)
        for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
    ]
    for value in ("8.8.4.4", "10.0.0.1", "2001:4860::8888", "::1"):
        address = ipaddress.ip_address(pseudonym(KEY_A, "IP_ADDRESS", value))
        assert any(address in network for network in reserved), address


def test_overlapping_findings_of_one_kind_are_masked_as_one():
    # Presidio's phone finding inside the possible-number one: one mask over both, so the
    # "+" of "+43" is not left over
    text = "phone: +43 (0) 5653 62323312"
    found = [r("PHONE_NUMBER", 11, 28, 0.75), r("PHONE_NUMBER", 7, 28, 0.6)]
    assert spans(text, found) == [("PHONE_NUMBER", "+43 (0) 5653 62323312")]
    text = "ab cd ef"  # of different kinds: the more specific one wins, as before
    assert spans(text, [r("URL", 0, 5, 0.5), r("EMAIL_ADDRESS", 3, 8, 0.9)]) == [
        ("URL", "ab"),
        ("EMAIL_ADDRESS", "cd ef"),
    ]
