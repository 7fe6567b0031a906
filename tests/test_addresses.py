"""International, multi-line and PO box addresses (recognizer level), and where the span
ends (the sentence's punctuation stays outside)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redactors.recognizers import InternationalAddressRecognizer, StreetAddressRecognizer
from redactors.recognizers.address_words import trim_end

THRESHOLD = 0.35


@pytest.fixture(scope="module")
def recognizer() -> InternationalAddressRecognizer:
    return InternationalAddressRecognizer()


def _found(recognizer, text: str) -> list[str]:
    return [
        text[r.start : r.end]
        for r in recognizer.analyze(text, ["STREET_ADDRESS"])
        if r.score >= THRESHOLD
    ]


ADDRESSES = [
    # DE / AT / CH
    ("I live at Hauptstraße 5, 10115 Berlin.", "Hauptstraße 5, 10115 Berlin"),
    ("send it to Musterweg 12a please", "Musterweg 12a"),
    ("Alt Reinickendorf Str. 63", "Alt Reinickendorf Str. 63"),
    ("Postfach 12 34", "Postfach 12 34"),
    # a name joined to its type word by hyphens
    ("meet at Hannelore-Jockel-Gasse 7/6 tomorrow", "Hannelore-Jockel-Gasse 7/6"),
    ("I moved to Karl-Heinz-Wernecke-Weg 28-56", "Karl-Heinz-Wernecke-Weg 28-56"),
    ("Sara-Hauffer-Ring 25, 10115 Berlin", "Sara-Hauffer-Ring 25, 10115 Berlin"),
    ("I moved to Häringring 1/4", "Häringring 1/4"),  # "-ring", no English word
    # FR (a comma after the number, French style)
    (
        "ship to 384, rue Frédérique Ollivier, 13771 Fernandes",
        "384, rue Frédérique Ollivier, 13771 Fernandes",
    ),
    ("send it to 12 rue de la Paix, 75002 Paris", "12 rue de la Paix, 75002 Paris"),
    ("we met at 5 avenue Foch yesterday", "5 avenue Foch"),
    # ES / IT / PT
    ("Calle Mayor 3, Madrid", "Calle Mayor 3, Madrid"),
    ("the office is Via Roma 10", "Via Roma 10"),
    ("Rua Augusta 27, Lisboa", "Rua Augusta 27, Lisboa"),
    # a comma before the number, Italian and Portuguese style; a province in brackets
    ("deliver to Piazza Trapanese, 41", "Piazza Trapanese, 41"),
    ("meet at Largo de Gonçalves, 168 tomorrow", "Largo de Gonçalves, 168"),
    (
        "ship to Stretto Pomponio, 2 Appartamento 88, 80137, Napoli (NA)",
        "Stretto Pomponio, 2 Appartamento 88, 80137, Napoli (NA)",
    ),
    ("Avenida Maia, 317, 4817-682 Castelo Branco", "Avenida Maia, 317, 4817-682 Castelo Branco"),
    ("Pasadizo Cosme Solana 4", "Pasadizo Cosme Solana 4"),
    (
        "Travessa Silva Porto, S/N, 3696-861 Paredes",
        "Travessa Silva Porto, S/N, 3696-861 Paredes",
    ),
    ("Av Dinis Assunção, 35, 4348-050 Paços", "Av Dinis Assunção, 35, 4348-050 Paços"),
    ("I moved to Rua Fernandes, S/N", "Rua Fernandes, S/N"),  # no digit at all
    # NL
    ("Keizersgracht 123\n1015 CJ Amsterdam", "Keizersgracht 123\n1015 CJ Amsterdam"),
    ("I moved to Jacobhof 17", "Jacobhof 17"),
    ("Strandstigen 21, Uppsala", "Strandstigen 21, Uppsala"),
    ("Griffenfelds Allé 44", "Griffenfelds Allé 44"),
    ("pl. Norwida 11, 80-803 Lublin", "pl. Norwida 11, 80-803 Lublin"),
    # PL / HU / Nordic / FI
    ("address: ul. Zuchów 65", "ul. Zuchów 65"),
    ("Jerry lives at Király u. 23., Budapest", "Király u. 23., Budapest"),
    ("Håndværkervej 35, Odense", "Håndværkervej 35, Odense"),
    # a Nordic ending after a stem of one or two letters ("Ny": new, "Å": stream)
    ("Timo lives at Nygränd 6", "Nygränd 6"),
    ("I live at Nyvägen 98 now", "Nyvägen 98"),
    ("meet at Nygatan 12", "Nygatan 12"),
    ("the flat on Åvej 70", "Åvej 70"),
    ("Koskikatu 83 Apt. 343, Churton Park", "Koskikatu 83 Apt. 343, Churton Park"),
    # UK
    ("10 Downing Street", "10 Downing Street"),
    ("Flat 3, 12 High Street\nLondon SW1A 2AA", "Flat 3, 12 High Street\nLondon SW1A 2AA"),
    ("postcode: SW1A 2AA", "SW1A 2AA"),
    # a Canadian postal code after the province; Commonwealth street types
    (
        "ship to 1544 Christian Circles, Davidmouth, NU V9X 3P1",
        "1544 Christian Circles, Davidmouth, NU V9X 3P1",
    ),
    ("I moved to 850 Savannah Arcade", "850 Savannah Arcade"),
    ("we live at 12 Harbour Esplanade now", "12 Harbour Esplanade"),
    # a flat or studio, then its street with no number
    (
        "ship to Flat 50v, Shepherd Brooks, South Tina, G2 6LD",
        "Flat 50v, Shepherd Brooks, South Tina, G2 6LD",
    ),
    ("meet at Studio 52h\nLaw Stream tomorrow", "Studio 52h\nLaw Stream"),
    # PO boxes, military post
    ("P.O. Box 123", "P.O. Box 123"),
    ("PSC 4926, Box 7979\nAPO AA 63682", "PSC 4926, Box 7979\nAPO AA 63682"),
    # named postcode
    ("My zip code is 98547", "98547"),
    # untyped street names, confirmed by a unit or a block
    (
        "The letter arrived at 76 Nurme 2 Suite 485, GRIMSTAD, Fiji 34730 last night.",
        "76 Nurme 2 Suite 485, GRIMSTAD, Fiji 34730",
    ),
    ("56 Canelones 2266\nFahrdorf\n, SH\n 05775", "56 Canelones 2266\nFahrdorf\n, SH\n 05775"),
    ("she lives at 18 Třebčínská 860, Horka nad Moravou", "18 Třebčínská 860, Horka nad Moravou"),
    # a multi-line block is one span, quote marks included
    (
        "As promised:\n\n"
        "Västra Husby 26 Veitonen Street\n Apt. 152\n SLUSSFORS\n Czech Republic 22764",
        "Västra Husby 26 Veitonen Street\n Apt. 152\n SLUSSFORS\n Czech Republic 22764",
    ),
    (
        "Kayla\n>17 31 Rue Al Imam Al Bakri\n>Suite 656\n>Cite Merzgui\n>Estonia 38695",
        "17 31 Rue Al Imam Al Bakri\n>Suite 656\n>Cite Merzgui\n>Estonia 38695",
    ),
    # AU: Australia Post's street types, "unit/number", a level before the number, "STATE,
    # postcode"
    ("ship to 13 Matthew Rotary, Mooreburgh, NT, 2619", "13 Matthew Rotary, Mooreburgh, NT, 2619"),
    ("I moved to 3/141 Crane Loop", "3/141 Crane Loop"),
    ("deliver to 436/82 Mccall Quadrant pls", "436/82 Mccall Quadrant"),
    (
        "ship to Level 4 25 Johnson Fire Track, Williamston, TAS, 2937",
        "Level 4 25 Johnson Fire Track, Williamston, TAS, 2937",
    ),
    (
        "ship to Apt. 459 9 Devin Centreway, Jamesberg, QLD, 2853",
        "Apt. 459 9 Devin Centreway, Jamesberg, QLD, 2853",
    ),
    # IE: an Eircode, in an address or on its own (one Eircode is one dwelling)
    (
        "I live at 18 Mullaney Street, Rowan, Co. Dublin, D02 X285",
        "18 Mullaney Street, Rowan, Co. Dublin, D02 X285",
    ),
    ("my eircode is A65 F4E2", "A65 F4E2"),
    ("post it to T12XY34", "T12XY34"),
    # lower-case text
    (
        "tamara\n\n36 19 folkestone road\n suite 482\n wincle\n spain 63488",
        "36 19 folkestone road\n suite 482\n wincle\n spain 63488",
    ),
    # the block's last line, then the sentence goes on
    (
        "a taxi to 30 Celso Emilio Ferreiro 90\n Suite 427\n Caspe\n Trinidad and Tobago 90850. "
        "Please call me",
        "30 Celso Emilio Ferreiro 90\n Suite 427\n Caspe\n Trinidad and Tobago 90850",
    ),
]


@pytest.mark.parametrize(("text", "value"), ADDRESSES, ids=[a[1][:30] for a in ADDRESSES])
def test_international_addresses_are_one_span(recognizer, text, value):
    assert _found(recognizer, text) == [value]


NOT_ADDRESSES = [
    "we have 3 Windows 10 laptops",
    "update to Python 3 and Sprint 12",
    "2 Pixel 8, 3 Galaxy S23",
    "Top 3 Key Points",
    "page 3 main view is broken",
    "it's a 10 min drive",
    "see chapter 7 section 2",
    "sent 3 via Slack",
    "5 place settings for dinner",
    "Spring 2024 release",
    "room 5 at 3pm",
    "the M1 8GB model",
    "PR 4521 will land tomorrow",
    "order 12345678 shipped, tracking 1Z999",
    "Release 2\nThanks,\nAnna",
    "During the 1990s, Deloitte grew",
    "During 1990, Deloitte grew",
    "Sprint 12, floor 3 is booked",
    "read Passage 4 tonight",
    "Via 2 routes",
    "WWE App Exclusive , April 21 , 2014 | http://t.co/x",
    "see you Monday 5, 2014 style",
    "Via Zoom, 2 people joined",
    "we need 2, avenue tickets",
    "the studio 5 session",
    "flat 3 was nice, Great Park later",
    "Olympic Ring 5 is a movie",
    "I bought 2 Ring doorbells",
    "Offering 3 options today",
    "Monitoring 24/7 is on",
    "notepad 3 and keypad 2",
    "send the IBAN GB03 ELPF 1300 7072 4506 24 to accounting",
    # not Eircodes: an identifier of letters only or digits only
    "the V12 RACE was fun",
    "F16 2020 deployment notes",
    # Australia Post types that are everyday words in titles are left out
    "3 Uber Ride credits left",
    "installed 2 Microsoft Edge updates",
    "Season 2 Red Line finale",
    # English words with a street ending ("-gade", "-kade"), and a short stem in lower case
    "the Brigade 5 moved north",
    "Renegade 2 is out",
    "Blockade 3 lifted",
    "a nygatan 3 typo",
]


@pytest.mark.parametrize("text", NOT_ADDRESSES)
def test_chat_is_not_an_address(recognizer, text):
    assert _found(recognizer, text) == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("I live at 42 Elm Street.", "42 Elm Street"),
        ("I live at 42 Elm St.", "42 Elm St"),  # the one period ends the sentence
        ("42 Elm St. in Springfield", "42 Elm St."),  # the sentence goes on
        ("meet at 42 Elm St., ok", "42 Elm St."),
        ("ship to 4759 William Haven Apt. 194, Springfield, IL 62704.", None),
    ],
)
def test_the_sentences_full_stop_stays_outside(text, value):
    found = _found(StreetAddressRecognizer(), text)
    if value is None:
        assert found and not found[0].endswith(".")
    else:
        assert found == [value]


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("ab1 .,\n"), max_size=12),
    st.sampled_from(["", ".", ",", ", ", ".\n", ". Then"]),
)
def test_trim_end_never_keeps_trailing_separators(body, tail):
    text = "12 Elm St" + body + tail
    end = trim_end(text, 0, len(text) - len(tail) + (1 if tail.startswith((".", ",")) else 0))
    assert end <= len(text)
    assert text[end - 1] not in " \t\n,;:"


def test_no_nlp_needed():
    """Text-only: a text whose only finding is an address needs no NLP."""
    from presidio_analyzer import EntityRecognizer

    from redactors.recognizers import GroupRegexRecognizer

    recognizer = InternationalAddressRecognizer()
    assert isinstance(recognizer, GroupRegexRecognizer) and isinstance(recognizer, EntityRecognizer)
    assert not recognizer.context


def test_anchor_searches_find_what_finditer_finds(
    dev_texts: list[str], chat_texts: list[str]
) -> None:
    """The windowed search (intl_address.typed_number_after) and the searches from digit
    runs (``matches_from``: house-number-first patterns) return the patterns' own
    ``finditer`` matches: on eval, chat and PII-dense texts and on layouts at its edges
    (tabs, runs of blanks, four name words, matches next to each other)."""
    from redactors.recognizers.intl_address import (
        _US_ANCHORS,
        TYPED_NUMBER_AFTER,
        TYPED_NUMBER_FIRST,
        UNTYPED_NUMBER_FIRST,
        digit_run_starts,
        matches_from,
        typed_number_after,
    )
    from redactors.testing.synth import generate_sample

    dense = generate_sample(seed=7, n_users=20, n_messages=600, n_posts=0, message_mix="pii_dense")
    edges = [
        "Calle Mayor 3",
        "x\tHauptstraße\t5b",
        "(Calle  Mayor 3) and Rue 5",
        "Via   Roma Nuova Bella Sotto 12, Via Roma Nuova Bella Sotto Sopra 12",
        "ul. Zuchów 65 and Alt Reinickendorf Str. 63/2",
        "Bahnhofstraße 1 Bahnhofstraße 2\nKirchweg 3-5",
    ]
    edges += [
        "12 rue de la Paix, 5 avenue Foch; 221B Baker Street and 742 EVERGREEN TERRACE",
        "x12 Main St, #12 Main St, 3.12 Main St, 1990s Main St\n30 N. Stadion\n262 Pavlou Drandaki",
        "１２ Main Street and ٣ Oak Ave",  # digits of other scripts
        "Via Roma, 10 and Piazza Trapanese, 41; Via Zoom, 2 people",  # commas before it
        "Sara-Hauffer-Ring 25, Karl-Heinz-Wernecke-Weg 28-56",  # hyphen-joined names
        "Travessa Silva Porto, S/N and Calle Real s/n, Av Dinis Assunção, 35",  # no number
        "Häringring 1/4, Offering 3, offering 3",  # "-ring": checked after the match
        "Nygatan 12, Åvej 70, ågatan 3, Brigade 5",  # compounds: checked after the match
    ]
    texts = dev_texts + chat_texts + dense.messages["text"].to_list() + edges
    matched = 0
    for text in texts:
        expected = [m.span() for m in TYPED_NUMBER_AFTER.finditer(text)]
        assert [m.span() for m in typed_number_after(text)] == expected, text
        matched += bool(expected)
        numbers = digit_run_starts(text)
        for pattern in (TYPED_NUMBER_FIRST, UNTYPED_NUMBER_FIRST, *_US_ANCHORS):
            expected = [m.span() for m in pattern.finditer(text)]
            assert [m.span() for m in matches_from(pattern, text, numbers)] == expected, text
            matched += bool(expected)
    assert matched > 20  # the edges and the dense mix hold streets of each kind
