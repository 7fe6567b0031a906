"""Names in social posts that neither the model nor the lexicons know: unknown capitalised
words next to a person cue, names or @-less handles after someone close, stage names of
everyday words, the model's capitalised names inside a sentence, repeated mentions and
camel-case hashtags (real Presidio + the configured spaCy model)."""

from __future__ import annotations

import pytest
from presidio_analyzer import RecognizerResult

from redactors.engine import TextRedactor
from redactors.names import settle_names
from redactors.recognizers.cued_name import CuedNameRecognizer
from redactors.recognizers.lexicon_name import LexiconNameRecognizer


def masked_values(redactor: TextRedactor, text: str) -> list[str]:
    [redacted] = redactor.redact([text])
    return [text[s.start : s.end] for s in redacted.spans if s.entity_type == "PERSON"]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        # an unknown capitalised word with a person cue after or before it
        ("honestly Zorbulon is the funniest streamer", ["Zorbulon"]),
        ("so nice meeting you and Quenvik yesterday", ["Quenvik"]),
        ("I love Tazmirra's new video", ["Tazmirra"]),
        # someone close, then a name or a handle without "@", in any case
        ("happy birthday to my cousin zibbyloo !", ["zibbyloo"]),
        ("go follow quenbot99 now", ["quenbot99"]),
        # a stage-name prefix before an everyday word
        ("DJ Snake dropped a new track", ["DJ Snake"]),
        # the same name mentioned again on its own
        ("Eric Plumtree wrote back . Plumtree again !", ["Eric Plumtree", "Plumtree"]),
        # a hashtag of name parts, one a surname
        ("#ZelphaMorrison forever", ["#ZelphaMorrison"]),
        # "that" opening a clause after a verb of saying, not pointing at a thing
        ("she said that Zorbulon was right", ["Zorbulon"]),
        ("i loved Tazmirra in that", ["Tazmirra"]),
        # a verb of his or hers after it, a vocative
        ("Zorbulon continues his streak", ["Zorbulon"]),
        ("Quenvik my brother we miss you", ["Quenvik"]),
        # a comment to a video's maker
        ("nice vid Zorbulon you rock", ["Zorbulon"]),
        # the name or handle before "aka"; "Lord" as a title
        ("you should summon quenbot99 aka Zib", ["quenbot99", "Zib"]),
        ("jokes about Lord Vishnu again", ["Lord Vishnu"]),
        # who said a quote, at the end of a post
        ("keep going no matter what . ~ Quorvanth #quotes", ["Quorvanth"]),
        ('"be kind to everyone." - Tazmirra', ["Tazmirra"]),
        # lower-case words no list knows, after a strong cue
        ("hi all , my name is zelvina and i draw", ["zelvina"]),
        ("omg hey trosk !", ["trosk"]),
        ("emma and kaylix are the best", ["emma", "kaylix"]),
    ],
)
def test_names_of_social_posts_are_masked(
    redactor: TextRedactor, text: str, names: list[str]
) -> None:
    assert masked_values(redactor, text) == names


@pytest.mark.parametrize(
    "text",
    [
        "Zorbulon patent it",  # an unknown opener without a cue after it
        "a Zorbex and a Vexio arrived",  # after a determiner: things
        "We flew to Sweden and back",  # the model's place
        "I moved to Tulsa and it was fine",  # a place the model has a vector for
        "my friend said hi",  # "said": a surname in the lists, a verb here
        "follow up tomorrow",
        "the DJ Set was great",  # "DJ" inside a sentence, then an opener word
        "#BlackLivesMatter now",
        "#SaveOurPlanet today",
        "wtf is this",
        "Wtf is that noise",
        "push the release to Friday",
        "thanks guys !",  # everyday words after a greeting
        "the Lord of the Rings",
        "Tomorrow my man",
        "great video Thanks",  # an everyday word after the cue
        "see you at 5 - Monday works",  # a dash inside a sentence
        "ok aka whatever",
        "call me maybe",
    ],
)
def test_cue_words_things_and_places_stay(redactor: TextRedactor, text: str) -> None:
    assert masked_values(redactor, text) == []


def test_lower_case_cues_leave_everyday_words_kisses_and_typed_words_alone() -> None:
    recognizer = LexiconNameRecognizer()
    for text in (
        "love you xxxxx",
        "hey guys !",
        "thanks again ,",
        "ok and then",
        "me and you",
        "the long-term plan ~ Anonymous",
        "it works. - Thanks",
    ):
        assert recognizer.analyze(text, ["PERSON"]) == [], text


def test_cued_names_need_the_models_entities_only_to_leave_places_out() -> None:
    recognizer = CuedNameRecognizer()
    text = "so nice meeting you and Quenvik"
    [found] = recognizer.analyze(text, ["PERSON"], nlp_artifacts=None)
    assert text[found.start : found.end] == "Quenvik"
    assert found.score == CuedNameRecognizer.SCORE
    assert recognizer.analyze(text, ["EMAIL_ADDRESS"], nlp_artifacts=None) == []


def test_a_place_label_blocks_only_words_the_model_has_a_vector_for(
    redactor: TextRedactor,
) -> None:
    """The model calls many unknown names a place; the places it knows have a vector."""
    from types import SimpleNamespace

    from spacy.tokens import Span

    nlp = redactor.detector.analyzer.nlp_engine.nlp["en"]
    recognizer = CuedNameRecognizer()
    found = {}
    for text, word in (("so Quorvanth said hi", "Quorvanth"), ("so Norway said hi", "Norway")):
        doc = nlp.make_doc(text)
        start = text.index(word)
        doc.ents = [Span(doc, 1, 2, label="GPE")]
        assert doc.ents[0].start_char == start
        artifacts = SimpleNamespace(tokens=doc)
        found[word] = [
            text[f.start : f.end] for f in recognizer.analyze(text, ["PERSON"], artifacts)
        ]
    assert found == {"Quorvanth": ["Quorvanth"], "Norway": []}


def test_person_scores_stay_distinct() -> None:
    """Presidio's duplicate removal keeps one of two equal findings through a set: every
    PERSON score of this recognizer differs from the other recognizers' scores."""
    lexicon_scores = {
        value
        for name, value in vars(LexiconNameRecognizer).items()
        if name.endswith("_SCORE")
    }
    others = lexicon_scores | {0.85, 0.5, 0.99}
    assert {CuedNameRecognizer.SCORE, CuedNameRecognizer.RELATION_SCORE}.isdisjoint(others)


def _model_finding(start: int, end: int) -> RecognizerResult:
    return RecognizerResult(
        "PERSON",
        start,
        end,
        0.85,
        recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: "SpacyRecognizer"},
    )


def test_the_models_capitalised_name_inside_a_sentence_stays_even_if_an_everyday_word() -> None:
    inside = "honestly Cupid ruined it"
    kept = settle_names(inside, [_model_finding(9, 14)])
    assert [inside[f.start : f.end] for f in kept] == ["Cupid"]
    opener = "Cupid ruined it"  # a sentence opener: the model's guess is dropped
    assert settle_names(opener, [_model_finding(0, 5)]) == []
    lower = "honestly cupid ruined it"
    assert settle_names(lower, [_model_finding(9, 14)]) == []


def test_a_repeated_mention_is_masked_but_not_an_everyday_word_or_a_handle() -> None:
    text = "Eric Plumtree and Will left; Plumtree stays, @Plumtree and will go"
    first = RecognizerResult("PERSON", 0, 13, 0.8)
    will = RecognizerResult("PERSON", 18, 22, 0.7)
    settled = [text[f.start : f.end] for f in settle_names(text, [first, will])]
    assert settled == ["Eric Plumtree", "Will", "Plumtree"]
