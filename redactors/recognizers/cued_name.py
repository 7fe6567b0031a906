"""Unknown capitalised words that a person cue marks as a name, in posts and chat.

Social posts name people the lexicons and the model do not know: nicknames, stage names,
streamers, non-English names ("Zorbulon is the best", "meeting you and Quenvik", "I love
Tazmirra's new video"). A capitalised word that is no English word, no known name and no place
is a name here when a person cue stands right next to it:
- after it: a possessive or a verb people are the subject of ("X's", "X 's", "X is", "X
  said", "X knew", "X will", "X continues his"), "my brother" and the like (a vocative), or
  "and"/"&" (a pair of names);
- before it: a word that is followed by a person in posts ("like X", "and X", "with X",
  "ft X", "vs X", "love X", "support X", "thank you X", "meet X").
A word right after a word for someone close ("my cousin zibbyloo", "my boy xKrennz", "my
lovely hubby tomasito88"), after "follow" / "aka" ("follow quenbot99") or right before "aka"
("quenbot99 aka Zib") is a name or a handle written without "@" in any case, when it is
no everyday word nor place (0.58).
At the start of a sentence only a cue after the word counts ("Zorbulon is back"), since
openers are often misspelt words ("Shoulda known").
Words the model puts in a place, date, number, law or language entity are left alone
("Norway is lovely"), and so are words in capitals (shouting), words with a
letter three times in a row ("Sooooo") and words glued to handles, URLs and paths. The
model also calls many unknown names a place ("Quenvik did", GPE): a place label counts only
for a word the model has a vector for; the places it knows have one ("Norway", "Tulsa"), a
made-up or rare name has none.
The model's entities are read from the NLP artifacts, so this recognizer runs after NER;
it only finds names (``NAMES_ONLY``), so the NER prefilter stays on: every text holding a
capitalised word inside a sentence goes to NER anyway.
"""

from __future__ import annotations

import re

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from redactors.recognizers.finding import finding
from redactors.recognizers.lexicon_name import _opens_sentence
from redactors.recognizers.name_lexicon import NameLexicon, fold, lexicon

# A capitalised word that is not all capitals: "Zorbulon", "McKenna"; "xKrennz" is not.
_CANDIDATE = re.compile(r"(?<![\w@#/_.:=&-])[A-Z][a-z]+(?:[A-Z][a-z]+)*(?![\w@/_=]|\.\w)")
_TRIPLE = re.compile(r"(.)\1\1")
_AFTER = re.compile(
    r"\s?['’]\s?s\b|\s(?:is|was|has|had|says|said|did|does|knew|knows|looks|thinks|"
    r"will|would|can|could|gets|got|makes|made|just|and|&)\b"
    # a verb of his or hers ("Zorbulon continues his streak"), a vocative ("Zorbulon my
    # brother")
    r"|\s[a-z]{2,}\s(?:his|her|himself|herself)\b"
    r"|\s(?i:my|ma)\s(?i:brother|bro|sister|sis|man|dude|guy|friend|boy|girl|homie)\b"
)
_BEFORE = re.compile(
    r"\b(?i:like|and|&|with|ft|feat|featuring|vs|love|loved|loves|hate|hated|hates|support|"
    r"supporting|meet|meeting|thank you|thanks|miss|missed|misses|than)\s\Z"
)
# "that" after a verb of saying or thinking opens a clause, it points at nothing: "she
# said that Zorbulon was right".
_CLAUSE_THAT = re.compile(
    r"\b(?i:said|says|say|stated|states|claimed|claims|think|thinks|thought|know|knew|knows|"
    r"hope|guess|feel|felt|heard|hear|believe|believed|realize|realized|swear|bet)\s+that\s\Z"
)
# Before a thing, not a person: "the Acme's", "a Zorbex and", "my Vexio and".
DETERMINER_BEFORE = re.compile(
    r"\b(?i:the|a|an|this|that|these|those|my|your|our|their|its|his|her|every|any|some|"
    r"at)\s\Z"
)
# Someone close, then their name or handle in any case: "my cousin zibbyloo".
_RELATION = re.compile(
    r"\b(?i:my\s+(?:(?:little|lil|lovely|dear|best|big|baby|beautiful|fav|favou?rite)\s+)?"
    r"(?:boy|girl|bro|brother|sis|sister|cousin|hubby|husband|wifey|wife|bf|gf|boyfriend|"
    r"girlfriend|bestie|bff|friend|buddy|homie|mate|son|daughter|niece|nephew|uncle|aunt|"
    r"auntie|mom|mum|mommy|dad|daddy|grandma|grandpa|babe|man|dude|idol|hero)|"
    r"(?<!\ba\s)follow|aka)\s+([^\W\d_][\w'’-]*)(?![@/=]|\.\w)"
)
# Place labels: the model also gives them to unknown capitalised words ("Zorbulon did").
_PLACES = frozenset({"GPE", "LOC", "FAC"})
# The name or handle before "aka" ("quenbot99 aka Zib"), in any case.
_BEFORE_AKA = re.compile(r"(?<![\w@#/.=-])([^\W\d_][\w'’-]*)\s+(?i:aka)\b")
# spaCy labels whose words are not a person's name ("Sweden", "Monday", "Spanish").
_NOT_PEOPLE = frozenset(
    {"GPE", "LOC", "FAC", "DATE", "TIME", "LANGUAGE", "LAW", "MONEY", "PERCENT",
     "QUANTITY", "CARDINAL", "ORDINAL"}
)
_MIN_CHARS = 3


class CuedNameRecognizer(EntityRecognizer):
    ENTITY = "PERSON"
    # Distinct from every other PERSON recognizer's score (see LexiconNameRecognizer).
    SCORE = 0.62
    RELATION_SCORE = 0.58
    NAMES_ONLY = True

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entities=[self.ENTITY],
            name="CuedNameRecognizer",
            supported_language=supported_language,
        )
        self.lexicon: NameLexicon = lexicon()

    def load(self) -> None:
        """Nothing to load: word lists come from name_lexicon."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if self.ENTITY not in entities:
            return []
        results: list[RecognizerResult] = []
        blocked: list[tuple[int, int, str]] | None = None
        for match in _CANDIDATE.finditer(text):
            start, end = match.span()
            if not self._unknown(match.group()) or not self._cued(text, start, end):
                continue
            if blocked is None:
                blocked = _not_people(nlp_artifacts)
            labels = {label for b_start, b_end, label in blocked if b_start < end and start < b_end}
            if labels and not (labels <= _PLACES and _unseen(nlp_artifacts, match.group())):
                continue
            results.append(self._result(start, end, self.SCORE))
        for match in (*_RELATION.finditer(text), *_BEFORE_AKA.finditer(text)):
            if self._related(match.group(1)):
                results.append(self._result(match.start(1), match.end(1), self.RELATION_SCORE))
        return results

    def _related(self, word: str) -> bool:
        """After "my cousin": a capitalised word that is no everyday word ("Ana"), or one in
        lower case that no list knows ("zibbyloo"; not "said", a surname in the lists but a
        verb in "my friend said")."""
        lex, folded = self.lexicon, fold(word)
        if len(word) < _MIN_CHARS or lex.is_common(folded) or lex.is_place(folded):
            return False
        if word[0].isupper():
            return not lex.is_word(folded)
        return lex.is_clear_first(folded) or not (lex.is_name(folded) or lex.is_word(folded))

    def _result(self, start: int, end: int, score: float) -> RecognizerResult:
        return finding(self, self.ENTITY, start, end, score)

    def _unknown(self, word: str) -> bool:
        """No everyday word, first name, place or frequent opener: only a name of someone
        the lists do not know, or a word of another language."""
        if len(word) < _MIN_CHARS or _TRIPLE.search(word):
            return False
        lex, folded = self.lexicon, fold(word)
        return not (
            lex.is_word(folded)
            or lex.is_first(folded)
            or lex.is_place(folded)
            or folded in lex.sentence_starts
        )

    @staticmethod
    def _cued(text: str, start: int, end: int) -> bool:
        before = text[max(0, start - 30) : start]
        if DETERMINER_BEFORE.search(before) and not _CLAUSE_THAT.search(before):
            return False
        if _AFTER.match(text, end):
            return True
        return not _opens_sentence(text, start) and _BEFORE.search(before) is not None


def _not_people(nlp_artifacts: NlpArtifacts | None) -> list[tuple[int, int, str]]:
    doc = getattr(nlp_artifacts, "tokens", None)
    if doc is None:
        return []
    return [
        (ent.start_char, ent.end_char, ent.label_)
        for ent in doc.ents
        if ent.label_ in _NOT_PEOPLE
    ]


def _unseen(nlp_artifacts: NlpArtifacts | None, word: str) -> bool:
    """A word the model has no vector for: no place it learned ("Norway", "Tulsa",
    "Ouagadougou" all have one), so its place label is a guess at an unknown name."""
    doc = getattr(nlp_artifacts, "tokens", None)
    if doc is None or not len(doc.vocab.vectors):
        return False
    return doc.vocab[word].is_oov
