"""Famous people by name in posts and chat (PublicFigureRecognizer and its list), through
the real Presidio + spaCy engine of the sample config; invented sentences."""

from __future__ import annotations

import pytest

from redactors.config import load_config
from redactors.detector import supported_entities
from redactors.engine import TextRedactor
from redactors.namewords import word_list
from redactors.recognizers.name_lexicon import WORD, fold, lexicon
from redactors.recognizers.public_figure import PublicFigureRecognizer, figures
from tests.conftest import SAMPLE_CONFIG


def masked_values(redactor: TextRedactor, text: str) -> list[str]:
    [redacted] = redactor.redact([text])
    return [text[s.start : s.end] for s in redacted.spans if s.entity_type == "PERSON"]


def found(text: str) -> list[str]:
    return [text[f.start : f.end] for f in PublicFigureRecognizer().analyze(text, ["PERSON"])]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        # lower case, capitals, full names in any case
        ("honestly obama was a better speaker", ["obama"]),
        ("we saw bruno mars and lebron last night", ["bruno mars", "lebron"]),
        ("LEBRON IS THE GOAT", ["LEBRON"]),
        ("idk why trump keeps tweeting", ["trump"]),
        ("not a Trump fan tbh", ["Trump"]),
        # an everyday-word alias capitalised inside a sentence
        ("nobody guards Curry like that", ["Curry"]),
        # hashtags of a full name or an alias
        ("#LeBronJames forever", ["#LeBronJames"]),
        # initials and accents
        ("j. cole and Beyoncé on one track", ["j. cole", "Beyoncé"]),
    ],
)
def test_public_figures_are_masked(redactor: TextRedactor, text: str, names: list[str]) -> None:
    assert masked_values(redactor, text) == names


@pytest.mark.parametrize(
    "text",
    [
        "play your trump card now",  # a determiner before: the word
        "that would trump everything",  # a modal before: the verb
        "Curry for lunch?",  # an everyday-word alias opening a sentence
        "we ordered Thai Curry",  # beside another capitalised word
        "let's get curry tonight",  # in lower case
        "#curry night",
        "go to obama.example.org",  # glued to a host name
        "rewrite it in Swift",  # no alias of a famous surname that is an everyday word
    ],
)
def test_everyday_uses_of_their_names_stay(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    "text", ["play your trump card now", "that would trump everything", "Curry for lunch?"]
)
def test_everyday_uses_stay_unmasked_by_the_whole_engine(redactor: TextRedactor, text: str) -> None:
    assert masked_values(redactor, text) == []


def test_the_list_is_large_and_parses() -> None:
    people = [line for line in word_list("public_figures.txt") if line]
    assert len(people) >= 1_000
    listed = figures()
    assert len(listed.full) >= 800 and len(listed.aliases) >= 800
    assert listed.aliases["trump"].prominent and not listed.aliases["obama"].prominent
    assert listed.aliases["aoc"].capitals_only and listed.aliases["curry"].everyday


def test_no_alias_is_a_frequent_word_unless_marked() -> None:
    """An alias that the project's word lists hold as an everyday word is matched in lower
    case only when the list marks it prominent ("*"): the rest need a capital inside a
    sentence."""
    lex = lexicon()
    listed = figures()
    for alias, entry in listed.aliases.items():
        if lex.is_common(alias) and not entry.prominent and not entry.capitals_only:
            lower = f"we talked about {alias} today"
            assert found(lower) == [], alias


def test_recognizer_finds_only_person_and_obeys_the_entity_list() -> None:
    recognizer = PublicFigureRecognizer()
    assert recognizer.analyze("obama", ["EMAIL_ADDRESS"]) == []
    [finding] = recognizer.analyze("obama", ["PERSON"])
    assert finding.entity_type == "PERSON"


def test_scores_stay_distinct_from_the_other_person_recognizers() -> None:
    from redactors.recognizers.cued_name import CuedNameRecognizer
    from redactors.recognizers.lexicon_name import LexiconNameRecognizer

    others = {
        value
        for cls in (LexiconNameRecognizer, CuedNameRecognizer)
        for name, value in vars(cls).items()
        if name.endswith("_SCORE") or name == "SCORE"
    } | {0.85, 0.5, 0.99}
    ours = {
        value for name, value in vars(PublicFigureRecognizer).items() if name.endswith("_SCORE")
    }
    assert ours.isdisjoint(others)


def test_the_config_switch_leaves_the_recognizer_out() -> None:
    config = load_config(SAMPLE_CONFIG).detection
    assert config.public_figures
    off = config.model_copy(update={"public_figures": False})
    from redactors.detector import registry

    names = {r.name for r in registry(config, nlp_engine=None).recognizers}
    assert "PublicFigureRecognizer" in names
    assert "PublicFigureRecognizer" not in {r.name for r in registry(off, None).recognizers}
    assert "PERSON" in supported_entities(off)


def test_no_everyday_word_becomes_a_famous_name_in_the_sample_export(
    redactor: TextRedactor,
) -> None:
    """Over the sample chat export the list adds no finding of everyday words alone."""
    import polars as pl

    texts = pl.read_parquet("data/sample/messages.parquet")["text"].drop_nulls().to_list()
    lex = lexicon()
    recognizer = PublicFigureRecognizer()
    wordy = [
        text[f.start : f.end]
        for text in texts
        for f in recognizer.analyze(text, ["PERSON"])
        if all(lex.is_common(fold(w)) for w in WORD.findall(text[f.start : f.end]))
    ]
    assert wordy == []
