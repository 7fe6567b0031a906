"""Person names: whole names in any script, multi-locale lexicons, model findings under other
labels, and no everyday word taken for a name (real Presidio + the configured spaCy model)."""

from __future__ import annotations

import itertools

import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st
from presidio_analyzer import RecognizerResult
from spacy.tokens import Span

from redactors.engine import TextRedactor
from redactors.names import settle_names
from redactors.recognizers.lexicon_name import LexiconNameRecognizer
from redactors.recognizers.name_lexicon import lexicon
from redactors.recognizers.ner_name import NerNameRecognizer


def masked_values(redactor: TextRedactor, text: str) -> list[str]:
    [redacted] = redactor.redact([text])
    return [text[s.start : s.end] for s in redacted.spans if s.entity_type == "PERSON"]


def visible(redactor: TextRedactor, text: str, name: str) -> bool:
    """True when any letter of ``name`` in ``text`` is left unmasked."""
    start = text.index(name)
    [redacted] = redactor.redact([text])
    covered = {i for s in redacted.spans for i in range(s.start, s.end)}
    return any(text[i].isalpha() and i not in covered for i in range(start, start + len(name)))


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("cc Noémie Dubois", "Noémie Dubois"),
        ("thx Ciarán", "Ciarán"),
        ("ping Hye-jin Fernández", "Hye-jin Fernández"),
        ("Hi team, Aoife Nathan here", "Aoife Nathan"),
        ("Aoife Castellanos will join the call", "Aoife Castellanos"),
        ("HR form needs the SSN for Bohuslav Sobotka", "Bohuslav Sobotka"),
        ("talked to Siobhán O'Brien about it", "Siobhán O'Brien"),
        ("Gabriel García-Márquez wrote back", "García-Márquez"),
        ("could you correct it to Dr. Christopher Schmitt?", "Dr. Christopher Schmitt"),
        ("Noah shouted at Seth: stop!", "Seth"),
        ("my name is Jessica van den Oord", "Jessica van den Oord"),
        ("i'm samantha's sister", "samantha"),
        ("invite Łukasz, Dawn and Kenji to the review", "Dawn"),
        ("Follow up with Ryan Bagy MD in 2 months.", "Ryan Bagy MD"),
        ("sync w/ Rajesh re: billing", "Rajesh"),  # "w/": chat's "with"
        # names in scripts without case, in Latin-script chat
        ("ping 王伟 about the invoice", "王伟"),
        ("My name is 田中太郎", "田中太郎"),
        ("cc 田中 太郎 pls", "田中 太郎"),
        ("thanks 김민준!", "김민준"),
    ],
)
def test_whole_names_are_masked(redactor: TextRedactor, text: str, name: str) -> None:
    assert not visible(redactor, text, name), masked_values(redactor, text)


@pytest.mark.parametrize(
    "text",
    [
        "Congrats on the launch everyone",
        "Reach out if the build breaks again",
        "Will you review the PR today?",
        "We flew to London and then Paris",
        "Meet at Central Park at noon",
        "Grant access to the staging bucket",
        "May the deploy go smoothly",
    ],
)
def test_everyday_words_and_places_are_not_names(redactor: TextRedactor, text: str) -> None:
    assert masked_values(redactor, text) == []


def test_a_possessive_stays_outside_the_name(redactor: TextRedactor) -> None:
    assert masked_values(redactor, "I'm Kenneth's daughter") == ["Kenneth"]


def test_a_shorter_span_never_wins_over_a_longer_one() -> None:
    text = "cc Noémie Dubois today"
    short = RecognizerResult("PERSON", 3, 5, 0.5)  # an ASCII-only rule's "No"
    whole = RecognizerResult("PERSON", 3, 16, 0.85)
    [settled] = settle_names(text, [short, whole])
    assert (settled.start, settled.end) == (3, 16)


def test_a_name_grows_over_title_whole_words_and_following_parts() -> None:
    text = "ask Mrs. Aoife Nathan-Hughes Jr. now"
    inner = text.index("ife")
    [settled] = settle_names(text, [RecognizerResult("PERSON", inner, inner + 3, 0.6)])
    assert text[settled.start : settled.end] == "Mrs. Aoife Nathan-Hughes Jr."


def test_other_entities_are_left_as_they_are() -> None:
    text = "Congrats Ann, mail ann@example.com"
    email = RecognizerResult("EMAIL_ADDRESS", 18, 33, 1.0)
    opener = RecognizerResult("PERSON", 0, 8, 0.85)  # a model's sentence-opening false name
    assert settle_names(text, [opener, email]) == [email]


def test_the_lexicons_ship_with_the_package() -> None:
    names = lexicon()
    assert {"aoife", "noémie", "łukasz"} <= names.first
    assert {"garcía", "dubois", "schmitz"} <= names.last
    assert names.is_word("will") and names.is_place("london")
    assert names.is_clear_first("samantha") and not names.is_clear_first("may")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("aeiouyéøłñ'-AEIOUÉØŁÑ .,"), max_size=60))
def test_settled_names_stay_inside_the_text_and_never_overlap(text: str) -> None:
    found = LexiconNameRecognizer().analyze(text, ["PERSON"])
    settled = settle_names(text, found)
    assert all(0 <= f.start < f.end <= len(text) for f in settled)
    assert all(a.end <= b.start for a, b in itertools.pairwise(settled))


def test_names_of_the_registry_and_directory_are_masked_in_any_case_and_spacing(
    sample_config, tmp_path
) -> None:
    import polars as pl

    from redactors.consent import ConsentGate
    from redactors.preflight import people_names

    directory = tmp_path / "people.parquet"
    pl.DataFrame({"real_name": ["Quillon Vardebrook", None]}).write_parquet(directory)
    detection = sample_config.detection.model_copy(
        update={"name_directory": str(directory), "ner_prefilter": False}
    )
    config = sample_config.model_copy(update={"detection": detection})
    gate = ConsentGate.load(config.consent, config.resolve(config.consent.registry))
    consented = [n for n in gate.people_names if n]  # consented users' names are in too
    names = people_names(config, gate)
    assert "Quillon Vardebrook" in names and set(consented) <= set(names)
    redactor = TextRedactor.build(detection, config.masking, b"k" * 32, people_names=names)
    display = consented[0]
    text = f"lunch with {display.upper()} and quillon  VARDEBROOK?"
    [redacted] = redactor.redact([text])
    assert display.split()[0].upper() not in redacted.text
    assert "quillon" not in redacted.text.lower() and "vardebrook" not in redacted.text.lower()


def test_a_bad_name_directory_is_a_clear_error(tmp_path) -> None:
    import polars as pl

    from redactors.errors import ConfigError
    from redactors.recognizers.directory_name import read_name_directory

    with pytest.raises(ConfigError, match="file not found"):
        read_name_directory(tmp_path / "missing.parquet", ["real_name"])
    wrong = tmp_path / "ids.parquet"
    pl.DataFrame({"real_name": [1, 2]}).write_parquet(wrong)
    with pytest.raises(ConfigError, match="'real_name' must be strings"):
        read_name_directory(wrong, ["real_name"])
    with pytest.raises(ConfigError, match="none of the columns"):
        read_name_directory(wrong, ["display_name"])


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("our 3 founders: smit, zhang and edwards.", ["smit", "zhang", "edwards"]),
        ("what's the name on the account? tina roelink", ["tina roelink"]),
        ("endorsing T. W. Shannon for Senate", ["T. W. Shannon"]),
        # initials without dots, one capital or two
        ("Thank you Joan & K Choi for the video", ["Joan", "K Choi"]),
        ("PG Troydan eh ? Lol", ["PG Troydan"]),
        # a blank before the commas of tokenised text; a chat word that is a name in a list
        ("keep Vin , Dwayne , Ty , Luda , Jason & Michelle", ["Ty"]),
        # a zero-width character glued to the name is masked with it
        ("excellent poem Dubbz\ufeff", ["Dubbz\ufeff"]),
        # a first name the writer turns to at a sentence's end, everyday word or not
        ("where are my keys , Summer ?", ["Summer"]),
        ("thanks for the help, Will!", ["Will"]),
        # a nickname (the nicknames package's lists)
        ("I've loved Becca all along", ["Becca"]),
        # shouted: the capitals before the name say nothing about it
        ("WAS THAT ELEKTRA ! ! !", ["ELEKTRA"]),
        ("nothing beats #Klaroline", ["#Klaroline"]),
        ("check #jamesyboy tonight", ["#jamesyboy"]),
        ("That moment Lil Wayne gets on the hook", ["Lil Wayne"]),
    ],
)
def test_names_in_lists_lower_case_initials_and_tags(
    redactor: TextRedactor, text: str, names: list[str]
) -> None:
    for name in names:
        assert not visible(redactor, text, name), masked_values(redactor, text)


@pytest.mark.parametrize(
    "text",
    [
        "apples, oranges and pears",
        "#marketing sync at noon",
        "we shipped v2 to prod",
        # a place after a place, not a vocative; initials that are a team or a word
        "I moved to Atlanta, Georgia.",
        "Nice, Honey",
        "I am so glad, A Team",
        "DOB: 04/15/1989",
    ],
)
def test_lists_and_tags_of_words_stay(redactor: TextRedactor, text: str) -> None:
    assert masked_values(redactor, text) == []


def test_no_dictionary_word_becomes_a_name_in_the_sample_export(redactor: TextRedactor) -> None:
    """Sentence openers the model calls a person ("Congrats @ann on the promotion!") are
    neither masked nor replaced by a surrogate name, over the whole sample chat export."""
    import polars as pl

    from redactors.recognizers.name_lexicon import WORD, fold, lexicon

    texts = pl.read_parquet("data/sample/messages.parquet")["text"].drop_nulls().to_list()
    words = lexicon()
    wordy = [
        value
        for text, redacted in zip(texts, redactor.redact(texts), strict=True)
        for span in redacted.spans
        if span.entity_type == "PERSON"
        and (value := text[span.start : span.end])
        and all(
            words.is_common(fold(w)) and not words.is_name(fold(w)) for w in WORD.findall(value)
        )
    ]
    assert wordy == []


def _entity(redactor: TextRedactor, text: str, value: str, label: str) -> Span:
    """``value`` in ``text`` as a model entity under Presidio's ``label``, as the NLP
    artifacts hold it, on the run model's vocabulary: the rule reads the span's words and
    the model's vectors, not how the NER came to its label."""
    nlp = redactor.detector.analyzer.nlp_engine.nlp["en"]  # type: ignore[attr-defined]
    doc = nlp.make_doc(text)
    start = text.index(value)
    span = doc.char_span(start, start + len(value), label=label)
    assert span is not None
    return span


@pytest.mark.parametrize(
    ("text", "value", "label", "is_name"),
    [
        # words the vectors never saw: a nickname, a channel name, a name from elsewhere
        ("so nice meeting you and Jonyeee !", "Jonyeee", "NRP", True),
        ("i think quorbleytube copies that intro", "quorbleytube", "ORGANIZATION", True),
        ("does Vrennick Dumpty seem lost?", "Vrennick Dumpty", "ORGANIZATION", True),
        # known organisations and brands have vectors; everyday words need more evidence
        ("I applied at Google last week", "Google", "ORGANIZATION", False),
        ("the Apple keynote was long", "Apple", "ORGANIZATION", False),
        ("the Zorblax Market opened", "Zorblax Market", "ORGANIZATION", False),
        # after a determiner: a thing ("a Zorbex")
        ("a Zorbex and a Vexio arrived", "Zorbex", "ORGANIZATION", False),
        # digits, tags, links or emoji in the span: not a name of words
        ("MLG 6531 play this game", "MLG 6531", "ORGANIZATION", False),
        # places stay places, even ones the vectors miss
        ("we stayed in Kvarnbyvik", "Kvarnbyvik", "LOCATION", False),
    ],
)
def test_an_organisation_of_unknown_words_is_a_name(
    redactor: TextRedactor, text: str, value: str, label: str, is_name: bool
) -> None:
    span = _entity(redactor, text, value, label)
    assert NerNameRecognizer()._is_unknown(span.doc.text, span) is is_name


def test_unknown_word_evidence_is_off_for_a_model_without_vectors() -> None:
    doc = spacy.blank("en").make_doc("so nice meeting you and Jonyeee !")  # no vectors, as sm
    span = doc.char_span(24, 31, label="NRP")
    assert span is not None
    assert NerNameRecognizer()._is_unknown(span.doc.text, span) is False


@pytest.mark.parametrize(
    ("text", "first", "whole"),
    [
        ("we met Karim al-Zubaydi today", "Karim", "Karim al-Zubaydi"),
        ("RT : Karim al- Zubaydi : we reject it", "Karim", "Karim al- Zubaydi"),  # tokenised
        ("ask Robin van der Berg about it", "Robin", "Robin van der Berg"),
        ("thanks Jean d'Alembert", "Jean", "Jean d'Alembert"),
        # Dutch "'t" (het), alone or after another particle
        ("ask Gerard 't Hooft for the logs", "Gerard", "Gerard 't Hooft"),
        ("ask Jan van 't Hoff for the logs", "Jan", "Jan van 't Hoff"),
        ("meet Floor Lonen-van ’t Houteveen", "Floor Lonen-van", "Floor Lonen-van ’t Houteveen"),
        # a particle with no capitalised part after it is no part of the name
        ("Anna van arrived late", "Anna", "Anna"),
        ("Anna de novo again", "Anna", "Anna"),
        ("Anna 't was late", "Anna", "Anna"),
    ],
)
def test_a_name_grows_over_particles_only_before_a_name_part(
    text: str, first: str, whole: str
) -> None:
    start = text.index(first)
    [settled] = settle_names(text, [RecognizerResult("PERSON", start, start + len(first), 0.85)])
    assert text[settled.start : settled.end] == whole


def test_a_team_or_chat_word_before_a_name_is_no_initials(redactor: TextRedactor) -> None:
    assert masked_values(redactor, "ask HR Anna Lee") == ["Anna Lee"]
    assert masked_values(redactor, "OK Anna Lee") == ["Anna Lee"]
