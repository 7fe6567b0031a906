"""International and multi-line street addresses, as one span per address.

street_address.py knows US addresses on one line. Here an address starts at an anchor and
grows over the parts that follow it:

Anchors (word lists in intl_address_words.py):
- a street with a street-type word and a house number, in either order: "Hauptstraße 5",
  "Musterweg 12a", "12 rue de la Paix", "Calle Mayor 3", "Via Roma 10", "Rua Augusta 5",
  "Keizersgracht 123", "ul. Zuchów 65", "Király u. 23.", "10 Downing Street" (and every US
  form of street_address.py); a name joined to its type by hyphens ("Karl-Heinz-Weg 28",
  "Sara-Hauffer-Ring 25"; "Ring" only so); a comma after the number, French style ("384,
  rue Victor Hugo", with a capitalised name), or before it, Italian and Portuguese style
  ("Via Roma, 10", "Avenida Maia, 317": not followed by a lower-case word unless an address
  or meeting phrase comes before, so not "Via Zoom, 2 people");
- a flat or studio, then its street with no number, UK style ("Flat 8, Shaun Ranch",
  "Studio 52h\nLaw Stream");
- a name and a house number with no type word ("Koidu 31", "Alt Reinickendorf 63"), only
  when a flat/suite line or a postcode/town line follows, or an address-introducing phrase
  ("lives at", "address:", "sent to") comes right before: on its own it is "Windows 10";
- a post office box ("P.O. Box 123", "Postfach 12 34", "PSC 4926, Box 7979") or a military
  post line ("FPO AE 94560");
- a postcode named as one ("my zip code is 98547", "postcode: SW1A 2AA");
- "on/at <Name> Street" (a full English street word, no number): "shows on Baker Street".

Growth, forward: a flat/suite/apt/unit/floor part (", Apt. 4", " Suite 485", "\\n Apt. 626"),
comma parts of town, state, country and postcode (", Springfield, IL 62704", ", GRIMSTAD,
Fiji 34730"), town words after a unit up to the line's end ("Suite 499 TOURNEFEUILLE
Colombia"), and whole lines of a block: town, ", ST", postcode, "Country 12345", at most
five lines, each only of name words and codes (a line with a sentence, a phone number or
a sign-off ends the block). Backward: a flat part or a house number right before
("Flat 3, 12 High Street", the leading "36" of "36 19 Folkestone Road").

Punctuation: the sentence's full stop, a trailing comma or colon stay outside the span. A
period that belongs to the address stays in when the sentence goes on after it ("Király u.
23., Budapest", "Charilaou Trikoupi Str. 5"), but not at the end of a sentence: "I live at
12 Elm St." masks "12 Elm St" and keeps the full stop, which is both the abbreviation's and
the sentence's (the gold spans of presidio-research's generated set end before it too).

Text-only (a GroupRegexRecognizer): no NLP, no Presidio context words.
"""

from __future__ import annotations

import re
from typing import ClassVar

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from redactors.recognizers.address_words import (
    ADDRESS_INTRO,
    STRONG_ANY_CASE_ADDRESS,
    TITLE_CASE_ADDRESS,
    trim_end,
)
from redactors.recognizers.group_regex import GroupRegexRecognizer
from redactors.recognizers.intl_address_words import (
    ADDRESS_NAMED,
    COMPOUND_ENDINGS,
    EIRCODE,
    ENGLISH_SUFFIXES,
    MILITARY_POST,
    NAME_PARTICLES,
    NOT_TOWN_WORDS,
    PO_BOX,
    POSTCODE,
    POSTCODE_NAMED,
    SHORT_STEM_ENDINGS,
    TYPE_WORDS_ANY_CASE,
    TYPE_WORDS_CAPITALISED,
    TYPE_WORDS_JOINED_ONLY,
    UK_POSTCODE,
    UNIT,
)
from redactors.recognizers.name_lexicon import fold, lexicon


def _alternation(words: list[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


# A word: letters first, then letters or digits, inner apostrophes and hyphens
# ("Bailén-Motril", "People's"), an abbreviation's period ("Str.").
_WORD = r"[^\W\d_][^\W_]*(?:['’-][^\W\d_][^\W_]*)*\.?"
# 12, 12a, 221B, 12/3, 12-14; not "1990s" (a letter suffix is a-h or a capital).
_HN = r"\d{1,5}(?:[A-Za-h](?![^\W_]))?(?:[/-]\d{1,4}[A-Za-h]?)?"
_SP = r"[ \t]+"
# "No number", Spanish and Portuguese: "Travessa Silva Porto, S/N", "Calle Real s/n".
_NO_NUMBER = r"[Ss]/[Nn]"
# What a text needs for any anchor: a digit, a full English street word (ON_STREET), "s/n".
_MAY_HOLD_ADDRESS = re.compile(rf"\d|Street|Avenue|Road|Boulevard|Lane|{_NO_NUMBER}")
_TYPE_SEPARATE = (
    rf"(?:(?i:{_alternation(TYPE_WORDS_ANY_CASE)})|{_alternation(TYPE_WORDS_CAPITALISED)})"
    r"(?![^\W_])"
)
# Also the types that end a hyphenated name (checked in ``_anchors``): the number comes
# after them.
_TYPE_OR_JOINED = rf"(?:{_TYPE_SEPARATE}|(?:{_alternation(TYPE_WORDS_JOINED_ONLY)})(?![^\W_]))"
# One-word street names (checked in ``_anchors``: not a frequent English word, "Brigade 5",
# "Renegade 2"; a stem of one or two letters only capitalised).
_COMPOUND = (
    rf"(?P<compound>(?<![^\W_])(?:[^\W\d_]{{3,}}(?i:{_alternation(COMPOUND_ENDINGS)})"
    rf"|(?P<short>[^\W\d_]{{1,2}})(?i:{_alternation(SHORT_STEM_ENDINGS)}))(?![^\W_]))"
)
# "-ring" ends German and Dutch street names ("Häringring 1", "Lucyring 97") and English
# words ("Offering 3", "Monitoring 24"): a street only capitalised and when the word is no
# frequent English word (checked in ``_anchors``).
_CHECKED_COMPOUND = r"(?P<checked>(?<![^\W_])[^\W\d_]{3,}ring(?![^\W_]))"
_ENGLISH = rf"(?:{_alternation(ENGLISH_SUFFIXES)})(?![^\W_])"
# A street with a type word, the house number after it: "Calle Mayor 3", "Hauptstraße 5",
# "ul. Zuchów 65", "Alt Reinickendorf Str. 63" (the words before the type are found
# backwards from it, a number before them by growing back: "12 Møller Vej 3").
TYPED_NUMBER_AFTER = re.compile(
    rf"(?<![^\W_])(?:(?P<separate>{_TYPE_OR_JOINED})|{_COMPOUND}|{_CHECKED_COMPOUND})\.?"
    rf"(?P<words>(?:{_SP}{_WORD}){{0,4}})(?P<comma>,?){_SP}(?:{_HN}|{_NO_NUMBER})"
    rf"(?![\w-]|[.,]\d)\.?"
)
# Italian and Portuguese put a comma before the number ("Via Roma, 10", "Avenida Maia,
# 317"): such a match stands only when no lower-case word follows the number ("Via Zoom, 2
# people") or an address phrase comes before it.
_LOWER_WORD_NEXT = re.compile(r"[ \t]+[^\W\d_A-Z]")
_MEET_AT = re.compile(r"\b(?i:meet(?:ing)?(?:\s+(?:me|us|you|them))?\s+(?:at|on))\s+\Z")
# Where a TYPED_NUMBER_AFTER match can start (typed_number_after).
_SPACE_DIGIT = re.compile(rf"(?<=[ \t])(?:\d|{_NO_NUMBER})")
_LETTER_WORD_START = re.compile(r"(?<![^\W_])[^\W\d_]")
# Pieces from a match's start to its house number: the type word, up to 4 name words.
_PIECES_BEFORE_NUMBER = 5


def _pieces_back(text: str, end: int, pieces: int) -> int:
    """Start of the ``pieces``-th run of non-blanks (space, tab) before ``end``."""
    at = end
    for _ in range(pieces):
        while at > 0 and text[at - 1] in " \t":
            at -= 1
        while at > 0 and text[at - 1] not in " \t":
            at -= 1
    return at


def typed_number_after(text: str) -> list[re.Match[str]]:
    """``TYPED_NUMBER_AFTER.finditer(text)``, tried only where a match can start.

    The pattern tries its ~130 type words and compound endings at every word of the text
    (25 µs of a 90-character chat text). A match is a letter starting a word, a type word
    and up to four name words (none holds a space or tab), a space or tab, then the house
    number's digit (or "s/n"): so it starts at a word's first letter within the five
    blank-separated pieces before a blank-then-digit (or blank-then-"s/n"). Trying those
    starts in order, each after the last match, finds what ``finditer`` finds
    (tests/test_addresses.py compares them)."""
    starts: list[int] = []
    for digit in _SPACE_DIGIT.finditer(text):
        low = _pieces_back(text, digit.start(), _PIECES_BEFORE_NUMBER)
        starts.extend(m.start() for m in _LETTER_WORD_START.finditer(text, low, digit.start()))
    return matches_from(TYPED_NUMBER_AFTER, text, sorted(set(starts)))


def matches_from(pattern: re.Pattern[str], text: str, starts: list[int]) -> list[re.Match[str]]:
    """``pattern.finditer(text)`` for a pattern whose every match starts at one of ``starts``
    (ascending) and is not empty: each start tried in order, after the last match's end."""
    found: list[re.Match[str]] = []
    after = 0
    for start in starts:
        if start < after:
            continue
        match = pattern.match(text, start)
        if match is not None:
            found.append(match)
            after = match.end()
    return found


# Where a pattern that opens with a house number (US street lines, TYPED_NUMBER_FIRST,
# UNTYPED_NUMBER_FIRST) can match: each opens with ``\b\d`` or a look-behind refusing a
# word character before the digit, so only where a run of digits starts.
_DIGIT_RUN = re.compile(r"\d+")


def digit_run_starts(text: str) -> list[int]:
    return [m.start() for m in _DIGIT_RUN.finditer(text)]


# The name words right before a type word ("Alt Reinickendorf Str. 63").
_WORDS_BEFORE = re.compile(rf"(?:{_WORD}{_SP}){{1,4}}\Z")
# A name joined to its type word by hyphens, German style ("Hannelore-Jockel-Gasse 7").
_JOINED_BEFORE = re.compile(r"(?<![^\W_])(?:[^\W\d_]+-){1,4}\Z")
# House number first, then the type word and the name: "12 rue de la Paix", "5 avenue
# Foch", "95 Avenue des Tuileries Lovrić Street"; French style puts a comma after the
# number: "384, rue Victor Hugo".
TYPED_NUMBER_FIRST = re.compile(
    rf"(?<![\w.,:/#$-]){_HN},?{_SP}(?P<type>{_TYPE_SEPARATE}|{_COMPOUND})\.?"
    rf"(?:{_SP}{_WORD}){{1,6}}"
)
# No type word: a name and a house number ("Koidu 31", "12 Drangahrauni 3"); kept only with
# a unit or block after it, or an address phrase before it. Found from the house number
# back (the words before it are checked in Python); a number before them is added by
# growing back.
UNTYPED_NUMBER = re.compile(rf"(?<=[^\W\d_.])[ \t]+({_HN})(?![\w-]|[.,:]\d)")
# No type word, no number after the name, the rest of the line: "30 N. Stadion", "262
# Pavlou Drandaki"; kept only with a unit or block after it.
UNTYPED_NUMBER_FIRST = re.compile(
    rf"(?<![\w.,:/#$-]){_HN}{_SP}(?P<name>{_WORD}(?:{_SP}{_WORD}){{0,4}})[ \t]*$", re.MULTILINE
)
ON_STREET = re.compile(
    rf"\b(?:on|at|in|along|off)\s+((?:[A-Z][^\W\d_]+{_SP}){{1,3}}"
    rf"(?:Street|Avenue|Road|Boulevard|Lane))\b"
)
_US_ANCHORS = [
    re.compile(TITLE_CASE_ADDRESS, re.DOTALL | re.MULTILINE),
    re.compile(STRONG_ANY_CASE_ADDRESS, re.DOTALL | re.MULTILINE),
]
_PO_BOX = re.compile(PO_BOX)
_MILITARY_POST = re.compile(MILITARY_POST)
# A line break and what quotes or lists put before a line ("> ", "• ", "??? " where a
# bullet lost its encoding).
_LINE_BREAK = r"[ \t]*\n(?:[ \t]*(?:>|\?{1,3}|[•*|·]))*[ \t]*"
# A home's flat or studio, then its street with no number, UK style: "Flat 8, Shaun
# Ranch", "Studio 52h\nLaw Stream" (the house is the flat's number).
UNIT_THEN_STREET = re.compile(
    rf"(?<![^\W_])(?i:flat|apartment|apt|studio)\.?[ \t]*\d{{1,5}}[A-Za-z]?"
    rf"(?:[ \t]*,[ \t]*|{_LINE_BREAK})(?:[A-Z][^\W\d_]*(?:['’-][^\W\d_]+)*[ \t]+){{1,3}}"
    rf"{_ENGLISH}"
)
_UNIT_NEXT = re.compile(rf"(?:[ \t]*,[ \t]*|[ \t]+|{_LINE_BREAK})({UNIT})")
_UNIT_BEFORE = re.compile(rf"({UNIT})[ \t]*,?[ \t]*\Z")
_NUMBER_BEFORE = re.compile(rf"(?:^|(?<=[\n>:?•*|]|\s))[ \t]*({_HN})[ \t]+\Z")
_COMMA_PART = re.compile(r"[ \t]*,[ \t]*([^,\n]{1,60})")
_NEXT_LINE = re.compile(rf"{_LINE_BREAK}([^\n]{{1,80}}?)[ \t]*(?=\n|$)", re.MULTILINE)
_UNIT_AT_END = re.compile(rf"{UNIT}\Z")
_HN_AT_END = re.compile(rf"(?<![\w.,-]){_HN}{_SP}\Z")
# Units that only homes have: what confirms a name and a number ("Sprint 12, floor 3" is
# chat, "Koidu 31 Apt. 5" an address).
_HOME_UNIT = re.compile(r"\b(?i:apt|apartment|appt|suite|ste|flat|unit)\b")
_BLANK_LINE = re.compile(rf"{_LINE_BREAK}(?=\n)")
_REST_OF_LINE = re.compile(r"[ \t]+([^\n,]{1,60})")
_TRAILING_WORDS = re.compile(rf"{_SP}((?:{_WORD}{_SP}){{0,3}}{_ENGLISH})\.?")
_POSTCODE_FULL = re.compile(rf"{POSTCODE}")
# A state or province code that ends an address so far, then a postcode on its line (not
# a year).
_STATE_AT_END = re.compile(r"(?<![\w-])[A-Z]{2}\Z")
_POSTCODE_AFTER = re.compile(rf"[ \t]+((?!(?:19|20)\d\d(?![\w-])){POSTCODE})(?![\w-])")
_STATE = re.compile(r"[A-Z]{2}|nan")


def _is_name_word(word: str, any_case: bool) -> bool:
    bare = word.rstrip(".")
    if not bare:
        return False
    if bare.lower() in NOT_TOWN_WORDS:
        return False
    if bare.lower() in NAME_PARTICLES:
        return True
    return bare[0].isalpha() and (any_case or bare[0].isupper() or bare == "nan")


def _unbracket(token: str) -> str:
    """A province in brackets after its town: "(NA)" of "Napoli (NA)"."""
    return token[1:-1] if len(token) > 2 and token[0] == "(" and token[-1] == ")" else token


def place_prefix(part: str, any_case: bool) -> int:
    """Length of the longest start of ``part`` that is town, state, country and postcode:
    name words ("Horka nad Moravou", "People's Republic of China") and codes ("IL 62704",
    ", SH", "05775", "Mali 44998"); 0 when it holds no name or code. Particles do not end
    it ("Fiji 34730 last night": "Fiji 34730")."""
    tokens = [(m.group(), m.end()) for m in re.finditer(r"[^\s,]+", part)]
    if not tokens:
        return 0
    end = 0
    bare = [_unbracket(token.rstrip(".?!;:")) or token for token, _ in tokens]
    for i, (token, token_end) in enumerate(tokens):
        word = bare[i]
        pair_next = i + 1 < len(tokens) and _POSTCODE_FULL.fullmatch(f"{word} {bare[i + 1]}")
        pair_prev = i > 0 and _POSTCODE_FULL.fullmatch(f"{bare[i - 1]} {word}")
        is_code = bool(
            _POSTCODE_FULL.fullmatch(word) or pair_next or pair_prev or _STATE.fullmatch(word)
        )
        if not is_code and not _is_name_word(word, any_case):
            break
        if is_code or word.lower() not in NAME_PARTICLES:
            end = token_end
        if token[-1] in "?!;:" or (token[-1] == "." and len(word) > 2):
            break  # the sentence ends here: "København K SJ. Please call me", "Japan 26218."
    return end


def place_part(part: str, any_case: bool) -> bool:
    """Whether all of a comma part or a block's line is town, state, country, postcode."""
    return bool(part.strip()) and place_prefix(part, any_case) >= len(part.rstrip())


# A postcode or state code; a year is neither ("April 21, 2014").
_CODE = re.compile(rf"(?<![\w-])(?!(?:19|20)\d\d(?![\w-]))(?:{POSTCODE}|[A-Z]{{2}}|nan)(?![\w-])")


def _has_code(part: str, any_case: bool) -> bool:
    """Whether a part holds a postcode or a state code ("IL", "nan"; "tv" in lower case)."""
    return bool(_CODE.search(part) or (any_case and _CODE.search(part.upper())))


def _name_start(text: str, start: int, end: int, lower_type: bool) -> int:
    """Where the street name before a type word starts: the name words right before it
    ("I live at Hauptstraße 5": "Hauptstraße"; "Alt Reinickendorf Str. 63", "Dirk de
    Derdelaan 149": all; before a lower-case type word only the one word before it,
    "frankfurter allee 73")."""
    words = list(re.finditer(_WORD, text[start:end]))
    name_start = end
    for word in reversed(words):
        value = word.group()
        if value.rstrip(".").lower() in NAME_PARTICLES:
            continue  # only kept with a capitalised word before it
        if not _is_name_word(value, any_case=True):
            break
        if not value[0].isupper():
            if name_start == end and lower_type:
                name_start = start + word.start()
            break
        name_start = start + word.start()
    return name_start


def _untyped_name_start(text: str, start: int, end: int, any_case: bool) -> int:
    """Where a street name with no type word starts: up to four name words right before
    its number, capitalised unless ``any_case`` ("Koidu 31", "Alt Reinickendorf 63")."""
    name_start = end
    for word in reversed(list(re.finditer(_WORD, text[start:end]))):
        value = word.group()
        if value.rstrip(".").lower() in NAME_PARTICLES:
            if name_start == end:
                break  # no street name ends in "the", "de" ("During the 1990s")
            continue  # only kept with a name word before it
        if not _is_name_word(value, any_case):
            break
        name_start = start + word.start()
    return name_start


def _name_ok(value: str, any_case: bool) -> bool:
    """The words of an untyped street name: names, not sentence words."""
    words = [w for w in re.findall(_WORD, value)]
    return bool(words) and all(_is_name_word(w, any_case) for w in words)


class InternationalAddressRecognizer(GroupRegexRecognizer):
    """European, UK, multi-line and PO box addresses, one span each (module doc)."""

    ENTITY = "STREET_ADDRESS"
    # Apart from StreetAddressRecognizer's 0.6 and 0.4: Presidio's duplicate removal keeps
    # one of two equal findings through a set, so a tie would credit a different recognizer
    # from run to run (the shards stay the same; the report's counts would not). Above
    # 0.6, so a whole address block wins over the US street line inside it.
    SCORE = 0.61
    POSTCODE_SCORE = 0.51
    MAX_LINES = 5

    RULES: ClassVar[list[tuple[str, str, float]]] = []

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if not _MAY_HOLD_ADDRESS.search(text):
            return []
        spans: list[tuple[int, int, float]] = []
        folded = text.lower()
        lower_case = text == folded
        for start, end, confirmed in self._anchors(text, folded, lower_case):
            grown_end, parts = self._grow(text, start, end, lower_case)
            if not confirmed and not (
                parts
                and (
                    "\n" in text[end:grown_end]
                    or _HOME_UNIT.search(text, end, grown_end)
                    or _CODE.search(text, end, grown_end)
                )
            ):
                continue  # a name and a number need a unit, a block line or a code
            start = self._grow_back(text, start)
            spans.append((start, trim_end(text, start, grown_end), self.SCORE))
        for match in POSTCODE_NAMED.finditer(text):
            spans.append((match.start(1), match.end(1), self.SCORE))
        for postcode in (UK_POSTCODE, EIRCODE):
            for match in postcode.finditer(text):
                spans.append((match.start(), match.end(), self.POSTCODE_SCORE))
        return [
            RecognizerResult(self.ENTITY, start, end, score)
            for start, end, score in _merge(spans)
            if end > start
        ]

    def _anchors(self, text: str, folded: str, lower_case: bool) -> list[tuple[int, int, bool]]:
        """(start, end, confirmed) of each anchor: confirmed ones need no growth. ``folded``:
        the text in lower case."""
        found: list[tuple[int, int, bool]] = []
        for match in typed_number_after(text):
            start = match.start()
            joined = _JOINED_BEFORE.search(text, max(0, start - 80), start)
            if joined and all(part[0].isupper() for part in joined.group().split("-") if part):
                start = joined.start()  # "Karl-Heinz-Wernecke-Weg 28": one hyphenated name
            elif match.group("separate") in TYPE_WORDS_JOINED_ONLY:
                continue
            before = _WORDS_BEFORE.search(text, max(0, start - 80), start)
            if before:
                start = _name_start(text, before.start(), start, text[start].islower())
            if match.group("separate") and not match.group("words") and start == match.start():
                continue  # a type word and a number, no name: "Passage 4", "Via 2"
            checked = match.group("checked")
            if checked and (not checked[0].isupper() or lexicon().is_common(fold(checked))):
                continue  # "Offering 3 options", not "Häringring 1"
            compound = match.group("compound")
            short = match.group("short")  # a stem of one or two letters: capitalised only
            if compound and (
                lexicon().is_common(fold(compound)) or (short and not short[0].isupper())
            ):
                continue  # "Brigade 5", "ågatan 3"; not "Hauptstraße 5", "Nygatan 12"
            if match.group("comma") and _LOWER_WORD_NEXT.match(text, match.end()):
                intro = text[max(0, start - 60) : start]
                if not any(p.search(intro) for p in (ADDRESS_INTRO, ADDRESS_NAMED, _MEET_AT)):
                    continue
            found.append((start, match.end(), True))
        numbers = digit_run_starts(text)
        for match in matches_from(TYPED_NUMBER_FIRST, text, numbers):
            end = match.end()
            capitalised = False  # a capitalised name word after the type
            for word in re.finditer(_WORD, text[match.end("type") : end]):
                if not _is_name_word(word.group(), any_case=match.group().islower()):
                    end = match.end("type") + word.start()
                    break
                capitalised = capitalised or word.group()[0].isupper()
            if "," in text[match.start() : match.start("type")] and not capitalised:
                continue  # "384, rue Victor Hugo", not "we need 2, avenue tickets"
            found.append((match.start(), end, True))
        for pattern in _US_ANCHORS:
            matches = matches_from(pattern, text, numbers)
            found.extend((m.start(), m.end(), True) for m in matches)
        for pattern in (_PO_BOX, _MILITARY_POST):
            found.extend((m.start(), m.end(), True) for m in pattern.finditer(text))
        # each of its unit words holds one of these: a quick gate
        if any(word in folded for word in ("flat", "apt", "apartment", "studio")):
            for match in UNIT_THEN_STREET.finditer(text):
                found.append((match.start(), match.end(), True))
        for match in ON_STREET.finditer(text):
            found.append((match.start(1), match.end(1), True))
        for match in UNTYPED_NUMBER.finditer(text):
            words = _WORDS_BEFORE.search(text, max(0, match.start() - 80), match.start() + 1)
            if not words:
                continue
            before = text[max(0, words.start() - 60) : words.start()]
            before = _HN_AT_END.sub("", before)  # "lives at 18 Třebčínská 860"
            introduced = bool(ADDRESS_INTRO.search(before) or ADDRESS_NAMED.search(before))
            any_case = introduced or lower_case
            start = _untyped_name_start(text, words.start(), match.start(), any_case)
            if start < match.start():
                found.append((start, match.end(), introduced))
        for match in matches_from(UNTYPED_NUMBER_FIRST, text, numbers):
            if _name_ok(match.group("name"), any_case=lower_case):
                found.append((match.start(), match.end(), False))
        return found

    def _grow(self, text: str, start: int, end: int, any_case: bool) -> tuple[int, int]:
        """The end of the address that starts with the anchor ``start:end``, and how many
        parts (unit, comma part, line) it grew by. ``any_case``: the text is in lower case,
        so town words may be too."""
        parts = 0
        lines = 0
        blank_lines = 0
        after_unit = bool(_UNIT_AT_END.search(text, start, end))  # "500 N Main St Apt 4"
        while True:
            if after_unit:
                # Town words after a unit, on its line: "Suite 499 TOURNEFEUILLE Colombia".
                after_unit = False
                rest = _REST_OF_LINE.match(text, end)
                if rest and place_prefix(rest.group(1), any_case):
                    end, parts = rest.start(1) + place_prefix(rest.group(1), any_case), parts + 1
                    continue
            trailing = _TRAILING_WORDS.match(text, end)
            if trailing and parts == 0 and _name_ok(trailing.group(1), any_case=False):
                end = trailing.end(1)  # "Edeby 55 Møller Street"
                continue
            unit = _UNIT_NEXT.match(text, end)
            if unit:
                lines += "\n" in text[end : unit.start(1)]
                end, parts, after_unit = unit.end(1), parts + 1, True
                continue
            code = _STATE_AT_END.search(text, start, end) and _POSTCODE_AFTER.match(text, end)
            if code:  # "..., Davidmouth, NU V9X 3P1": a postcode after the province code
                end, parts = code.end(1), parts + 1
                continue
            comma = _COMMA_PART.match(text, end)
            if comma and place_prefix(comma.group(1), any_case):
                end, parts = comma.start(1) + place_prefix(comma.group(1), any_case), parts + 1
                if end < comma.end(1):
                    return end, parts  # the sentence goes on after the town
                continue
            if lines >= self.MAX_LINES:
                return end, parts
            next_start = end
            blank = _BLANK_LINE.match(text, end)
            if blank and parts and not blank_lines:
                next_start, blank_lines = blank.end(), 1  # one blank line inside a block
            line = _NEXT_LINE.match(text, next_start)
            if line is None:
                return end, parts
            value = line.group(1)
            prefix = place_prefix(value, any_case)
            if not prefix:
                return end, parts
            if prefix >= len(value.rstrip()) and (
                parts
                or _has_code(value, any_case)
                or self._block_has_code(text, line.end(1), lines, any_case)
            ):
                end, parts, lines = line.end(1), parts + 1, lines + 1
                continue
            if parts >= 2 or (parts and _has_code(value[:prefix], any_case)):
                # The block's last line, the sentence going on after it: "Japan 26218.
                # Please call", "Ukraine 34758 for this card"; without a postcode only
                # after a unit or town line ("... Apt. 983\n Himmiste\n Thailand for").
                return line.start(1) + prefix, parts + 1
            return end, parts

    def _block_has_code(self, text: str, pos: int, lines: int, any_case: bool) -> bool:
        """Whether one of the next lines of a block holds a postcode or state code, so a
        town line without one ("Fahrdorf" before ", SH" and "05775") belongs to it."""
        for _ in range(self.MAX_LINES - lines - 1):
            line = _NEXT_LINE.match(text, pos)
            if not line or not place_part(line.group(1), any_case):
                return False
            if _has_code(line.group(1), any_case):
                return True
            pos = line.end(1)
        return False

    @staticmethod
    def _grow_back(text: str, start: int) -> int:
        """A flat part ("Flat 3, ") or a lone house number ("36 ") right before."""
        before = text[max(0, start - 30) : start]
        unit = _UNIT_BEFORE.search(before)
        if unit:
            return start - len(before) + unit.start(1)
        number = _NUMBER_BEFORE.search(before)
        if number:
            return start - len(before) + number.start(1)
        return start


def _merge(spans: list[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    """Overlapping spans as one, with the highest score."""
    merged: list[tuple[int, int, float]] = []
    for start, end, score in sorted(spans):
        if merged and start < merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), max(last[2], score))
        else:
            merged.append((start, end, score))
    return merged
