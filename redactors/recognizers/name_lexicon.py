"""What the name recognizers know about words: first and last names of many locales,
names that are also everyday words, titles, particles, and how a word is written.

The lists are built offline by ``redactors/data/build_name_lexicons.py`` from Faker's person
providers (86 locales) and read from the package: nothing is fetched. ``common_words.txt``
(frequent English words that are no names, see namewords.py) marks words that are never
taken for a name on their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from redactors.namewords import word_list

# One word: letters of any script ("Noémie", "Łukasz", "Ðặng"), inner hyphens and
# apostrophes ("García-Márquez", "O'Brien", "D’Angelo").
WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
# Titles and honorifics before a name; the dot after them is optional.
TITLES = frozenset(
    "mr mrs ms miss mx dr prof sir dame madam mme mlle herr frau sr sra srta dott dona don "
    "rev fr capt sgt lt col gen lord".split()
    # stage-name prefixes in posts: "Lil Wayne", "DJ Khaled", "MC Hammer"
    + "lil dj mc".split()
)
# Stage-name prefixes: the capitalised words after them are a name even when everyday
# words ("DJ Snake", "Lil Bit", "MC Hammer").
STAGE_PREFIXES = frozenset("lil dj mc".split())
# After a name: "Jr.", "Sr.", "MD", "PhD", "II".
SUFFIXES = frozenset("jr sr md phd dds esq ii iii iv".split())
# Lower-case parts inside a full name: "Jessica van den Oord", "Paulo da Silva".
PARTICLES = frozenset(
    "van von der den de del della di da dos das du la le bin ibn al el ter ten zu".split()
)


# Chat openers and interjections that the model sometimes calls a person at the start of a
# message ("Congrats" -> a surrogate name), and that no name list holds.
CHAT_WORDS = frozenset(
    "congrats congratulations lol lmao omg omw thx ty tysm pls plz hey hi hiya yay ugh btw "
    "fyi imo imho tbh np gg brb idk haha hahaha hehe ok okay yo sup cheers kudos bruh "
    "nvm smh afaik asap eod eta wfh ooo lgtm ptal ping dm pm cc fwd re here "
    "wtf wth lmfao rofl ikr".split()
)


@dataclass(frozen=True)
class NameLexicon:
    first: frozenset[str]
    last: frozenset[str]
    name_words: frozenset[str]  # names that are also everyday words ("will", "rose")
    places: frozenset[str]  # names the model takes for famous places ("london", "singh")
    common: frozenset[str]  # frequent English words that are no names
    sentence_starts: frozenset[str]  # frequent openers that are no names when capitalised

    def is_first(self, folded: str) -> bool:
        return folded in self.first

    def is_last(self, folded: str) -> bool:
        return folded in self.last

    def is_name(self, folded: str) -> bool:
        return folded in self.first or folded in self.last

    def is_word(self, folded: str) -> bool:
        """An everyday word: a name only with more evidence."""
        return folded in self.common or folded in self.name_words or folded in CHAT_WORDS

    def is_common(self, folded: str) -> bool:
        """A frequent English word or chat word that is no name ("the", "reach", "lol")."""
        return folded in self.common or folded in CHAT_WORDS

    def is_place(self, folded: str) -> bool:
        return folded in self.places

    def is_clear_first(self, folded: str) -> bool:
        """A first name that is no everyday word nor place ("Aoife", not "Will", "London")."""
        return folded in self.first and not self.is_word(folded) and folded not in self.places


@cache
def lexicon() -> NameLexicon:
    return NameLexicon(
        first=word_list("first_names.txt"),
        last=word_list("last_names.txt"),
        name_words=word_list("name_words.txt"),
        places=word_list("place_names.txt"),
        common=word_list("common_words.txt"),
        sentence_starts=word_list("sentence_starts.txt"),
    )


def fold(word: str) -> str:
    return word.replace("’", "'").casefold()


def is_capitalised(word: str) -> bool:
    """"Maria", "O'Brien", "McDonald", "MARIA" (three letters or more in capitals)."""
    return word[0].isupper() and (not word.isupper() or len(word) >= 3)
