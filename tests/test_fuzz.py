"""Fuzzing the text path (real Presidio + spaCy): arbitrary Unicode, mixed with planted PII,
never makes redaction raise, and nothing the detector flagged survives in the output.

"Survives" is checked three ways, since replacements change lengths:
- structure: the output is the input's unmasked segments, in order, with one replacement
  per masked region (nothing dropped, truncated or shifted);
- each masked value (4+ characters) occurs in the output no more often than in the input's
  unmasked segments (it may legitimately appear there too: "ann.lee@gmail.com" in a URL
  that was not flagged as a whole), and never inside a replacement;
- every letter and digit of every raw finding lies in a masked region, except what the
  overlap rules document as kept: lower-case leftovers of a name cut by a pattern finding.
"""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redactors.engine import RedactedText, TextRedactor
from redactors.mask import NER_ENTITIES

PII = [
    "ann.lee@gmail.com",
    "(415) 867-5309",
    "+44 20 7946 0958",
    "4111 1111 1111 1111",
    "2223 0000 4841 0010",
    "433-65-3111",
    "93.184.216.34",
    "2001:4860:4860::8888",
    "DE89 3704 0044 0532 0130 00",
    "GB82 WEST 1234 5698 7654 32",
    "ping Maria Gonzalez",
    "thx Hector!",
    "<@U024BE7LH>",
    "<@U024BE7LH|ann>",
    "@donna90",
    "https://github.com/donna90",
    "AKIAIOSFODNN7EXAMPLE",
    "password: hunter2hunter2",
    "born on March 3, 1987",
    "DOB: 03/14/1987",
    "4759 William Haven Apt. 194, Springfield, IL 62704",
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----",
    "josé.müller@bücher.de",
    "ann@xn--bcher-kva.example",
    "a@b.c",
    "x@-.com",
]
# Characters that tend to break text handling: controls, joiners, direction marks, BOM,
# line/paragraph separators (str.isspace), combining marks, non-ASCII digits, emoji.
SPECIAL = [
    *"\x00\x07\x0b\x0c\r\n\t\x1c\x1d\x1e\x1f\x7f\x85\xa0\u00ad\u0301\u034f\u061c\u200b\u200c",
    *"\u200d\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
    *"\u3000\ufeff\ufffc\ufffd\uffff\U0010ffff٤٥٦０１２𝟗😀İßﬁⅫ²",
    "🏳️\u200d🌈",
    "👩\u200d👩\u200d👧",
    "👩🏽\u200d💻",
    "e\u0301",
    "\r\n",
]

# Every code point except surrogates (which cannot be encoded and never reach here from
# Parquet): controls and unassigned ones included.
ANY_CHARS = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
PIECES = st.one_of(
    ANY_CHARS,
    st.sampled_from(PII),
    st.sampled_from(SPECIAL),
    st.sampled_from([" ", "  ", "\n\n", ", ", ": ", "-", "@", "<@", "|", ">"]),
)
TEXTS = st.lists(PIECES, max_size=14).map("".join)


def _regions(text: str, result: RedactedText) -> list[tuple[int, int]]:
    """Masked regions as presidio-anonymizer replaces them: same-entity spans with only
    spaces between them become one replacement."""
    regions: list[tuple[int, int, str]] = []
    for span in sorted(result.spans, key=lambda s: s.start):
        if (
            regions
            and regions[-1][2] == span.entity_type
            and re.fullmatch(" +", text[regions[-1][1] : span.start])
        ):
            regions[-1] = (regions[-1][0], span.end, span.entity_type)
        else:
            regions.append((span.start, span.end, span.entity_type))
    return [(start, end) for start, end, _ in regions]


def check_redacted(redactor: TextRedactor, text: str, result: RedactedText) -> None:
    assert isinstance(result, RedactedText) and isinstance(result.text, str)
    regions = _regions(text, result)
    assert len(regions) == len(result.replaced)
    # structure: unmasked input segments, in order, around the replacements
    kept: list[str] = []
    replacements: list[str] = []
    before_in = before_out = 0
    for (start, end), (out_start, out_end) in zip(regions, result.replaced, strict=True):
        assert before_in <= start < end <= len(text)
        kept.append(text[before_in:start])
        assert result.text[before_out:out_start] == kept[-1]
        replacements.append(result.text[out_start:out_end])
        before_in, before_out = end, out_end
    kept.append(text[before_in:])
    assert result.text[before_out:] == kept[-1]
    # masked values do not survive
    for span in result.spans:
        value = text[span.start : span.end]
        if len(value.strip()) < 4:
            continue
        assert not any(value in replacement for replacement in replacements), value
        in_kept = sum(segment.count(value) for segment in kept)
        assert result.text.count(value) <= in_kept, (value, result.text)
    # every letter and digit any recognizer flagged is masked (documented exception aside)
    masked = bytearray(len(text))
    for start, end in regions:
        masked[start:end] = b"\x01" * (end - start)
    [findings] = redactor.detector.analyze([text])
    for finding in findings:
        for i in range(finding.start, finding.end):
            if masked[i] or not text[i].isalnum():
                continue
            assert finding.entity_type in NER_ENTITIES, (finding, text)
            left, right = i, i
            while left > finding.start and not masked[left - 1]:
                left -= 1
            while right < finding.end and not masked[right]:
                right += 1
            leftover = text[left:right]
            assert not any(ch.isupper() or ch.isdigit() for ch in leftover), (finding, text)


FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(texts=st.lists(TEXTS, min_size=1, max_size=3))
def test_redaction_never_raises_and_leaves_nothing_flagged(redactor, texts):
    results = redactor.redact(texts)
    assert len(results) == len(texts)
    for text, result in zip(texts, results, strict=True):
        check_redacted(redactor, text, result)


@pytest.fixture(scope="module")
def small_windows(redactor: TextRedactor) -> TextRedactor:
    config = redactor.detector.config.model_copy(
        update={"window_chars": 1_000, "window_overlap_chars": 250}
    )
    detector = dataclasses.replace(redactor.detector, config=config)
    return TextRedactor(detector, redactor.masker, redactor.mentions)


FILLER = " and then we talked about the release notes for a while before lunch "
LONG_TEXTS = st.lists(TEXTS, min_size=12, max_size=30).map(FILLER.join)  # > 1,000 chars


@settings(FUZZ, max_examples=40)
@given(text=LONG_TEXTS)
def test_windowed_redaction_of_arbitrary_unicode(small_windows, text):
    """The same with 1,000-character windows, so cuts land among odd whitespace
    (\\x1c-\\x1f, \\x85, \\u2028 are whitespace to str.isspace) and joined emoji."""
    [result] = small_windows.redact([text])
    check_redacted(small_windows, text, result)


EDGE_CASES = [
    "a@" + "b" * 70 + ".com",  # a domain label too long for IDNA
    "mail a@xn--.com now",
    "a@" + "ü" * 64 + ".de",
    "ann@bücher.de\u200d",
    "a\u200d@gmail.com",
    "ann.lee@gmail.com\u0301",
    "\u202e" * 20 + "ann.lee@gmail.com",
    "call ٤١٥-٨٦٧-٥٣٠٩",  # Arabic-Indic digits
    "call （４１５）８６７－５３０９",  # full-width
    "call +٤٤ ٢٠ ٧٩٤٦ ٠٩٥٨",
    "1" * 3000,
    "@" * 1000,
    "<@U" * 300,
    "DE89" + "0" * 1000,
    "4111 " * 300,
    "[::1] 2001:db8::" + ":1" * 50,
    "password: " + "x" * 2000,
    "-----BEGIN PRIVATE KEY-----" * 50,
    "born on 99/99/9999",
    "\x00" * 50 + "433-65-3111",
    "thx Ǆemal!",
    "ping ŉ'ab",
    "İstanbul Gonzalez",
    "e\u0301" * 200,
    "\r\n" * 200,
    "\U0010ffff" * 20,
]


def test_edge_cases(redactor):
    for text, result in zip(EDGE_CASES, redactor.redact(EDGE_CASES), strict=True):
        check_redacted(redactor, text, result)


def test_the_checks_catch_a_leak(redactor):
    phone = "(415) 867-5309"
    text = f"mail ann.lee@gmail.com or call {phone}"
    [result] = redactor.redact([text])
    check_redacted(redactor, text, result)
    email_out, (out_start, out_end) = result.replaced
    restored = result.text[:out_start] + phone + result.text[out_end:]
    as_replacement = dataclasses.replace(
        result, text=restored, replaced=(email_out, (out_start, out_start + len(phone)))
    )
    with pytest.raises(AssertionError):
        check_redacted(redactor, text, as_replacement)  # the value "replaced" by itself
    not_masked = dataclasses.replace(
        result, text=restored, spans=result.spans[:1], replaced=(email_out,)
    )
    with pytest.raises(AssertionError):
        check_redacted(redactor, text, not_masked)  # a finding left out of the masking
