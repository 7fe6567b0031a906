"""Word lists and regex pieces of street addresses (used by street_address.py)."""

from __future__ import annotations

import re

# USPS Publication 28 street suffixes (primary names), capitalised in a title-case address,
# and Commonwealth street types.
_STREET_SUFFIXES = (
    "Alley Avenue Bayou Beach Bend Bluff Bluffs Bottom Boulevard Branch Bridge Brook Brooks "
    "Burg Burgs Bypass Camp Canyon Cape Causeway Center Centers Circle Circles Cliff Cliffs "
    "Club Common Commons Corner Corners Course Court Courts Cove Coves Creek Crescent Crest "
    "Crossing Crossroad Curve Dale Dam Divide Drive Drives Estate Estates Expressway "
    "Extension Extensions Fall Falls Ferry Field Fields Flat Flats Ford Fords Forest Forge "
    "Forges Fork Forks Fort Freeway Garden Gardens Gateway Glen Glens Green Greens Grove "
    "Groves Harbor Harbors Haven Heights Highway Hill Hills Hollow Inlet Island Islands Isle "
    "Junction Junctions Key Keys Knoll Knolls Lake Lakes Land Landing Lane Light Lights Loaf "
    "Lock Locks Lodge Loop Mall Manor Manors Meadow Meadows Mews Mill Mills Mission Motorway "
    "Mount Mountain Mountains Neck Orchard Oval Overpass Park Parks Parkway Parkways Pass "
    "Passage Path Pike Pine Pines Place Plain Plains Plaza Point Points Port Ports Prairie "
    "Radial Ramp Ranch Rapid Rapids Rest Ridge Ridges River Road Roads Route Row Rue Run "
    "Shoal Shoals Shore Shores Skyway Spring Springs Spur Spurs Square Squares Station "
    "Stravenue Stream Street Streets Summit Terrace Throughway Trace Track Trafficway Trail "
    "Trailer Tunnel Turnpike Underpass Union Unions Valley Valleys Via Viaduct View Views "
    "Village Villages Ville Vista Walk Walks Wall Way Ways Well Wells"
    # and the street types of the UK, Ireland, Australia and New Zealand that USPS lacks
    " Approach Arcade Circuit Close Concourse Esplanade Grange Parade Quays Strand Tollway Wynd"
    # Australia Post's street types (AS/NZS 4819) that name little but a street; not those
    # that are everyday words in the title of a thing (Edge, Gate, Line, Little, Ride, Rise,
    # Top, Turn, Access, Chase, Reserve...): "2 Microsoft Edge", "3 Uber Ride", "Season 2 Red
    # Line" are no addresses.
    " Alleyway Amble Anchorage Basin Brae Broadway Brow Byway Centreway Circlet Colonnade"
    " Copse Corso Courtyard Crossway Cruiseway Deviation Distributor Driveway Fairway"
    " Firetrail Footway Foreshore Frontage Glade Gully Highroad Interchange Intersection"
    " Laneway Lookout Meander Nook Parklands Pathway Piazza Plateau Promenade Quadrangle"
    " Quadrant Quay Ramble Ridgeway Riverway Riviera Roadway Ronde Rosebowl Rotary Siding"
    " Tarn Thoroughfare Tor Trunkway Vale Villas Walkway Wharf"
).split()
_SUFFIX_ABBREVIATIONS = (
    "Aly Ave Blvd Cir Ct Cres Dr Expy Fwy Hwy Ln Pkwy Pl Plz Rd Sq St Ste Ter Trl Xing"
).split()
# Strong suffixes: little but a street is called that, even in chat ("meet me at 9 oak
# street", "42 elm st"), so an address in any case on their own. The others also name what
# chat counts and titles ("5 unit tests pass", "3 key points", "Release Branch", "Day Pass").
_STRONG_SUFFIXES = (
    "Street St Avenue Ave Road Rd Lane Ln Drive Dr Court Ct Boulevard Blvd Place Terrace "
    "Parkway Pkwy Highway Hwy Circle Cir"
).split()
_SUFFIXES = _STREET_SUFFIXES + _SUFFIX_ABBREVIATIONS
_WEAK_SUFFIXES = [w for w in _SUFFIXES if w not in _STRONG_SUFFIXES]
# Abbreviations that are chat words in lower case ("review 2 PRs plz"): capitalised only.
_CAPITALISED_ONLY = ["Plz", "Ste", "Ter", "Pl"]
# Roads with a number: "12345 US Highway 19", "900 State Route 9".
_NUMBERED_ROAD_SUFFIXES = ["Highway", "Hwy", "Route", "Rte", "Freeway", "Fwy"]


def _alternation(words: list[str]) -> str:
    return "|".join(sorted(set(words), key=len, reverse=True))


def _suffix(numbered: list[str], others: list[str]) -> str:
    """A street suffix: a numbered road's, with its number ("US Highway 19"), or another."""
    return (
        rf"(?:{_alternation(numbered)})(?:\s+\d{{1,5}}[A-Z]?)?\b"
        rf"|(?:{_alternation(others)})\b"
    )


def _title_case_forms(words: list[str]) -> list[str]:
    """How a suffix is written after a capitalised street name: capitalised, in capitals
    ("742 EVERGREEN TERRACE"; not "PLZ"), and in lower case for the strong suffixes and the
    abbreviations that are no chat word ("42 Elm drive", "9 Oak st", "5 Elm sq")."""
    forms = []
    for word in words:
        forms.append(word)
        if word != "Plz":
            forms.append(word.upper())
        if word in _STRONG_SUFFIXES or (
            word in _SUFFIX_ABBREVIATIONS and word not in _CAPITALISED_ONLY
        ):
            forms.append(word.lower())
    return forms


# Words that are never part of a US street name: function words ("PR #2274 and should land
# Monday") and what a count in chat counts ("10 min drive", "3 more days", "2 hours ...",
# "3 PM Dr. Lee", "1 TB drive", "4 wheel drive"). Not first names ("Will Rogers Blvd"), not
# "A"/"I"/"us"/"of"/"the" ("US Highway 19", "Lake of the Isles Pkwy"), not ordinals in
# words ("Second Ave") or "Day St", "Story Rd", "Miles Canyon".
_NOT_STREET_WORDS = (
    "and or but nor should would could shall must might is are was were been being has "
    "have had does did not to in on at by for with from than that this it its we you "
    "they he she me my your their them then "
    "min mins minute minutes hr hrs hour hours sec secs seconds days week weeks month months "
    "year years more less few fewer many extra am pm plz pls tb gb mb kb wheel"
).split()
# ... and, in lower case only, what is a street name when capitalised: "5 miles drive",
# "2 nights near the park", "2 blocks down the road", "a 2 way street", "a 2 lane road".
_NOT_LOWER_CASE_STREET_WORDS = (
    "mile miles km day night nights block blocks times way ways lane lanes"
).split()
_NOT_STREET_WORD = rf"(?!(?i:{_alternation(_NOT_STREET_WORDS)})\b)"
_NOT_LOWER_CASE_STREET_WORD = rf"(?!(?-i:{_alternation(_NOT_LOWER_CASE_STREET_WORDS)})\b)"
# Chat and work words that, before a weak suffix, make a count or a title, not a street:
# "Top 3 Key Points", "Sprint 12 Release Branch", "buy a 3 Day Pass", "1 Home Run",
# "2 Required Fields". No names and no place words (Oak, Lake, Park, Green, Mill, State...):
# "Hicks Branch", "Cox View", "Green Valley" stay addresses.
_COMMON_WORDS = (
    "all any both each every few many most other several some one two three four five six "
    "first second third next last final new old big small great good bad best better quick "
    "easy hard simple full half total free top bottom main key core basic critical major "
    "minor day daily week weekly month monthly annual season night morning evening weekend "
    "test tests unit release sprint story feature bug fix hotfix patch merge commit code "
    "build deploy data user users team project product review design page demo task ticket "
    "issue dev prod staging beta alpha master default stable local remote api app web mobile "
    "admin access secret public private primary foreign list grid detail table tree split "
    "print text form input output required optional hidden custom file stack event feedback "
    "error debug home room bonus action talking bullet pain selling starting turning tipping "
    "sticking focus power reward loyalty experience skill hit game games battle player level "
    "boarding ski bus backstage guest press vip photo dry trial practice fun coffee food "
    "supply training soft crash hot fast slow express usb serial network ssh vpn payment "
    "cloud tech security ai video audio live sound music book fan online side front back"
).split()
# Lower-case particles inside a street name: "Lake of the Isles Pkwy", "Paseo de la Playa".
_PARTICLES = "of the de la del du da di le los las van von".split()
_PARTICLE = rf"(?:{_alternation(_PARTICLES)})"
_ALL_SUFFIXES = _SUFFIXES + _NUMBERED_ROAD_SUFFIXES
# A title-case name of common words before a weak suffix that ends the address is left to
# the any-case pattern (0.25): "Top 3 Key Points", but "3 Main Park Drive" is an address.
_NOT_COMMON_WORDS_AND_WEAK_SUFFIX = (
    rf"(?!(?i:(?:(?:{_alternation(_COMMON_WORDS + _PARTICLES)})\s+){{1,4}}"
    rf"(?:{_alternation(_WEAK_SUFFIXES)})\b(?!\s+(?:{_alternation(_ALL_SUFFIXES)})\b)))"
)
# A house number, not an issue, PR or order number ("#2274"), a price, a version ("v1.2"),
# a time ("10:30") or part of a path; after a unit's number and a slash as Australians
# write "unit 3, number 141": "3/141 Crane Loop", "12A/5 Elm St".
_HOUSE_NUMBER = r"(?<![#$.:/])\b(?:\d{1,4}[A-Za-z]?/)?\d{1,6}"
_ORDINAL = r"\d{1,3}(?:st|nd|rd|th)"  # "5th Ave", "W 42nd St"
_UNIT = r"(?:,?\s+(?i:apt|apartment|suite|ste|unit|#)\.?\s*#?(?:\d[A-Za-z0-9-]{0,7}|[A-Za-z]\b))"

# Title case, matched case-sensitively: the street name's words start with a capital (or
# are ordinals); the suffix as ``_title_case_forms`` says.
_TITLE_WORD = rf"{_NOT_STREET_WORD}(?:[A-Z][A-Za-z'.-]*|{_ORDINAL})"
TITLE_CASE_ADDRESS = (
    rf"{_HOUSE_NUMBER}[A-Z]?\s+"  # house number, "221B"
    r"(?:(?:[NSEW]|N[EW]|S[EW]|North|South|East|West)\.?\s+)?"  # directional
    rf"{_NOT_COMMON_WORDS_AND_WEAK_SUFFIX}"
    rf"{_TITLE_WORD}(?:\s+(?:{_PARTICLE}\s+){{0,2}}{_TITLE_WORD}){{0,3}}\s+"  # street name
    rf"(?:{_suffix(_title_case_forms(_NUMBERED_ROAD_SUFFIXES), _title_case_forms(_SUFFIXES))})"
    r"\.?"  # USPS suffix
    rf"{_UNIT}?"
    r"(?:,\s*[A-Z][A-Za-z'.-]+(?:\s[A-Z][A-Za-z'.-]+){0,3},\s*[A-Z]{2}"  # City, ST
    r"(?:\s+\d{5}(?:-\d{4})?)?\b)?"  # zip
)
# Any case ("42 elm st", "i live at 9 oak run"); the name neither starts nor ends with a
# particle ("2 blocks down the road").
_ANY_CASE_WORD = (
    rf"(?!(?:of|the|a|an)\b){_NOT_STREET_WORD}{_NOT_LOWER_CASE_STREET_WORD}"
    rf"(?:[a-z][a-z'.-]*|{_ORDINAL})"
)


def _any_case_address(suffix: str) -> str:
    return (
        r"(?i:"
        rf"{_HOUSE_NUMBER}[a-z]?\s+"
        r"(?:(?:[nsew]|n[ew]|s[ew]|north|south|east|west)\.?\s+)?"
        rf"{_ANY_CASE_WORD}(?:\s+(?:{_PARTICLE}\s+){{0,2}}{_ANY_CASE_WORD}){{0,3}}\s+"
        rf"(?:{suffix})\.?"
        rf"{_UNIT}?"
        r"(?:,\s*[a-z][a-z'.-]+(?:\s[a-z][a-z'.-]+){0,3},\s*[a-z]{2}(?:\s+\d{5}(?:-\d{4})?)?\b)?"
        r")"
    )


# A strong suffix in any case: an address on its own, just above the run's threshold.
STRONG_ANY_CASE_ADDRESS = _any_case_address(
    _suffix([w for w in _NUMBERED_ROAD_SUFFIXES if w in _STRONG_SUFFIXES], _STRONG_SUFFIXES)
)
# Any suffix in any case: the shape of chat counts ("5 unit tests pass", "1 home run",
# "office: 3 key points"), so below the threshold unless an address-introducing phrase
# is right before it.
ANY_CASE_ADDRESS = _any_case_address(_suffix(_NUMBERED_ROAD_SUFFIXES, _SUFFIXES))

# What introduces an address, right before it: "I live at", "she's staying in", "based
# in", "moved to", "just moved in at", "ship it to", "send the box to", "drop it off at",
# "pick me up at", "my address is", "address:", "our new place is at". Not Presidio's
# context words: they match the lemmas of the 5 words before a finding across sentences and
# parts of speech ("the fix is live and all 5 unit tests pass", "send me 2 screenshots of
# the main view"), and "let's move to 3 key points" is no move.
ADDRESS_INTRO = re.compile(
    r"(?:"
    r"\b(?:lives?|lived|living|stay(?:s|ed|ing)?|based|located|resid(?:e|es|ed|ing))"
    r"\s+(?:at|on|in)"
    r"|\b(?:moved|moving|relocat(?:ed|ing))\s+(?:(?:back|in)\s+)?(?:to|into|at)"
    r"|\b(?:ship(?:s|ped|ping)?|send(?:s|ing)?|sent|deliver(?:s|ed|ing|y)?|mail(?:s|ed|ing)?"
    r"|bring(?:s|ing)?|brought|drop(?:s|ped|ping)?)"
    r"(?:\s+(?:it|them|this|that|these|those|(?:the|my|your|our|a)\s+[a-z]+))?"
    r"(?:\s+(?:over|off))?\s+(?:to|at)"
    r"|\bpick(?:s|ed|ing)?\s+(?:me|us|him|her|them|it)\s+up\s+(?:at|from)"
    r"|\baddr(?:ess)?(?:\s+is(?:\s+now)?|\s*:)"
    r"|\b(?:my|our|his|her|their)\s+(?:new\s+)?"
    r"(?:house|place|home|apartment|apt|flat|condo|office)\s+is(?:\s+(?:at|on))?"
    r")\s*:?\s*\Z",
    re.IGNORECASE,
)


# What follows a sentence's full stop: the end of the text or line, a capital, a quote.
_SENTENCE_AFTER = re.compile(r"\s*(?:\Z|\n)|\s+[^\W\d_a-z]|\s+[\"'(\[]")


def trim_end(text: str, start: int, end: int) -> int:
    """``end`` without trailing commas, colons, spaces or the sentence's full stop.

    A period that belongs to the address stays in when the sentence goes on after it
    ("Király u. 23., Budapest", "12 Elm St. in Springfield"); at the end of a sentence
    ("I live at 12 Elm St." or "... 12 Elm Street.") it stays out: the one period is both
    the abbreviation's and the sentence's, and the redacted text keeps its sentence end.
    presidio-research's generated gold spans end before the sentence's period too."""
    while end > start:
        char = text[end - 1]
        if char in " \t\n,;:" or (char == "." and _SENTENCE_AFTER.match(text, end)):
            end -= 1
        else:
            return end
    return end
