"""Public figures by name: the people posts are written about, in any case.

Posts name famous people the way people write, not the way news does: "trump", "lebron",
"bruno mars", "OBAMA", "Kendrick", "#LeBronJames". spaCy's news-trained model misses most
of them in lower case and calls many ORG or nothing; the name lexicons (name_lexicon.py)
know first and last names of ordinary people but not "lebron", "obama", "kendrick" as
names, nor "trump" as anything but a word. This recognizer reads a hand-compiled list
(``data/public_figures.txt``, about 2,150 people with the short forms people use alone;
its header says how it was made) and needs no model. Its findings are PERSON:

- a full name, its words in any case ("bruno mars", "Kevin De Bruyne") (0.78); a full name
  made only of everyday words ("Ice Cube", "The Rock") needs its first word capitalised,
  unless the list marks it with "*" ("young thug");
- an alias alone (surname, first name, nickname, mononym) that is no everyday word, place
  or frequent opener: in any case ("obama", "Kendrick", "DiCaprio", "LEBRON") (0.68);
  three-letter ones only capitalised ("Nas"), capitals-only ones only in capitals ("AOC");
- an alias that is an everyday word ("Curry", "Snoop"): only capitalised inside a
  sentence, not after "a"/"an"/"the" nor beside another capitalised word ("Thai Curry")
  (0.66);
- an everyday-word alias the list marks as the bare name of a very prominent figure
  ("trump*", "modi*"): in any case too, except after a determiner or possessive ("a trump
  card", "your trump card") or a modal or "to" ("would trump", "to trump it") (0.66);
- a hashtag that spells a full name or a non-everyday alias ("#LeBronJames", "#obama")
  (0.68).

Why the rules for everyday words: the list holds surnames such as "Curry", "Green",
"Love", "Trump", and many famous people have everyday words for names. Masking those
wherever they appear would mask dinner orders and card games in chat. A capital inside a
sentence is the writer's mark of a name; at the start of a sentence it is not ("Curry for
lunch?"). For the handful of figures whose bare surname is mostly used for the person in
posts ("trump"), the determiner/modal guard keeps the word's own uses ("a trump card",
"that would trump it") unmasked.

A quick check skips every text that holds no word of the list (one regex and a set
intersection), so the cost on chat without famous names is small. Words glued to handles,
emails, URLs and paths are left to their own recognizers.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from itertools import pairwise

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from redactors.namewords import word_list
from redactors.recognizers.finding import finding
from redactors.recognizers.group_regex import TextOnlyRecognizer
from redactors.recognizers.lexicon_name import _opens_sentence
from redactors.recognizers.name_lexicon import NameLexicon, lexicon

# A word: letters and digits, inner hyphens and apostrophes ("Jay-Z", "O'Neal", "6ix9ine"),
# without a possessive "'s" ("Obama's" is "Obama").
_TOKEN = re.compile(r"[^\W_]+(?:(?:['’](?![sS]\b)|-)[^\W_]+)*")
_HASHTAG = re.compile(r"(?<![\w#])#([^\W_][\w'’-]*[^\W_])")
# Between the words of a full name: a space, or an initial's dot ("J. Cole", "J.K. Rowling").
_NAME_GAP = re.compile(r"\s+|\.\s*")
_GLUE_BEFORE = frozenset("@#/_.:=")
_GLUE_AFTER = frozenset("@/_=")
# Before an everyday word used as a word, not a name: "a trump card", "would trump".
_NOT_BEFORE_NAME = frozenset(
    "a an the my your his her our their its this that these those no any every some "
    "will would can could should shall might may must to".split()
)
_MIN_LOWER_CHARS = 4
_MIN_CHARS = 3


def normal(word: str) -> str:
    """Case-folded, curly apostrophe straight, accents dropped ("Beyoncé" -> "beyonce")."""
    folded = word.replace("’", "'").casefold()
    if folded.isascii():
        return folded
    return "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))


@dataclass(frozen=True)
class Alias:
    prominent: bool  # "*": the bare word names the person even when an everyday word
    capitals_only: bool  # written in capitals in the list ("AOC"): matched only so
    everyday: bool  # "~": an everyday word the word lists know only as a name ("curry")


@dataclass(frozen=True)
class Figures:
    full: dict[str, list[tuple[tuple[str, ...], bool]]]  # first word -> (words, "*"), longest first
    aliases: dict[str, Alias]
    hashtags: frozenset[str]  # full names and aliases without spaces ("lebronjames")
    keys: frozenset[str]  # one word of each name and alias, as written and normalised
    starts: frozenset[str]  # the first word of each name and every alias, normalised


@cache
def figures() -> Figures:
    full: dict[str, list[tuple[tuple[str, ...], bool]]] = {}
    aliases: dict[str, Alias] = {}
    hashtags: set[str] = set()
    keys: set[str] = set()
    for line in word_list("public_figures.txt"):
        name, _, rest = line.partition("|")
        for form in [name, *rest.split(",")]:
            form = form.strip()
            suffix = form[len(form.rstrip("*~")) :]
            prominent, everyday = "*" in suffix, "~" in suffix
            form = form.rstrip("*~").strip()
            words = _TOKEN.findall(form)
            if not words:
                continue
            normalised = tuple(normal(w) for w in words)
            # One word of each form lets a text through the quick check: the full name's
            # least common word ("mars" of "bruno mars", not "the" of "the rock").
            key = min(range(len(words)), key=lambda k: _commonness(normalised[k]))
            keys.update((words[key].casefold(), normalised[key]))
            if len(words) == 1:
                if len(normalised[0]) < _MIN_CHARS and not form.isupper():
                    continue
                known = aliases.get(normalised[0], Alias(False, True, False))
                aliases[normalised[0]] = Alias(
                    prominent or known.prominent,
                    form.isupper() and len(form) <= 5 and known.capitals_only,
                    everyday or known.everyday,
                )
            else:
                full.setdefault(normalised[0], []).append((normalised, prominent))
            hashtags.add("".join(normalised).replace("-", "").replace("'", ""))
    for entries in full.values():
        entries.sort(key=lambda entry: -len(entry[0]))
    starts = frozenset(full) | frozenset(aliases)
    return Figures(full, aliases, frozenset(hashtags), frozenset(keys), starts)


def _commonness(word: str) -> tuple[int, int]:
    """How often a word turns up in other texts: everyday words, then first names, then
    last names, then the rest; longer words first among equals."""
    lex = lexicon()
    if lex.is_word(word) or word in lex.sentence_starts or len(word) < _MIN_CHARS:
        rank = 3
    elif lex.is_first(word):
        rank = 2
    else:
        rank = 1 if lex.is_last(word) else 0
    return rank, -len(word)


class PublicFigureRecognizer(TextOnlyRecognizer):
    ENTITY = "PERSON"
    # Distinct from every other PERSON recognizer's score (see LexiconNameRecognizer).
    FULL_NAME_SCORE = 0.78
    ALIAS_SCORE = 0.68
    EVERYDAY_ALIAS_SCORE = 0.66

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entities=[self.ENTITY],
            name="PublicFigureRecognizer",
            supported_language=supported_language,
        )
        self.figures = figures()
        self.lexicon: NameLexicon = lexicon()

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if self.ENTITY not in entities:
            return []
        results = self._hashtags(text) if "#" in text else []
        if self.figures.keys.isdisjoint(_TOKEN.findall(text.casefold())):
            return results
        words = list(_TOKEN.finditer(text))
        starts = self.figures.starts
        i = 0
        while i < len(words):
            word = words[i].group()
            if word.casefold() not in starts and normal(word) not in starts:
                i += 1
                continue
            found = self._name_at(text, words, i)
            if found is None:
                i += 1
                continue
            last, score = found
            results.append(finding(self, self.ENTITY, words[i].start(), words[last].end(), score))
            i = last + 1
        return results

    def _name_at(self, text: str, words: list[re.Match[str]], i: int) -> tuple[int, float] | None:
        word = words[i]
        key = normal(word.group())
        if not _free_before(text, word.start()):
            return None
        for names, prominent in self.figures.full.get(key, ()):
            last = i + len(names) - 1
            if last < len(words) and self._full_name(text, words, i, names, prominent):
                return last, self.FULL_NAME_SCORE
        alias = self.figures.aliases.get(key)
        if alias is None or not _free_after(text, word.end()):
            return None
        return self._alias(text, words, i, key, alias)

    def _full_name(
        self,
        text: str,
        words: list[re.Match[str]],
        i: int,
        names: tuple[str, ...],
        prominent: bool,
    ) -> bool:
        span = words[i : i + len(names)]
        if [normal(w.group()) for w in span] != list(names):
            return False
        if not all(
            _NAME_GAP.fullmatch(text, left.end(), right.start()) for left, right in pairwise(span)
        ):
            return False
        if not _free_after(text, span[-1].end()):
            return False
        if prominent or not all(self._everyday(n) for n in names):
            return True
        return span[0].group()[0].isupper()

    def _alias(
        self, text: str, words: list[re.Match[str]], i: int, key: str, alias: Alias
    ) -> tuple[int, float] | None:
        raw = words[i].group()
        if alias.capitals_only:
            return (i, self.ALIAS_SCORE) if raw.isupper() else None
        titled = raw[0].isupper() and not raw.isupper()
        if not (alias.everyday or self._everyday(key)):
            if len(key) < _MIN_LOWER_CHARS and not raw[0].isupper():
                return None
            return i, self.ALIAS_SCORE
        before = normal(words[i - 1].group()) if i else ""
        if alias.prominent and titled:  # "a Trump supporter", "Trump said ..."
            return i, self.EVERYDAY_ALIAS_SCORE
        if titled and not _opens_sentence(text, words[i].start()):
            if before in ("a", "an", "the") or self._in_capitalised_run(text, words, i):
                return None
            return i, self.EVERYDAY_ALIAS_SCORE
        if not alias.prominent:
            return None
        if before in _NOT_BEFORE_NAME:
            return None
        return i, self.EVERYDAY_ALIAS_SCORE

    def _in_capitalised_run(self, text: str, words: list[re.Match[str]], i: int) -> bool:
        """A capitalised word right before or after it ("Thai Curry", "Curry House"):
        a title or a thing's name, not a person's alias."""
        for j in (i - 1, i + 1):
            if not 0 <= j < len(words):
                continue
            left, right = (words[j], words[i]) if j < i else (words[i], words[j])
            other = words[j].group()
            if (
                text[left.end() : right.start()] == " "
                and other[0].isupper()
                and other != "I"
                and not (j < i and _opens_sentence(text, words[j].start()) and self._opener(other))
            ):
                return True
        return False

    def _opener(self, word: str) -> bool:
        """A frequent sentence opener ("Love Curry's game"): its capital is the sentence's."""
        return normal(word) in self.lexicon.sentence_starts

    def _everyday(self, key: str) -> bool:
        lex = self.lexicon
        return lex.is_word(key) or key in lex.sentence_starts or lex.is_place(key)

    def _hashtags(self, text: str) -> list[RecognizerResult]:
        results = []
        for match in _HASHTAG.finditer(text):
            body = normal(match.group(1)).replace("-", "").replace("'", "").replace("’", "")
            if body not in self.figures.hashtags:
                continue
            alias = self.figures.aliases.get(body)
            if alias is not None and (
                alias.capitals_only
                or ((alias.everyday or self._everyday(body)) and not alias.prominent)
            ):
                continue
            results.append(finding(self, self.ENTITY, match.start(), match.end(), self.ALIAS_SCORE))
        return results


def _free_before(text: str, start: int) -> bool:
    before = text[start - 1] if start else " "
    return before not in _GLUE_BEFORE and not before.isdigit()


def _free_after(text: str, end: int) -> bool:
    after = text[end] if end < len(text) else " "
    if after in _GLUE_AFTER or after.isdigit():
        return False
    # "obama.gov", "lebron.james@": a dot with a letter after it glues too
    return not (after == "." and end + 1 < len(text) and text[end + 1].isalnum())
