"""Masking: span overlap rules, keyed operators (HMAC hash, consistent pseudonyms) and the
mapping from config operators to presidio-anonymizer operators.

Pseudonyms are a pure function of (secret, entity type, normalised value): the same person,
email or handle gets the same surrogate in every record, source and run, and a different
secret gives unrelated surrogates. Surrogates are drawn from ranges reserved for examples
(example.com, 555-01xx phone lines, RFC 5737 addresses) so they cannot point at real people.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Sequence
from typing import Any

from faker.providers.person.en_US import Provider as _EnUsPeople
from presidio_analyzer import RecognizerResult
from presidio_anonymizer.entities import OperatorConfig
from presidio_anonymizer.operators import Operator, OperatorType

from redactors.config import AnyOperator
from redactors.recognizers.luhn_card import luhn_valid
from redactors.recognizers.name_lexicon import WORD, fold, lexicon

# Name pools: fixed, sorted lists from a pinned Faker release (no randomness from Faker itself).
_FIRST_NAMES = tuple(sorted(set(_EnUsPeople.first_names)))
_LAST_NAMES = tuple(sorted(set(_EnUsPeople.last_names)))
_EXAMPLE_DOMAINS = ("example.com", "example.org", "example.net")
_WHITESPACE = re.compile(r"\s+")
_DIGIT = re.compile(r"\d")


def keyed_digest(key: bytes, entity_type: str, value: str) -> bytes:
    """HMAC-SHA256 of a normalised value, separated by entity type."""
    message = f"{entity_type}\x1f{_normalise(entity_type, value)}".encode()
    return hmac.new(key, message, hashlib.sha256).digest()


def _normalise(entity_type: str, value: str) -> str:
    """Spellings of one value that should share a pseudonym ("Ann  Lee" / "ann lee")."""
    if entity_type == "PHONE_NUMBER":
        digits = "".join(_DIGIT.findall(value))
        # "+1 415 867 5309" and "(415) 867-5309" are one number
        return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits
    if entity_type in ("US_SSN", "CREDIT_CARD", "IBAN_CODE"):
        return re.sub(r"[\s.-]", "", value).upper()
    return _WHITESPACE.sub(" ", value.strip()).casefold()


def _pick(options: Sequence[str], digest: bytes, offset: int) -> str:
    return options[int.from_bytes(digest[offset : offset + 4], "big") % len(options)]


def _match_case(surrogate: str, original: str) -> str:
    if original.islower():
        return surrogate.lower()
    if original.isupper() and len(original) > 3:
        return surrogate.upper()
    return surrogate


def _person(original: str, digest: bytes) -> str:
    first, last = _pick(_FIRST_NAMES, digest, 0), _pick(_LAST_NAMES, digest, 4)
    words = original.split()
    surrogate = first if len(words) == 1 else f"{first} {last}"
    return _match_case(surrogate, original)


def _email(digest: bytes) -> str:
    first, last = _pick(_FIRST_NAMES, digest, 0), _pick(_LAST_NAMES, digest, 4)
    number = int.from_bytes(digest[8:10], "big") % 100
    return f"{first}.{last}{number:02d}@{_pick(_EXAMPLE_DOMAINS, digest, 10)}".lower()


_COUNTRY_CODE = re.compile(r"^\s*\+(\d{1,3})(?=\D)")


def _fresh_digits(digest: bytes, count: int) -> list[str]:
    stream = digest
    while len(stream) < count:  # long inputs (extensions): extend the keyed stream
        stream += hashlib.sha256(stream).digest()
    return [str(byte % 10) for byte in stream[:count]]


def _phone(original: str, digest: bytes) -> str:
    """Same layout as the original. Only an explicit leading "+CC" country code is kept; every
    other digit (extension included) is replaced. North American 10-digit numbers get a
    fictional 555-01xx line and an area code starting 2-9."""
    country = _COUNTRY_CODE.match(original)
    kept = list(country.group(1)) if country else []
    count = len(_DIGIT.findall(original)) - len(kept)
    fresh = _fresh_digits(digest, count)
    if count >= 10 and (not kept or kept == ["1"]):
        fresh[0] = str(2 + digest[0] % 8)
        fresh[3:8] = list("55501")
    replacement = iter(kept + fresh)
    return _DIGIT.sub(lambda _: next(replacement), original)


def _mention(original: str, digest: bytes) -> str:
    # Lower-case hex: a surrogate token can never be read back as a real Slack user id.
    token = hashlib.sha256(digest).hexdigest()
    if original.startswith("<@"):
        return f"<@user_{token[:8]}>"
    return f"@user_{token[:8]}"


def _ip(original: str, digest: bytes) -> str:
    try:
        version = ipaddress.ip_address(original.strip("[]")).version
    except ValueError:
        version = 6 if ":" in original else 4
    if version == 6:
        return f"2001:db8::{digest[:2].hex()}:{digest[2:4].hex()}"
    network = _pick(("192.0.2", "198.51.100", "203.0.113"), digest, 0)
    return f"{network}.{1 + digest[4] % 254}"


def _url(digest: bytes) -> str:
    return f"https://example.com/u/{digest[:5].hex()}"



def _card(original: str, digest: bytes) -> str:
    """Same layout and first digit (the card network), every other digit fresh, and a last
    digit that fails the Luhn check: no issued card number can fail it, so the surrogate
    can never be a real account (and no card recognizer reports it again)."""
    count = len(_DIGIT.findall(original))
    if count < 2:
        return f"<CREDIT_CARD_{digest[:4].hex()}>"
    first = _DIGIT.search(original)
    fresh = [first.group() if first else "4", *_fresh_digits(digest, count - 1)]
    if luhn_valid("".join(fresh)):
        fresh[-1] = str((int(fresh[-1]) + 1) % 10)  # one digit off: the check fails
    replacement = iter(fresh)
    return _DIGIT.sub(lambda _: next(replacement), original)


_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _iban_remainder(country: str, check: str, bban: str) -> int:
    rearranged = bban + country + check
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97


def _iban(original: str, digest: bytes) -> str:
    """Same country, length and spacing; letters stay letters and digits digits, all fresh;
    check digits that fail ISO 13616's mod-97 check, so it can never be a real account."""
    compact = re.sub(r"\s", "", original).upper()
    if len(compact) < 5 or not compact[:2].isalpha():
        return f"<IBAN_CODE_{digest[:4].hex()}>"
    stream = _fresh_digits(digest, 2 * len(compact))
    bban = "".join(
        _LETTERS[(int(stream[i]) * 10 + int(stream[i + 1])) % 26]
        if char.isalpha()
        else stream[i]
        for i, char in enumerate(compact[4:])
    )
    country = compact[:2]
    valid = 98 - _iban_remainder(country, "00", bban)  # 2..98
    # 2..96 and never the valid pair: two pairs give the same remainder only 97 apart
    check = 2 + (valid - 1 + digest[5] % 94) % 95
    surrogate = iter(f"{country}{check:02d}{bban}")
    return "".join(char if char.isspace() else next(surrogate) for char in original)


def _ssn(original: str, digest: bytes) -> str:
    """Same layout; area number 000, which the US never issues."""
    count = len(_DIGIT.findall(original))
    fresh = ["0", "0", "0", *_fresh_digits(digest, max(count - 3, 0))][:count]
    if count >= 9 and all(d == "0" for d in fresh[3:5]):
        fresh[3] = "1"  # group 00 is never issued either; keep it looking like an SSN
    replacement = iter(fresh)
    return _DIGIT.sub(lambda _: next(replacement), original)


def pseudonym(key: bytes, entity_type: str, value: str) -> str:
    """Consistent surrogate for ``value``; realistic where the type has a generator."""
    digest = keyed_digest(key, entity_type, value)
    if entity_type == "PERSON":
        return _person(value, digest)
    if entity_type == "EMAIL_ADDRESS":
        return _email(digest)
    if entity_type == "PHONE_NUMBER":
        return _phone(value, digest)
    if entity_type == "USER_MENTION":
        return _mention(value, digest)
    if entity_type == "IP_ADDRESS":
        return _ip(value, digest)
    if entity_type == "URL":
        return _url(digest)
    if entity_type == "CREDIT_CARD":
        return _card(value, digest)
    if entity_type == "IBAN_CODE":
        return _iban(value, digest)
    if entity_type == "US_SSN":
        return _ssn(value, digest)
    return f"<{entity_type}_{digest[:4].hex()}>"


def _require_key(params: dict[str, Any]) -> bytes:
    key = params.get("key")
    if not isinstance(key, bytes) or len(key) < 16:
        raise ValueError("keyed operators need a key of at least 16 bytes")
    return key


class PseudonymOperator(Operator):
    """presidio-anonymizer operator: consistent surrogate keyed by the run secret."""

    def operate(self, text: str, params: dict[str, Any] | None = None) -> str:
        params = params or {}
        return pseudonym(_require_key(params), params["entity_type"], text)

    def validate(self, params: dict[str, Any] | None = None) -> None:
        _require_key(params or {})

    def operator_name(self) -> str:
        return "pseudonym"

    def operator_type(self) -> OperatorType:
        return OperatorType.Anonymize


class KeyedHashOperator(Operator):
    """presidio-anonymizer operator: truncated HMAC-SHA256 (hex) keyed by the run secret.

    Presidio's own ``hash`` salts randomly per value since 2.2.361, which breaks joins
    across records; a keyed HMAC is stable and cannot be reversed by hashing guesses
    without the secret.
    """

    def operate(self, text: str, params: dict[str, Any] | None = None) -> str:
        params = params or {}
        digest = keyed_digest(_require_key(params), params["entity_type"], text)
        return digest.hex()[: int(params.get("length", 16))]

    def validate(self, params: dict[str, Any] | None = None) -> None:
        _require_key(params or {})

    def operator_name(self) -> str:
        return "keyed_hash"

    def operator_type(self) -> OperatorType:
        return OperatorType.Anonymize


CUSTOM_OPERATORS: tuple[type[Operator], ...] = (PseudonymOperator, KeyedHashOperator)


def presidio_operator(entity: str, operator: AnyOperator, key: bytes | None) -> OperatorConfig:
    """Translate one config operator into a presidio-anonymizer OperatorConfig."""
    if operator.type == "tag":
        return OperatorConfig("replace", {"new_value": f"<{entity}>"})
    if operator.type == "replace":
        return OperatorConfig("replace", {"new_value": operator.new_value})
    if operator.type == "redact":
        return OperatorConfig("redact", {})
    if operator.type == "mask":
        return OperatorConfig(
            "mask",
            {
                "masking_char": operator.masking_char,
                "chars_to_mask": operator.chars_to_mask,
                "from_end": operator.from_end,
            },
        )
    if key is None:
        raise ValueError(f"operator {operator.type!r} for {entity} needs the secret")
    if operator.type == "hash":
        return OperatorConfig("keyed_hash", {"key": key, "length": operator.length})
    return OperatorConfig("pseudonym", {"key": key})


# Entities that come from the statistical NER model. A pattern-based finding (an email, a
# handle, an SSN...) is more specific than an NER label on the same characters.
NER_ENTITIES = frozenset({"PERSON", "LOCATION", "ORGANIZATION", "NRP", "DATE_TIME"})


def _priority(result: RecognizerResult) -> tuple[bool, float, int, int]:
    return (
        result.entity_type not in NER_ENTITIES,
        result.score,
        result.end - result.start,
        -result.start,
    )


def _subtract(start: int, end: int, taken: list[tuple[int, int]]) -> list[tuple[int, int]]:
    pieces = [(start, end)]
    for taken_start, taken_end in taken:
        next_pieces = []
        for piece_start, piece_end in pieces:
            if taken_end <= piece_start or taken_start >= piece_end:
                next_pieces.append((piece_start, piece_end))
                continue
            if piece_start < taken_start:
                next_pieces.append((piece_start, taken_start))
            if taken_end < piece_end:
                next_pieces.append((taken_end, piece_end))
        pieces = next_pieces
    return pieces


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Shrink a leftover piece to its outermost word characters; None if it has none."""
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and not text[end - 1].isalnum():
        end -= 1
    return (start, end) if start < end else None


def _everyday_words(leftover: str) -> bool:
    """Lower case, and no word or a frequent English or chat word among the words ("prod
    key", "ugh"): not a name written in lower case ("righthererachel", "le-mou")."""
    if any(ch.isupper() or ch.isdigit() for ch in leftover):
        return False
    words = WORD.findall(leftover)
    common = lexicon()
    return not words or any(common.is_common(fold(word)) for word in words)


def _merge_same_kind(results: Sequence[RecognizerResult]) -> list[RecognizerResult]:
    """Overlapping pattern findings of one entity become one over both, at the higher
    score: Presidio's phone recognizer finds "(0) 5653 62323312" and the possible-number one
    "+43 (0) 5653 62323312"; cut apart, the "+" of the shorter one's leftover "+43" stayed
    visible. (NER entities are settled elsewhere: names.settle_names.)"""
    merged: list[RecognizerResult] = []
    for result in sorted(results, key=lambda r: (r.entity_type, r.start, -r.end)):
        last = merged[-1] if merged else None
        if (
            last is not None
            and result.entity_type not in NER_ENTITIES
            and last.entity_type == result.entity_type
            and result.start < last.end
        ):
            if result.end > last.end or result.score > last.score:
                best = last if last.score >= result.score else result
                merged[-1] = RecognizerResult(
                    entity_type=last.entity_type,
                    start=last.start,
                    end=max(last.end, result.end),
                    score=max(last.score, result.score),
                    recognition_metadata=best.recognition_metadata,
                )
            continue
        merged.append(result)
    return merged


def resolve_overlaps(text: str, results: Sequence[RecognizerResult]) -> list[RecognizerResult]:
    """One mask per region, the most specific entity winning, no flagged character left.

    Findings are taken in order of specificity: pattern-based entities before NER ones
    ("@maria" is a handle even if the model also calls it a PERSON), then higher score,
    then longer span. A finding that overlaps ones already taken keeps only its leftover
    pieces (trimmed to word characters): the winner's value stays whole, so its
    pseudonym is the same wherever it occurs, and the loser's extra characters are still
    masked (Presidio itself would drop them).
    """
    taken: list[tuple[int, int]] = []
    resolved: list[RecognizerResult] = []
    for result in sorted(_merge_same_kind(results), key=_priority, reverse=True):
        pieces = _subtract(result.start, result.end, taken)
        whole = pieces == [(result.start, result.end)]
        for piece_start, piece_end in pieces:
            trimmed = (piece_start, piece_end) if whole else _trim(text, piece_start, piece_end)
            if trimmed is None:
                continue
            # What an NER span keeps beyond a pattern finding ("prod key" of "prod key
            # AKIA...") is kept only if it could itself be a name or number: not lower-case
            # text with an everyday word, but a lower-case name or a handle written without
            # "@" is ("righthererachel" of the model's "righthererachel http://t.co/...").
            if (
                not whole
                and result.entity_type in NER_ENTITIES
                and _everyday_words(text[trimmed[0] : trimmed[1]])
            ):
                continue
            taken.append(trimmed)
            resolved.append(
                RecognizerResult(
                    entity_type=result.entity_type,
                    start=trimmed[0],
                    end=trimmed[1],
                    score=result.score,
                    recognition_metadata=result.recognition_metadata,
                )
            )
    return sorted(resolved, key=lambda r: r.start)
