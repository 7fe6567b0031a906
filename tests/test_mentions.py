"""Matching mentions of non-consented people (no model needed)."""

from redactors.mentions import NonConsentedMentions

CONSENTED = {"UCONSENT1"}


def matcher(handles=(), names=()):
    return NonConsentedMentions(lambda uid: uid in CONSENTED, handles, names)


def found(m, text):
    return [text[s:e] for s, e in m.find(text)]


def test_tokens_of_anyone_not_consented_are_found_even_without_a_registry_row():
    m = matcher()
    text = "cc <@UCONSENT1> and <@UOPTEDOUT9> and <@UNEVERSEEN|Bob>"
    assert found(m, text) == ["<@UOPTEDOUT9>", "<@UNEVERSEEN|Bob>"]


def test_handles_need_the_at_and_whole_handles():
    m = matcher(handles=["@donna90", "mike"])
    text = "ping @Donna90, @donna901 and mike and @mike. mail donna90@x.com"
    assert found(m, text) == ["@Donna90", "@mike"]


def test_display_names_match_case_and_spacing_variants_as_whole_words():
    m = matcher(names=["Alma Quist", "Al"])  # "Al" is too short to match safely
    text = "alma  quist said so; Almaquist no; Alma Quistly no; ALMA QUIST yes; Al no"
    assert found(m, text) == ["alma  quist", "ALMA QUIST"]


def test_surrogate_tokens_written_by_the_pipeline_are_not_mistaken_for_users():
    assert found(matcher(), "thanks <@user_1a2b3c4d>!") == []


def test_empty_matcher_still_checks_tokens():
    assert matcher().size == 0
    assert found(matcher(), "hi <@UABCDEFG1>") == ["<@UABCDEFG1>"]
