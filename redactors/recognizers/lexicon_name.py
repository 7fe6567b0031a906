"""Person names found from the words themselves: multi-locale first and last names, titles.

spaCy's small and medium English models miss many names in chat and posts, above all
non-English ones ("Aoife Castellanos" comes out ORG, "Bohuslav" nothing), single first names
("Noah shouted at Seth"), and names in lower case ("samantha"). This recognizer needs no
model; its findings are PERSON:

- a title and the name after it: "Dr. Peter Garcia", "mr. chad farmer", "Ms. Bragadóttir"
  (0.8); after a capitalised stage-name prefix, capitalised everyday words too ("DJ
  Snake", "Lil Bit"), but not frequent sentence openers ("DJ Snake Now");
- a capitalised first name that is no everyday word, with the capitalised name parts,
  initials and particles after it: "Aoife Nathan", "Jessica van den Oord", "Hélène"
  (0.8 with a second part, 0.6 alone);
- an everyday-word first name ("Will", "Rose", "Jordan") only with a second capitalised part
  that is no everyday word: "Will Rogers", not "Will Do" (0.7);
- in lower case, a first name of at least four letters that is no everyday word
  ("samantha", "larry lombardo") (0.55 alone, 0.65 with a surname);
- a lower-case word no list knows, after a strong cue: introduced ("my name is zelvina",
  "call me trosk"), addressed and then punctuation ("hey trosk !", "thank you zelvina,"),
  or paired with a name found here ("emma and kaylix") (0.56);
- at the end of a post, who said a quote: "~ Zelvina Orr #quotes", "… right." - Tazmirra"
  (one to three capitalised words, not all everyday words) (0.57);
- a hashtag that spells a name in camel case ("#DonaldSterling", "#TeamPhil", or two or
  three parts that are no everyday words, one a surname: "#ZelphaMorrison") or opens
  with a first name in lower case ("#jamesyboy") (0.6).

Words inside handles, emails, URLs and file names are left to their own recognizers.
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import NamedTuple

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from redactors.recognizers.finding import finding
from redactors.recognizers.group_regex import TextOnlyRecognizer
from redactors.recognizers.name_lexicon import (
    PARTICLES,
    STAGE_PREFIXES,
    SUFFIXES,
    TITLES,
    WORD,
    NameLexicon,
    fold,
    is_capitalised,
    lexicon,
)

_TRIPLE = re.compile(r"(.)\1\1")
_HASHTAG = re.compile(r"(?<![\w#])#([A-Za-z][A-Za-z0-9]{3,})")
_CAMEL_PART = re.compile(r"[A-Z]{2,}(?![a-z])|[A-Z][a-z]+|[a-z]+|\d+")
# A word glued to these is part of a handle, address, path or identifier, not prose.
_GLUE_BEFORE = frozenset("@#/_.:=")
_GLUE_AFTER = frozenset("@/_=")
_MAX_PARTS = 5


class _Word(NamedTuple):
    start: int
    end: int
    text: str
    folded: str


class LexiconNameRecognizer(TextOnlyRecognizer):
    ENTITY = "PERSON"
    # Scores differ from every other PERSON recognizer's (spaCy 0.85, NerNameRecognizer
    # 0.85, ChatAddressRecognizer 0.5, DirectoryNameRecognizer 0.99): Presidio's duplicate
    # removal keeps one of two equal findings through a set, so a tie would credit a
    # different recognizer from run to run.
    TITLE_SCORE = 0.8
    FULL_NAME_SCORE = 0.8
    AMBIGUOUS_FULL_NAME_SCORE = 0.7
    FIRST_NAME_SCORE = 0.6
    LOWER_FULL_NAME_SCORE = 0.65
    LOWER_FIRST_NAME_SCORE = 0.55
    HASHTAG_SCORE = 0.6
    SURNAME_SCORE = 0.55
    CUED_LOWER_SCORE = 0.56
    ATTRIBUTION_SCORE = 0.57
    VOCATIVE_SCORE = 0.59
    MIN_LOWER_CHARS = 4

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entities=[self.ENTITY],
            name="LexiconNameRecognizer",
            supported_language=supported_language,
        )
        self.lexicon: NameLexicon = lexicon()

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        words = _words(text)
        results: list[RecognizerResult] = []
        first = self.lexicon.first
        i = 0
        while i < len(words):
            word = words[i]
            # Most words: lower case, no title, no first name; _name_at finds nothing there.
            if word.text.islower() and word.folded not in first and word.folded not in TITLES:
                i += 1
                continue
            found = self._name_at(text, words, i) if self._free(text, word) else None
            if found is None:
                i += 1
                continue
            last, score = found
            results.append(self._result(words[i].start, words[last].end, score, "lexicon"))
            i = last + 1
        results += self._list_mates(text, words, results)
        results += self._hashtags(text)
        results += self._cued_lower(text, words, results)
        results += self._attribution(text)
        results += self._vocatives(text, words, results)
        return results

    def _vocatives(
        self, text: str, words: list[_Word], found: list[RecognizerResult]
    ) -> list[RecognizerResult]:
        """A first name the writer turns to at the end of a sentence, after a comma: "where
        are my keys, Summer?", "thanks for the help, Will!". Everyday-word names count there
        ("Summer", "Will"); after a capitalised word they do not ("Atlanta, Georgia.")."""
        if "," not in text:
            return []
        lex = self.lexicon
        taken = {f.start for f in found}
        vocatives = []
        for before, word in pairwise(words):
            if (
                word.start not in taken
                and word.folded in lex.first
                and is_capitalised(word.text)
                and not word.text.isupper()
                and not before.text[0].isupper()
                and _COMMA_GAP.fullmatch(text, before.end, word.start)
                and _ENDS_SENTENCE.match(text, word.end)
                and not lex.is_place(word.folded)
            ):
                vocatives.append(
                    self._result(word.start, word.end, self.VOCATIVE_SCORE, "vocative")
                )
        return vocatives

    def _attribution(self, text: str) -> list[RecognizerResult]:
        """Who said a quote, at the end of a post: "... worrying. ~ Zelvina Orr #quotes",
        "... right." - Tazmirra" (after "-" only when a sentence or quote ends before it)."""
        match = None
        for mark in _ATTRIBUTION_MARKS:
            at = text.rfind(mark)
            if at >= 0 and (match := _ATTRIBUTION.match(text, at)) is not None:
                break
        if match is None:
            return []
        name = match.group(2)
        lex = self.lexicon
        if all(
            lex.is_common(folded) or folded in lex.sentence_starts or folded in _NO_AUTHOR
            for folded in map(fold, WORD.findall(name))
        ):
            return []
        return [self._result(match.start(2), match.end(2), self.ATTRIBUTION_SCORE, "attribution")]

    def _cued_lower(
        self, text: str, words: list[_Word], found: list[RecognizerResult]
    ) -> list[RecognizerResult]:
        """Lower-case words no list knows, where a strong cue makes them a name: "my name
        is zelvina", "hey trosk !", "emma and kaylix" (a known name on the other side)."""
        spans: list[tuple[int, int]] = []
        lowered = text.lower()
        if "name" in lowered or "call" in lowered:
            spans += [m.span(1) for m in _INTRODUCED.finditer(text)]
        for i, word in enumerate(words[:-1]):
            if word.folded not in _ADDRESS_CUES:
                continue
            # "you" only in "thank you", "love you", "miss you"
            if word.folded == "you" and (i == 0 or words[i - 1].folded not in _BEFORE_YOU):
                continue
            nxt = words[i + 1]
            if (
                nxt.text.islower()
                and text[word.end : nxt.start] == " "
                and _ENDS_ADDRESS.match(text, nxt.end)
            ):
                spans.append((nxt.start, nxt.end))
        starts = {f.start for f in found if text[f.start : f.start + 1].islower()}
        if starts:
            for i in range(len(words) - 2):
                a, conj, b = words[i], words[i + 1], words[i + 2]
                if conj.text not in _AND or not _pair_gap(text, a, conj, b):
                    continue
                for known, other in ((a, b), (b, a)):
                    if known.start in starts and other.text.islower():
                        spans.append((other.start, other.end))
        if not spans:
            return []
        taken = {i for f in found for i in range(f.start, f.end)}
        return [
            self._result(start, end, self.CUED_LOWER_SCORE, "cued")
            for start, end in dict.fromkeys(spans)
            if start not in taken and self._unknown_lower(text[start:end])
        ]

    def _unknown_lower(self, word: str) -> bool:
        """A lower-case word of letters that is no everyday word, opener or place."""
        lex, folded = self.lexicon, fold(word)
        return (
            len(word) >= 3
            and word.isalpha()
            and word.islower()
            and not _TRIPLE.search(word)  # "xxxxx", "sooo"
            and not lex.is_word(folded)
            and folded not in lex.sentence_starts
            and not lex.is_place(folded)
        )

    def _list_mates(
        self, text: str, words: list[_Word], found: list[RecognizerResult]
    ) -> list[RecognizerResult]:
        """Single words listed with names ("Ann, Kyle, Dawn and Seth", "smit, zhang and
        edwards"): when two or more items of a list are names, all are but everyday words;
        a capitalised first name counts even when it is one too ("Will, Ty and Mark")."""
        lex = self.lexicon
        starts = {f.start for f in found}
        mates: list[RecognizerResult] = []
        for items in _lists(text, words):
            named = [
                w for w in items
                if w.start in starts or (lex.is_name(w.folded) and not lex.is_word(w.folded))
            ]
            if len(named) >= 2:
                mates += [
                    self._result(w.start, w.end, self.FIRST_NAME_SCORE, "list")
                    for w in items
                    if w.start not in starts
                    and (
                        not lex.is_common(w.folded)
                        or (is_capitalised(w.text) and w.folded in lex.first)
                    )
                ]
        return mates

    def _result(self, start: int, end: int, score: float, rule: str) -> RecognizerResult:
        return finding(self, self.ENTITY, start, end, score, rule=rule)

    @staticmethod
    def _free(text: str, word: _Word) -> bool:
        """Not glued to a handle, email, URL, path or identifier."""
        before = text[word.start - 1] if word.start else " "
        after = text[word.end] if word.end < len(text) else " "
        if before in _GLUE_BEFORE or before.isdigit() or after in _GLUE_AFTER or after.isdigit():
            return False
        # "maria.lopez" / "maria.lopez@": a dot with a letter after it glues too
        return not (after == "." and word.end + 1 < len(text) and text[word.end + 1].isalnum())

    def _name_at(self, text: str, words: list[_Word], i: int) -> tuple[int, float] | None:
        """(index of the name's last word, score) for a name starting at ``words[i]``."""
        lex = self.lexicon
        word = words[i]
        if word.folded in TITLES:
            stage = word.folded in STAGE_PREFIXES and word.text[0].isupper()
            last = self._parts_after(text, words, i, lower_ok=word.text.islower(), stage=stage)
            return (last, self.TITLE_SCORE) if last > i else None
        if is_capitalised(word.text):
            return self._capitalised_name_at(text, words, i)
        if (
            word.text.islower()
            and len(word.text) >= self.MIN_LOWER_CHARS
            and lex.is_clear_first(word.folded)
            and word.folded not in lex.sentence_starts
        ):
            nxt = i + 1
            if (
                nxt < len(words)
                and _joined(text, words[i], words[nxt])
                and words[nxt].text.islower()
                and self._lower_surname(words[nxt])
            ):
                return nxt, self.LOWER_FULL_NAME_SCORE
            return i, self.LOWER_FIRST_NAME_SCORE
        return None

    def _capitalised_name_at(
        self, text: str, words: list[_Word], i: int
    ) -> tuple[int, float] | None:
        lex = self.lexicon
        word = words[i]
        last = self._parts_after(text, words, i, lower_ok=False)
        if lex.is_clear_first(word.folded):
            if last > i:
                return last, self.FULL_NAME_SCORE
            # "Central Park", "Jackson Hole": one first-name-like word right after another
            # capitalised word inside a sentence is part of a place or thing
            return None if self._after_proper_word(text, words, i) else (i, self.FIRST_NAME_SCORE)
        if last > i and self._clear_part(words[i + 1]):
            if lex.is_first(word.folded):  # "Will Rogers", not "Will Do"
                return last, self.AMBIGUOUS_FULL_NAME_SCORE
            if (
                not lex.is_word(word.folded)
                and not lex.is_place(word.folded)
                and lex.is_last(words[last].folded)
            ):
                return last, self.AMBIGUOUS_FULL_NAME_SCORE  # "Manmohan Singh"
        if (
            last == i
            and lex.is_last(word.folded)
            and not lex.is_word(word.folded)
            and not lex.is_place(word.folded)
            and not self._after_proper_word(text, words, i)
            and not _opens_sentence(text, word.start)
        ):
            return i, self.SURNAME_SCORE  # "ask Garcia", "founders: Turgeon, Guerra"
        return None

    def _after_proper_word(self, text: str, words: list[_Word], i: int) -> bool:
        if i == 0 or not _joined(text, words[i - 1], words[i]):
            return False
        left = words[i - 1]
        if left.text.isupper() and words[i].text.isupper():
            return False  # shouted ("WAS THAT ELEKTRA"): the capitals are the writer's tone
        return (
            self._free(text, left)  # not a handle's last part ("@Harry_Styles HARRY")
            and is_capitalised(left.text)
            and left.text != "I"
            and not self.lexicon.is_name(left.folded)
            and left.folded not in TITLES
            and not _opens_sentence(text, left.start)
        )

    def _lower_surname(self, word: _Word) -> bool:
        """After a lower-case first name: a last name, or a word that is no English word
        at all ("tina roelink", "heather pustivšek")."""
        lex = self.lexicon
        if lex.is_word(word.folded) or word.folded in lex.sentence_starts:
            return False
        return lex.is_last(word.folded) or (len(word.folded) >= 3 and self._free_word(word))

    @staticmethod
    def _free_word(word: _Word) -> bool:
        return word.text.isalpha()

    def _clear_part(self, word: _Word) -> bool:
        return is_capitalised(word.text) and not self.lexicon.is_word(word.folded)

    def _parts_after(
        self, text: str, words: list[_Word], i: int, lower_ok: bool, stage: bool = False
    ) -> int:
        """Index of the last name part after ``words[i]``: capitalised words that are names
        or no everyday word, initials ("J."), particles before a capitalised part, a suffix
        ("Jr."); with ``lower_ok`` also lower-case names ("mr. chad farmer"); with
        ``stage`` (after "DJ", "Lil") also capitalised everyday words that are no frequent
        opener ("DJ Snake")."""
        lex = self.lexicon
        last = i
        j = i + 1
        while j < len(words) and j - i <= _MAX_PARTS and _joined(text, words[j - 1], words[j]):
            word = words[j]
            if word.folded in SUFFIXES and last > i:
                return j
            if word.folded in TITLES or not self._free(text, word):
                break
            if word.folded in PARTICLES and word.text.islower():
                # "van den Oord", "da Silva": particles count only before a capitalised part
                k = j
                while k < len(words) and words[k].folded in PARTICLES and words[k].text.islower():
                    k += 1
                if k < len(words) and k - j <= 2 and is_capitalised(words[k].text):
                    j = k
                    continue
                break
            if len(word.text) == 1 and word.text.isupper():  # an initial
                last = j
            elif is_capitalised(word.text):
                if (
                    lex.is_word(word.folded)
                    and not lex.is_name(word.folded)
                    and not (stage and self._stage_part(word))
                ):
                    break
                last = j
            elif lower_ok and lex.is_name(word.folded) and not lex.is_common(word.folded):
                last = j
            else:
                break
            j += 1
        return last

    def _stage_part(self, word: _Word) -> bool:
        """An everyday word that may follow a stage-name prefix: no frequent opener, not in
        capitals ("DJ Snake", not "DJ Snake Now", "DJ SET")."""
        return word.folded not in self.lexicon.sentence_starts and not word.text.isupper()

    def _hashtags(self, text: str) -> list[RecognizerResult]:
        results = []
        for match in _HASHTAG.finditer(text):
            body = match.group(1)
            if body.islower() and self._starts_with_first_name(body):
                results.append(
                    self._result(match.start(), match.end(), self.HASHTAG_SCORE, "hashtag")
                )
                continue
            parts = _CAMEL_PART.findall(body)
            if len(parts) < 2 and len(match.group(1)) < 5:
                continue
            if any(
                part[0].isupper() and part[1:].islower() and self.lexicon.is_clear_first(fold(part))
                for part in parts
            ) or self._camel_full_name(parts):
                results.append(
                    self._result(match.start(), match.end(), self.HASHTAG_SCORE, "hashtag")
                )
        return results

    def _camel_full_name(self, parts: list[str]) -> bool:
        """Two or three capitalised parts, none an everyday word, one a surname:
        "#ZelphaMorrison", "#BarackObama"; not "#BlackLivesMatter"."""
        lex = self.lexicon
        return (
            2 <= len(parts) <= 3
            and all(p[0].isupper() and p[1:].islower() and len(p) >= 3 for p in parts)
            and not any(lex.is_word(fold(p)) or lex.is_place(fold(p)) for p in parts)
            and any(lex.is_last(fold(p)) for p in parts)
        )

    def _starts_with_first_name(self, body: str) -> bool:
        """A lower-case hashtag that opens with a first name of 4+ letters and goes on
        ("#jamesyboy", "#tonymemmel"); not a word itself ("#marketing")."""
        lex = self.lexicon
        if lex.is_common(body) or lex.is_word(body) or not body.isalpha():
            return False
        return any(
            lex.is_clear_first(body[:cut]) for cut in range(4, len(body) - 2)
        )


_POSSESSIVES = frozenset({"'s", "’s", "'S"})


def _words(text: str) -> list[_Word]:
    """The text's words, each without a possessive "'s" ("Kenneth's" is the name
    "Kenneth")."""
    words = []
    for match in WORD.finditer(text):
        word, start = match.group(), match.start()
        if len(word) > 3 and word[-2:] in _POSSESSIVES:
            word = word[:-2]
        words.append(_Word(start, start + len(word), word, fold(word)))
    return words


def _opens_sentence(text: str, start: int) -> bool:
    before = text[:start].rstrip()
    return not before or before[-1] in ".!?;\"\n-–—(\u201c" or text[start - 1] == "\n"


# Strong cues for a lower-case name. Introduced: "my name is zelvina", "call me trosk".
_INTRODUCED = re.compile(
    r"\b(?i:my name is|my name's|my names|name's|call me|they call me|i'm called|"
    r"i am called)\s+([a-z][a-z'’-]*)(?![\w@/=.])"
)
# Addressed, then punctuation or the end: "hey trosk !", "thank you zelvina,", "wow trosk".
_ADDRESS_CUES = frozenset("hey hi hello hiya yo thanks you thx ty wow omg congrats bye".split())
_BEFORE_YOU = frozenset({"thank", "love", "miss"})
_ENDS_ADDRESS = re.compile(r"\s*(?:[,!?.:;)]|\Z)")
_AND = frozenset({"and", "&"})
# A comma right after a word (or after a blank, in tokenised text), then one blank.
_COMMA_GAP = re.compile(r" ?, ")
# A sentence's end: "?", "!", "." (not "..." of a trailing-off list), or the text's end.
_ENDS_SENTENCE = re.compile(r" ?(?:[!?]|\.(?!\.))|\s*\Z")
_ATTRIBUTION_MARKS = ("~", "-", "—", "―")


_NO_AUTHOR = frozenset({"anonymous", "unknown", "anon"})
# A quote's author at the end of a post, before hashtags and links only: "~ Name",
# "― Name", or "- Name" right after a sentence or quote ends.
_ATTRIBUTION = re.compile(
    r"(~|[―—]|(?<=[.!?\"”’'] )-|(?<=[.!?\"”’'])-)\s*"
    r"([A-Z][a-z]+(?:[’'-][A-Za-z]+)?(?: [A-Z][a-z]+(?:[’'-][A-Za-z]+)?){0,2})"
    r"\s*(?:(?:#\w+|https?://\S+)\s*)*\Z"
)


def _pair_gap(text: str, a: _Word, conj: _Word, b: _Word) -> bool:
    """`a and b` with single spaces: "emma and kaylix"."""
    return text[a.end : conj.start] == " " and text[conj.end : b.start] == " "


# Between items of a list of capitalised single words: "A, B, C and D", "A, B & C"; in
# tokenised text a blank before the comma too ("Vin , Dwayne , Ty & Luda").
_LIST_GAP = re.compile(r" ?,\s|,?\s(?:and|or|&)\s")
_CONNECTORS = frozenset({"and", "or"})
# What every list gap holds (a comma, "&", or "and"/"or" between blanks): a list of three
# has two gaps, so a text with fewer of these holds no list.
_GAP_MARK = re.compile(r",|&|(?<=\s)(?:and|or)(?=\s)")


def _may_hold_list(text: str) -> bool:
    marks = _GAP_MARK.finditer(text)
    return next(marks, None) is not None and next(marks, None) is not None


def _lists(text: str, words: list[_Word]) -> list[list[_Word]]:
    """Runs of three or more single words joined by list gaps, all capitalised or all in
    lower case ("Ann, Kyle, Dawn and Seth", "smit, zhang and edwards")."""
    if not _may_hold_list(text):
        return []
    seq = [w for w in words if w.folded not in _CONNECTORS]
    # Whether the gap after each word is a list gap; a list gap is 2 to 6 characters long,
    # so the one-space gaps of prose are settled without the regex.
    linked = [
        2 <= right.start - left.end <= 6
        and _LIST_GAP.fullmatch(text, left.end, right.start) is not None
        for left, right in pairwise(seq)
    ]
    lists: list[list[_Word]] = []
    for shaped in (is_capitalised, str.islower):
        current: list[_Word] = []
        for k, word in enumerate(seq):
            if current and linked[k - 1] and shaped(word.text):
                current.append(word)
                continue
            if len(current) >= 3:
                lists.append(current)
            current = [word] if k < len(linked) and linked[k] and shaped(word.text) else []
        if len(current) >= 3:
            lists.append(current)
    return lists


def _joined(text: str, left: _Word, right: _Word) -> bool:
    """Two words of one name: one space between them, or an initial's or title's dot and a
    space ("J. Smith", "Dr. Ann"); a hyphen or apostrophe is inside WORD already."""
    gap = text[left.end : right.start]
    if gap == " ":
        return True
    # "Dr. Ann", "J. Smith"; " . " in tokenised corpora ("Mr . Schooley")
    return gap in (". ", " . ") and (left.folded in TITLES or len(left.text) == 1)
