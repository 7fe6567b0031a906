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
    assert re.fullmatch(
        r"<IBAN_CODE_[0-9a-f]{8}>", pseudonym(KEY_A, "IBAN_CODE", "GB82WEST12345698765432")
    )
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
