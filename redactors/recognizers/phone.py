"""Presidio's phone recognizer: parses skipped where they cannot succeed, and the matcher's
region-free work done once per text instead of once per region.

Presidio's ``PhoneRecognizer`` runs ``phonenumbers.PhoneNumberMatcher`` once per region (eight
by default). For each candidate the matcher finds (a run of digits and phone punctuation) and
for each piece of it (``_extract_inner_match``), ``_parse_and_verify`` parses the string and
keeps it only if the number is valid (leniency VALID or stricter). In chat most candidates
are "5", "10:30" or "2024": 0.64 s of the recognizer's 1.51 s over 4,980 chat texts went to
parsing strings that cannot be a valid number.

Why a string without ASCII letters and with fewer than 4 digits (or 4 digits not in
``_VALID_FOUR_DIGITS``) cannot be valid, in any of the proved regions:
- ``parse`` keeps a substring (``_extract_possible_number``), strips an extension suffix,
  then works on the remaining digits and on whether they start with a plus sign: letters
  only count when three ASCII letters are present (``_VALID_ALPHA_PHONE_PATTERN``, phone
  words such as 1-800-FLOWERS), and punctuation either makes it reject or drops a suffix
  (an extension after "#", ",", ";", "~"; a second number after "/"). So a valid
  number read from the string is the number ``parse`` reads from ``"+" + digits`` or from
  ``digits``, with ``digits`` a contiguous run of the string's digits
  (``normalize_digits_only``, any script; the gate counts an extension's digits too, which
  only makes it skip less).
- ``tests/test_phones.py`` parses every string of 1 to 4 digits, with and without "+", in
  every proved region: none of 1-3 digits is valid; the valid 4-digit ones are
  ``_VALID_FOUR_DIGITS``. The proof holds for one phonenumbers release (its metadata), so
  with any other release installed, or other regions, or a lenient leniency, every string
  is parsed as in Presidio.
Skipping ``_parse_and_verify`` leaves the matcher's search, its order and its try budget
(``max_tries``, counted by the callers) untouched: the results are Presidio's.

One text, eight regions (``SharedText``, ``SharedMatcher``; issue 22). On PII-dense chat the
eight matchers each redid the same work: the text's candidates (``_PATTERN`` from a search
index, trimmed of a second number), each candidate's date and time-stamp checks and the
strings ``_extract_inner_match`` cuts from it, and ``_parse_and_verify``'s checks before the
parse (brackets, page references, the characters around the string, and the gate above).
None of these reads the region: they read the text, an index or offset, and the leniency.
``SharedText`` computes each once per text, on first use, and keeps for each candidate the
list of ``_parse_and_verify`` calls ``_extract_match`` would make, in order, with where the
matcher checks its try budget (before each pass of an inner-match loop: the first pass tries
the text before the group, spends a try, then the group, with no check between) and spends a
try (after each failed call but the whole candidate's). ``SharedMatcher`` is
``PhoneNumberMatcher`` with ``_find`` and ``_extract_match`` walking those lists with its own
budget, so each region's matcher makes the calls, spends and stops as phonenumbers' does
(tests: the same matches under every budget from 0 to 11 on texts where the budget changes
them, and under random budgets on random texts).
What still depends on the region is the parse and its verification, and for one kind of
string not even those: where ``parse(string, None)`` succeeds (the string, past
``_extract_possible_number`` and an extension, starts with a plus sign and a known country
code), ``parse(string, region)`` takes the same path for every valid region: the region's
metadata only serves an international prefix or a national number, and on this path the
number's own region's metadata replaces it (``metadata_for_region_or_calling_code``); parse
only falls back to the region after a plus with no known country code ("+0044 ..."), which
parse without a region rejects. ``_verify`` reads the number and the string (the matcher
only as the holder of a method that reads no state). So such a string is parsed and verified
once for the eight regions; every other string once per region it is tried in, and no more
often (a string retried in the same region reads the kept result: parse and verify are
functions of string, region and leniency). Presidio's loop then parses each match without a
region to label it with its own region; that too is kept per match string.

Region by region, a string of ASCII digits and plain punctuation (blank, "-", ".", "(",
")") is parsed only where it may be valid (``may_be_valid_in``). On PII-dense chat most
parses read a number in a region where it cannot be one: a US number, a card or an IP in
Germany, France or Israel (68% of them; 158 of the recognizer's 230 µs a text were
parse and verify). For such a string ``parse`` reads no letter, plus sign or extension
(every extension pattern needs a letter, "#", "~", "," or ";"), and its digits ``D``:
- if the region's international prefix matches at the start of ``D``, the number may be
  of any country: parsed;
- otherwise its country code is the region's, and its national significant number (NSN,
  the digits ``is_valid_number`` reads, leading zeros kept) is ``D``, or ``D`` after the
  country code, either one with a national prefix (or carrier code) stripped or
  transformed as ``_maybe_strip_national_prefix_carrier_code`` may: by the region's rule,
  and after the country code by the country's main region's rule too (``_Prefix``).
A valid number's NSN matches one of the number types' patterns (with its lengths) of one
of its country code's regions (``_number_type_helper`` of the region
``region_code_for_number`` picks, and no region is valid without a type). So a string none
of whose possible NSNs matches any of them is not parsed there: what parse and verify
would return, None. Tests: strings built around each region's country code, prefixes and
carrier codes, and every example number, against parse and verify.

All of it applies only where the gate's proof does (the phonenumbers release, the regions,
a validating leniency); otherwise the recognizer is Presidio's.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import re

import phonenumbers
from phonenumbers import (
    Leniency,
    NumberParseException,
    PhoneMetadata,
    PhoneNumber,
    PhoneNumberMatch,
    PhoneNumberMatcher,
)
from phonenumbers import phonenumbermatcher as _pnm
from phonenumbers.phonenumber import CountryCodeSource
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

# What the proof in tests/test_phones.py was run against.
PROVED_RELEASE = "9.0.43"
# Presidio's default regions, written out: a Presidio release with another list is not proved
# until the test has run for it.
PROVED_REGIONS = frozenset({"US", "GB", "DE", "FR", "IL", "IN", "CA", "BR"})
# The 4-digit strings valid in a proved region (German 164x, 168x, 169x numbers).
_VALID_FOUR_DIGITS = frozenset(str(n) for n in (*range(1640, 1650), *range(1680, 1700)))
_ASCII_LETTER = re.compile("[A-Za-z]")
# Leniencies that require phonenumbers.is_valid_number (matcher's _verify).
_VALIDATING = frozenset({Leniency.VALID, Leniency.STRICT_GROUPING, Leniency.EXACT_GROUPING})


def cannot_be_valid(candidate: str) -> bool:
    """True when ``parse`` cannot read a valid number of a proved region from the string."""
    if _ASCII_LETTER.search(candidate):
        return False  # letters may become digits (phone words): parse decides
    digits = phonenumbers.normalize_digits_only(candidate)
    return len(digits) < 4 or (len(digits) == 4 and digits not in _VALID_FOUR_DIGITS)


class _GatedMatcher(PhoneNumberMatcher):
    def _parse_and_verify(self, candidate: str, offset: int) -> PhoneNumberMatch | None:
        if cannot_be_valid(candidate):
            return None  # what parse and verify would return, without parsing
        return super()._parse_and_verify(candidate, offset)


def gate_applies(regions: tuple[str, ...] | list[str], leniency: int | None) -> bool:
    """Whether the proof covers this recognizer's regions and leniency, and the installed
    phonenumbers release."""
    return (
        phonenumbers.__version__ == PROVED_RELEASE
        and set(regions) <= PROVED_REGIONS
        and leniency in _VALIDATING
    )


def phone_matcher(text: str, region: str, leniency: int) -> PhoneNumberMatcher:
    """``phonenumbers.PhoneNumberMatcher``, gated where the proof covers the region and
    leniency (same matches)."""
    gated = gate_applies((region,), leniency)
    return (_GatedMatcher if gated else PhoneNumberMatcher)(text, region, leniency=leniency)


# What a search from an index found: (start, candidate trimmed of a second number), or None.
_Found = tuple[int, str] | None
# One call of _parse_and_verify that _extract_match would make for a candidate, in order:
# (string, offset, the try budget is checked before it, a try is spent after it, the string
# passes parse_and_verify's checks before parsing and the gate).
_Attempt = tuple[str, int, bool, bool, bool]


class SharedText:
    """What phonenumbers' matcher computes for a text the same way in every region, computed
    once for the text's matchers (``SharedMatcher``; module doc): the candidate found from a
    search index, the strings ``_extract_match`` would try for a candidate and whether each
    passes the checks ahead of parsing, and the parse and verification of a string that holds
    its own country code. Only for a leniency the gate's proof covers."""

    def __init__(self, text: str, leniency: int) -> None:
        self.text = text
        self.leniency = leniency
        self._found: dict[int, _Found] = {}
        self._attempts: dict[tuple[str, int], tuple[_Attempt, ...]] = {}
        # (string, region) -> the verified number (fields cleared as the matcher clears
        # them) or None; region None for a string parse reads without a region.
        self._verified: dict[tuple[str, str | None], PhoneNumber | None] = {}
        # string -> its parse without a region, or None where parse needs one
        self._regionless: dict[str, PhoneNumber | None] = {}

    def found_from(self, index: int) -> _Found:
        """``_find``'s search from index and its trim (region-free: text and pattern only)."""
        if index not in self._found:
            match = _pnm._PATTERN.search(self.text, index)
            if match is None:
                self._found[index] = None
            else:
                start = match.start()
                candidate = self.text[start : match.end()]
                candidate = _trim(_pnm._SECOND_NUMBER_START_PATTERN, candidate)
                self._found[index] = (start, candidate)
        return self._found[index]

    def attempts(self, candidate: str, offset: int) -> tuple[_Attempt, ...]:
        """The ``_parse_and_verify`` calls of ``_extract_match(candidate, offset)`` (and its
        ``_extract_inner_match``) in their order, with where the try budget is checked and
        spent; none for a date or a time stamp."""
        key = (candidate, offset)
        if key not in self._attempts:
            self._attempts[key] = tuple(
                (string, at, check, spend, self._may_parse(string, at))
                for string, at, check, spend in self._calls(candidate, offset)
            )
        return self._attempts[key]

    def _calls(self, candidate: str, offset: int) -> list[tuple[str, int, bool, bool]]:
        # PhoneNumberMatcher._extract_match, without the budget and the parse
        if _pnm._SLASH_SEPARATED_DATES.search(candidate):
            return []
        if _pnm._TIME_STAMPS.search(candidate):
            following_text = self.text[offset + len(candidate) :]
            if _pnm._TIME_STAMPS_SUFFIX.match(following_text):
                return []
        calls = [(candidate, offset, False, False)]
        # PhoneNumberMatcher._extract_inner_match: its while loop checks the budget before
        # each pass; the first pass tries the text before the group, spends, then the group.
        for possible_inner_match in _pnm._INNER_MATCHES:
            group_match = possible_inner_match.search(candidate)
            is_first_match = True
            while group_match:
                check = True
                if is_first_match:
                    group = _trim(_pnm._UNWANTED_END_CHAR_PATTERN, candidate[: group_match.start()])
                    calls.append((group, offset, True, True))
                    check = False
                    is_first_match = False
                group = _trim(_pnm._UNWANTED_END_CHAR_PATTERN, group_match.group(1))
                calls.append((group, offset + group_match.start(1), check, True))
                group_match = possible_inner_match.search(candidate, group_match.start() + 1)
        return calls

    def _may_parse(self, candidate: str, offset: int) -> bool:
        """False where ``_parse_and_verify`` returns None before parsing (its checks of the
        string and of the characters around it) or the gate proves no valid number."""
        # PhoneNumberMatcher._parse_and_verify up to the parse
        if not _pnm.fullmatch(_pnm._MATCHING_BRACKETS, candidate) or _pnm._PUB_PAGES.search(
            candidate
        ):
            return False
        if self.leniency >= Leniency.VALID:
            if offset > 0 and not _pnm._LEAD_PATTERN.match(candidate):
                previous_char = self.text[offset - 1]
                if PhoneNumberMatcher._is_invalid_punctuation_symbol(
                    previous_char
                ) or PhoneNumberMatcher._is_latin_letter(previous_char):
                    return False
            last_char_index = offset + len(candidate)
            if last_char_index < len(self.text):
                next_char = self.text[last_char_index]
                if PhoneNumberMatcher._is_invalid_punctuation_symbol(
                    next_char
                ) or PhoneNumberMatcher._is_latin_letter(next_char):
                    return False
        return not cannot_be_valid(candidate)

    def verified(self, candidate: str, region: str) -> PhoneNumber | None:
        """``_parse_and_verify``'s number for the string in the region (after its checks),
        or None; computed once for all regions where parse reads the string without one."""
        key = (candidate, None if self._is_regionless(candidate) else region)
        if key not in self._verified:
            self._verified[key] = (
                self._parse_and_verify(candidate, region)
                if key[1] is None or may_be_valid_in(candidate, region)
                else None  # no reading of it is a valid number of the region (module doc)
            )
        return self._verified[key]

    def _is_regionless(self, candidate: str) -> bool:
        """Whether ``parse`` reads the string without a region: it then reads it the same in
        every valid region (module doc)."""
        return self.parsed_alone(candidate) is not None

    def parsed_alone(self, candidate: str) -> PhoneNumber | None:
        """``parse(candidate)`` without a region, or None where it raises (no plus sign and
        known country code: phonenumbers' _PLUS_CHARS are "+" and "＋")."""
        if candidate not in self._regionless:
            parsed = None
            if "+" in candidate or "\uff0b" in candidate:
                with contextlib.suppress(NumberParseException):
                    parsed = _pnm.parse(candidate, None, keep_raw_input=True)
            self._regionless[candidate] = parsed
        return self._regionless[candidate]

    def _parse_and_verify(self, candidate: str, region: str) -> PhoneNumber | None:
        # PhoneNumberMatcher._parse_and_verify from the parse on
        try:
            numobj = _pnm.parse(candidate, region, keep_raw_input=True)
            # The matcher is only read by the grouping leniencies, as the holder of
            # _check_number_grouping_is_valid (reads no state).
            if _pnm._verify(self.leniency, numobj, candidate, _GROUPING_CHECKER):
                numobj.country_code_source = CountryCodeSource.UNSPECIFIED
                numobj.raw_input = None
                numobj.preferred_domestic_carrier_code = None
                return numobj
        except NumberParseException:
            pass
        return None


_GROUPING_CHECKER = PhoneNumberMatcher("", None)


# A string parse reads as its digits alone: no letter, plus sign or extension (module doc).
_PLAIN_NUMBER = re.compile(r"[0-9 ().-]+")
_NOT_DIGITS = str.maketrans("", "", " ().-")
# The number types of _number_type_helper: a valid number matches one of them.
_NUMBER_TYPES = (
    *("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager"),
    *("uan", "voicemail", "fixed_line", "mobile"),
)


class _Prefix:
    """A region's national prefix for parsing and its transform rule."""

    def __init__(self, metadata: PhoneMetadata) -> None:
        pattern = metadata.national_prefix_for_parsing
        self.pattern = re.compile(pattern) if pattern else None  # phonenumbers' re_compile
        self.transform = metadata.national_prefix_transform_rule or None

    def stripped(self, number: str) -> set[str]:
        """Every number ``_maybe_strip_national_prefix_carrier_code`` may return for
        ``number`` with this region's metadata (it returns one of them)."""
        found = {number}
        match = self.pattern.match(number) if self.pattern is not None else None
        if match:
            found.add(number[match.end() :])
            if self.transform is not None:
                found.add(self.pattern.sub(self.transform, number, count=1))
        return found


class _RegionReading:
    """What ``may_be_valid_in`` needs of one region's metadata (module doc)."""

    def __init__(self, region: str) -> None:
        metadata = PhoneMetadata.metadata_for_region(region)
        country_code = metadata.country_code
        self.country_code = str(country_code)
        self.international_prefix = re.compile(metadata.international_prefix)
        self.prefix = _Prefix(metadata)
        main = phonenumbers.region_code_for_country_code(country_code)
        self.main_prefix = _Prefix(PhoneMetadata.metadata_for_region(main))
        self.valid_nsn, self.lengths = _valid_nsn(country_code)

    def may_be_valid(self, digits: str) -> bool:
        if self.international_prefix.match(digits):
            return True  # of any country
        nsns = self.prefix.stripped(digits)
        if digits.startswith(self.country_code):
            for number in self.prefix.stripped(digits[len(self.country_code) :]):
                nsns |= self.main_prefix.stripped(number)
        return any(
            (self.lengths is None or len(nsn) in self.lengths) and self.valid_nsn.fullmatch(nsn)
            for nsn in nsns
        )


def _valid_nsn(country_code: int) -> tuple[re.Pattern[str], frozenset[int] | None]:
    """NSNs that match a number type (its pattern and lengths, as ``_is_number_matching_desc``
    reads them) of a region of the country code: every valid one does. With the lengths of
    all the types (None: a type without lengths), a quick test before the pattern."""
    alternatives: dict[str, None] = {}  # in order, once each
    lengths: set[int] | None = set()
    for region in COUNTRY_CODE_TO_REGION_CODE[country_code]:
        metadata = PhoneMetadata.metadata_for_region(region)
        if metadata is None:
            continue  # no metadata: no number of the region is valid
        for name in _NUMBER_TYPES:
            desc = getattr(metadata, name)
            if desc is None or not desc.national_number_pattern:
                continue
            if not desc.possible_length:  # no lengths: the pattern alone decides
                alternatives[f"(?:{desc.national_number_pattern})"] = None
                lengths = None
                continue
            counts = [n for n in desc.possible_length if n > 0]  # [-1]: no such number
            if counts:
                either = "|".join(rf"\d{{{n}}}" for n in counts)
                alternatives[f"(?=(?:{either})$)(?:{desc.national_number_pattern})"] = None
                if lengths is not None:
                    lengths.update(counts)
    pattern = re.compile("|".join(alternatives) or "(?!)")
    return pattern, None if lengths is None else frozenset(lengths)


@functools.cache
def _reading(region: str) -> _RegionReading:
    return _RegionReading(region)


def may_be_valid_in(candidate: str, region: str) -> bool:
    """False where ``parse(candidate, region)`` cannot give a number ``is_valid_number``
    accepts (module doc); True where it may, or where the argument does not reach (letters,
    a plus sign, other punctuation). For a proved region."""
    if not _PLAIN_NUMBER.fullmatch(candidate):
        return True
    return _reading(region).may_be_valid(candidate.translate(_NOT_DIGITS))


def keep_compiled_patterns() -> None:
    """Have phonenumbers keep every metadata pattern it compiles (its documented
    ``enable_pattern_cache``, "if you check many numbers from many regions"). Without it each
    parse and validation asks ``re.compile`` again for the region's patterns: a cache lookup
    at best, a recompile once ``re``'s 512-entry cache has turned over (8 and 21 regions'
    patterns, and every other library's). Same patterns, same results: 195 -> 180 µs a
    PII-dense text in the phone recognizer. Process-wide and idempotent; the cache holds at
    most the metadata's patterns."""
    phonenumbers.enable_pattern_cache()


def _trim(pattern: re.Pattern[str], candidate: str) -> str:
    """PhoneNumberMatcher._trim_after_first_match(pattern, candidate) (reads no state)."""
    trailing = pattern.search(candidate)
    return candidate[: trailing.start()] if trailing else candidate


class SharedMatcher(PhoneNumberMatcher):
    """``PhoneNumberMatcher`` for one region, reading the region-free work from the text's
    ``SharedText``: its own try budget, order and results (module doc)."""

    def __init__(self, shared: SharedText, region: str, max_tries: int = 65535) -> None:
        super().__init__(shared.text, region, leniency=shared.leniency, max_tries=max_tries)
        self._shared = shared

    def _find(self, index: int) -> PhoneNumberMatch | None:
        # PhoneNumberMatcher._find, with the search and trim read from the shared text
        found = self._shared.found_from(index)
        while self._max_tries > 0 and found is not None:
            start, candidate = found
            candidate_len = len(candidate)
            if candidate_len >= self._min_candidate_length:
                match = self._extract_match(candidate, start)
                if match is not None:
                    return match
                self._max_tries -= 1
            index = start + candidate_len
            found = self._shared.found_from(index)
        return None

    def _extract_match(self, candidate: str, offset: int) -> PhoneNumberMatch | None:
        # PhoneNumberMatcher._extract_match and _extract_inner_match: the same calls of
        # _parse_and_verify, budget checks and spending, in the same order.
        for string, at, check, spend, may_parse in self._shared.attempts(candidate, offset):
            if check and self._max_tries <= 0:
                # the inner loop stops; every later pass checks the budget first
                return None
            if may_parse:
                numobj = self._shared.verified(string, self.preferred_region)
                if numobj is not None:
                    return PhoneNumberMatch(at, string, copy.copy(numobj))
            if spend:
                self._max_tries -= 1
        return None


class GatedPhoneRecognizer(PhoneRecognizer):
    """Presidio's PhoneRecognizer (presidio-analyzer 2.2), same regions, leniency, context and
    results; the matcher skips parsing strings that cannot be a valid number (module doc)."""

    def __init__(self, base: PhoneRecognizer) -> None:
        super().__init__(
            context=base.context,
            supported_language=base.supported_language,
            supported_entity=base.supported_entities[0],
            supported_regions=base.supported_regions,
            leniency=base.leniency,
            name=base.name,
        )
        self.version = base.version
        self.score_thresholds = base.score_thresholds
        keep_compiled_patterns()

    @property
    def gated(self) -> bool:
        """Whether the proof covers this recognizer's settings now."""
        return gate_applies(self.supported_regions, self.leniency)

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if not self.gated:
            return super().analyze(text, entities, nlp_artifacts)
        # Presidio's loop, with the regions' matchers sharing the text's region-free work.
        # The region of a match's explanation is the number's own region when it parses
        # alone (Presidio reassigns the loop variable the same way; the matcher was already
        # built with the requested region), else the last one the loop held.
        shared = SharedText(text, self.leniency)
        results: list[RecognizerResult] = []
        for region in self.supported_regions:
            for match in SharedMatcher(shared, region):
                # Presidio parses the match without a region; the shared text already did
                # (every match string went through verified), keep_raw_input aside.
                parsed_number = shared.parsed_alone(text[match.start : match.end])
                if parsed_number is not None:
                    region = phonenumbers.region_code_for_number(parsed_number)
                results.append(self._get_recognizer_result(match, text, region, nlp_artifacts))
        return EntityRecognizer.remove_duplicates(results)
