"""Lemmas for Presidio's context words, without spaCy's tagger and lemmatizer.

Presidio reads lemmas for one thing only: whether a recognizer's context word ("phone",
"card", "email", ...) is among the lemmas of the few keywords before a finding. spaCy's
lemmas cost tok2vec + tagger + attribute ruler + lemmatizer over the whole text: about half
of the model's time on PII-dense chat (where NER alone is the other half). Here a token's
lemma is its lower-case form, except that the inflections of every context word ("calls",
"numbers", "emailed") map to the word, and the forms whose lemma spaCy drops from Presidio's
keywords (stop words, "be") map to one that is dropped too, so the keyword window is the
same. ``tests/test_context_lemmas.py`` checks the findings equal those with spaCy's lemmas
on every corpus in the repo. ``detection.context_lemmas: model`` brings spaCy's back.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from spacy.tokens import Doc

# spaCy's lemmas of contracted and irregular forms that are stop words or "be" (Presidio
# drops both from its keywords), where the surface form itself is not a stop word.
_SPACY_LEMMAS = {
    "wo": "will",
    "ca": "can",
    "sha": "shall",
    "'m": "be",
    "'re": "be",
    "'ve": "have",
    "'ll": "will",
    "'d": "would",
    "n't": "not",
    "nt": "not",
    "am": "be",
    "is": "be",
    "are": "be",
    "was": "be",
    "were": "be",
    "been": "be",
    "being": "be",
}
_VOWELS = frozenset("aeiou")


def inflections(word: str) -> set[str]:
    """The regular noun and verb forms of a word: plural, -s, -ed, -ing."""
    forms = {word, word + "s", word + "es", word + "ed", word + "ing"}
    if word.endswith("e"):
        forms |= {word + "d", word[:-1] + "ing"}
    if word.endswith("y") and len(word) > 2 and word[-2] not in _VOWELS:
        forms |= {word[:-1] + "ies", word[:-1] + "ied"}
    if len(word) >= 3 and word[-1] not in _VOWELS and word[-2] in _VOWELS:
        forms |= {word + word[-1] + "ed", word + word[-1] + "ing"}  # "shipped", "planning"
    return forms


@cache
def lemma_table(context_words: tuple[str, ...]) -> dict[str, str]:
    """Form (lower case) -> the lemma Presidio should see for it."""
    table = dict(_SPACY_LEMMAS)
    for word in sorted(context_words):
        for form in sorted(inflections(word)):
            table.setdefault(form, word)
    return table


def context_words(recognizers: Iterable[object]) -> tuple[str, ...]:
    words = {
        word.strip().lower()
        for recognizer in recognizers
        for word in getattr(recognizer, "context", None) or ()
        if word.strip()
    }
    return tuple(sorted(words))


def set_lemmas(doc: Doc, table: dict[str, str]) -> Doc:
    for token in doc:
        lower = token.lower_
        token.lemma_ = table.get(lower, lower)
    return doc
