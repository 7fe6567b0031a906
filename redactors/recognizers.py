"""Custom Presidio recognizers for chat and posts, each a small registered unit.

- OfflineEmailRecognizer: Presidio's email recognizer, with its top-level-domain check run
  against tldextract's bundled suffix snapshot, so it never reaches for the network.
- GatedUrlRecognizer: Presidio's URL recognizer, not run on texts its patterns cannot match.
- UserMentionRecognizer: @handles and Slack-style mention tokens (``<@U024BE7LH>``), which
  carry user ids and handles straight into the text.
- Mastercard2SeriesRecognizer: card numbers in the 2221-2720 range Presidio's pattern misses.
- StreetAddressRecognizer: US-style street addresses (number, name, USPS street suffix,
  optional unit and "City, ST 12345"); spaCy finds cities, not street addresses.
"""

from __future__ import annotations

import re
from typing import ClassVar

import regex
import tldextract
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    UrlRecognizer,
)


class OfflineEmailRecognizer(EmailRecognizer):
    """EmailRecognizer whose domain validation uses the suffix list shipped with tldextract.

    Presidio's version calls ``tldextract.extract``, whose default extractor downloads the
    Public Suffix List on first use (presidio#1205): offline that prints tracebacks and can
    hang behind a firewall. ``suffix_list_urls=()`` and no cache directory mean: snapshot only.
    """

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(supported_language=supported_language)
        self._extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    def validate_result(self, pattern_text: str) -> bool:
        return self._extract(pattern_text).fqdn != ""


# Every pattern of Presidio's URL recognizer holds this, then its list of top-level domains
# ``(?:(?:com)|(?:edu)|...)``.
_URL_HOST_END = r"[a-z0-9.\-]{1,253}[.]"
_TLD_GROUP = regex.compile(r"\(\?:\(\?:[a-z0-9\-]+\)(?:\|\(\?:[a-z0-9\-]+\))*\)")
# Full case folding matches one character against several ("ﬆ" against "st"): the gate's
# one-character look-ahead would not follow.
_FULL_CASE = regex.FULLCASE | regex.V1


def url_gate(patterns: list[Pattern]) -> regex.Pattern[str] | None:
    r"""A regex that finds something in every text Presidio's URL patterns match; None for
    any other patterns (a user's own list may not need a domain: ``localhost:8080``).

    Each of Presidio's URL patterns needs ``[a-z0-9.\-]{1,253}[.]`` then one of its ~1,500
    top-level domains: so wherever one matches, the last character before the dot, the dot
    and the domain match ``[a-z0-9.\-][.](?:<the domains>)`` (a look-ahead for the domains'
    first letters fails fast before trying the list). That takes 0.01 s over 4,980 chat
    texts where the patterns take 0.70 s: each tries a 253-character run at every letter.
    The domain list is read from the patterns, so a new list in Presidio is followed."""
    if [p.regex for p in patterns] != [p.regex for p in UrlRecognizer.PATTERNS]:
        return None
    groups: set[str] = set()
    for pattern in patterns:
        at = pattern.regex.find(_URL_HOST_END + "(?:")
        found = _TLD_GROUP.match(pattern.regex, at + len(_URL_HOST_END)) if at >= 0 else None
        if found is None:
            return None
        groups.add(found.group())
    if len(groups) != 1:
        return None
    tlds = groups.pop()
    firsts = "".join(sorted({word[0] for word in regex.findall(r"\(\?:([a-z0-9\-]+)\)", tlds)}))
    return regex.compile(rf"[a-z0-9.\-][.](?=[{firsts}]){tlds}", flags=regex.IGNORECASE)


class GatedUrlRecognizer(UrlRecognizer):
    """Presidio's UrlRecognizer, same patterns and results, not run on a text where
    ``url_gate`` finds nothing (most chat: a URL needs a dot right before a domain)."""

    def __init__(self, base: UrlRecognizer) -> None:
        super().__init__(
            patterns=base.patterns,
            context=base.context,
            supported_language=base.supported_language,
            supported_entity=base.supported_entities[0],
            name=base.name,
        )
        self.global_regex_flags = base.global_regex_flags
        self.version = base.version
        self.score_thresholds = base.score_thresholds
        self.gate = url_gate(self.patterns)

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        flags = regex_flags or self.global_regex_flags
        if self.gate is not None and not flags & _FULL_CASE and self.gate.search(text) is None:
            return []
        return super().analyze(text, entities, nlp_artifacts, regex_flags)


# Broadcast mentions name nobody.
_NON_PERSONAL_MENTIONS = frozenset({"@here", "@channel", "@everyone", "@all", "@team"})


class UserMentionRecognizer(PatternRecognizer):
    """@handles and Slack-style ``<@U…>`` / ``<@U…|name>`` mention tokens."""

    ENTITY = "USER_MENTION"
    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern("slack_mention_token", r"<@[UW][A-Z0-9]{6,14}(?:\|[^>\n]*)?>", 0.95),
        # Not preceded by a word character, dot, slash or @: excludes the "@domain" of emails.
        Pattern("at_handle", r"(?<![\w.@/])@[A-Za-z0-9_][A-Za-z0-9_.-]{0,38}[A-Za-z0-9_]", 0.6),
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            supported_language=supported_language,
            name="UserMentionRecognizer",
        )

    def invalidate_result(self, pattern_text: str) -> bool:
        return pattern_text.lower() in _NON_PERSONAL_MENTIONS


# USPS Publication 28 street suffixes (primary names), capitalised in a title-case address.
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
# a time ("10:30") or part of a path.
_HOUSE_NUMBER = r"(?<![#$.:/])\b\d{1,6}"
_ORDINAL = r"\d{1,3}(?:st|nd|rd|th)"  # "5th Ave", "W 42nd St"
_UNIT = r"(?:,?\s+(?i:apt|apartment|suite|ste|unit|#)\.?\s*#?(?:\d[A-Za-z0-9-]{0,7}|[A-Za-z]\b))"

# Title case, matched case-sensitively: the street name's words start with a capital (or
# are ordinals); the suffix as ``_title_case_forms`` says.
_TITLE_WORD = rf"{_NOT_STREET_WORD}(?:[A-Z][A-Za-z'.-]*|{_ORDINAL})"
_TITLE_CASE_ADDRESS = (
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
_STRONG_ANY_CASE_ADDRESS = _any_case_address(
    _suffix([w for w in _NUMBERED_ROAD_SUFFIXES if w in _STRONG_SUFFIXES], _STRONG_SUFFIXES)
)
# Any suffix in any case: the shape of chat counts ("5 unit tests pass", "1 home run",
# "office: 3 key points"), so below the threshold unless an address-introducing phrase
# is right before it.
_ANY_CASE_ADDRESS = _any_case_address(_suffix(_NUMBERED_ROAD_SUFFIXES, _SUFFIXES))

# What introduces an address, right before it: "I live at", "she's staying in", "based
# in", "moved to", "just moved in at", "ship it to", "send the box to", "drop it off at",
# "pick me up at", "my address is", "address:", "our new place is at". Not Presidio's
# context words: they match the lemmas of the 5 words before a finding across sentences and
# parts of speech ("the fix is live and all 5 unit tests pass", "send me 2 screenshots of
# the main view"), and "let's move to 3 key points" is no move.
_ADDRESS_INTRO = re.compile(
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


class StreetAddressRecognizer(PatternRecognizer):
    """US street addresses: number, name, USPS suffix, optional unit and "City, ST 12345".

    Presidio compiles patterns with re.IGNORECASE unless told otherwise, which made the
    title-case street name no filter at all ("10 min drive", "5 unit tests pass" were
    addresses). Here patterns are case-sensitive unless they say ``(?i:...)``:

    - title case ("42 Elm St", "42 Elm drive", "742 EVERGREEN TERRACE") scores 0.6 on its
      own, except common words before a weak suffix ("Top 3 Key Points");
    - any case with a strong suffix ("meet me at 9 oak street") 0.4, over the threshold;
    - any case with any suffix 0.25, under the threshold unless an address-introducing
      phrase is right before it ("I live at 9 oak run"), which adds 0.35.

    No Presidio context words: its window of 5 lemmas matched too much (see
    ``_ADDRESS_INTRO``), and without them a text whose only finding is an address needs no
    lemmas (detect.py runs the lemma pipeline only for recognizers with context words).
    """

    ENTITY = "STREET_ADDRESS"
    INTRO_BOOST = 0.35  # as Presidio's context boost
    MIN_SCORE_WITH_INTRO = 0.4
    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern("us_street_address_title_case", _TITLE_CASE_ADDRESS, 0.6),
        Pattern("us_street_address_strong_suffix", _STRONG_ANY_CASE_ADDRESS, 0.4),
        Pattern("us_street_address_any_case", _ANY_CASE_ADDRESS, 0.25),
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            context=[],  # see the docstring
            supported_language=supported_language,
            name="StreetAddressRecognizer",
            global_regex_flags=re.DOTALL | re.MULTILINE,  # no IGNORECASE: see the docstring
        )

    def enhance_using_context(
        self,
        text: str,
        raw_recognizer_results: list[RecognizerResult],
        other_raw_recognizer_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        """Raise findings right after an address-introducing phrase (``_ADDRESS_INTRO``)."""
        for result in raw_recognizer_results:
            if _ADDRESS_INTRO.search(text, max(0, result.start - 60), result.start):
                result.score = min(
                    max(result.score + self.INTRO_BOOST, self.MIN_SCORE_WITH_INTRO), 1.0
                )
                result.recognition_metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = (
                    True
                )
        return raw_recognizer_results


class Mastercard2SeriesRecognizer(CreditCardRecognizer):
    """Mastercard's 2221-2720 BIN range (issued since 2017), which Presidio's card pattern
    does not cover. Same Luhn validation and scoring as Presidio's recognizer."""

    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern(
            "mastercard_2_series",
            r"\b2(?:22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)[- ]?\d{4}[- ]?\d{4}[- ]?\d{4}\b",
            0.3,
        )
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            patterns=self.PATTERNS,
            supported_language=supported_language,
            name="Mastercard2SeriesRecognizer",
        )


class GroupRegexRecognizer(EntityRecognizer):
    """Regexes whose *group 1* is the finding, so context words ("password:", "born on")
    select a value without being masked themselves (Python's re has no variable-length
    look-behind)."""

    ENTITY = ""
    RULES: ClassVar[list[tuple[str, str, float]]] = []  # (name, regex with group 1, score)
    FLAGS = 0

    def __init__(self, supported_language: str = "en") -> None:
        self._rules = [(name, re.compile(rx, self.FLAGS), score) for name, rx, score in self.RULES]
        super().__init__(
            supported_entities=[self.ENTITY],
            name=type(self).__name__,
            supported_language=supported_language,
        )

    def load(self) -> None:
        """Nothing to load."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        return [
            RecognizerResult(self.ENTITY, match.start(1), match.end(1), score)
            for _, pattern, score in self._rules
            for match in pattern.finditer(text)
            if self.keep(match.group(1))
        ]

    def keep(self, value: str) -> bool:
        return True


class SecretRecognizer(GroupRegexRecognizer):
    """Credentials: cloud/API keys and tokens by their published formats, private key blocks,
    and the value after "password:", "token=", "api_key:" and the like."""

    ENTITY = "SECRET"
    RULES: ClassVar[list[tuple[str, str, float]]] = [
        ("aws_access_key", r"\b((?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16})\b", 0.95),
        ("github_token", r"\b(gh[pousr]_[A-Za-z0-9]{36,255})\b", 0.95),
        ("github_pat", r"\b(github_pat_[A-Za-z0-9_]{22,255})\b", 0.95),
        ("slack_token", r"\b(xox[abposr]-[A-Za-z0-9-]{10,})\b", 0.95),
        ("stripe_key", r"\b((?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,})\b", 0.95),
        ("google_api_key", r"\b(AIza[0-9A-Za-z_-]{35})(?![0-9A-Za-z_-])", 0.9),
        ("jwt", r"\b(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})", 0.9),
        (
            "private_key",
            r"(-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z ]*PRIVATE KEY-----)",
            1.0,
        ),
        (
            "assignment",
            r"(?i)\b(?:password|passwd|pwd|passcode|secret|api[_ -]?key|access[_ -]?token|"
            r"auth[_ -]?token|token)\s*(?:is\s*)?[:=]\s*[\"']?([^\s\"',;]{6,})",
            0.7,
        ),
    ]


_MONTHS = (
    "Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    "Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?"
)
_DATE = (
    rf"\d{{1,2}}[/.-]\d{{1,2}}[/.-](?:\d{{4}}|\d{{2}})|\d{{4}}-\d{{2}}-\d{{2}}|"
    rf"(?:{_MONTHS})\.? \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}}|"
    rf"\d{{1,2}}(?:st|nd|rd|th)? (?:{_MONTHS}) \d{{4}}"
)


class DateOfBirthRecognizer(GroupRegexRecognizer):
    """A date right after birth context ("born on", "DOB:", "date of birth", "birthday is").
    Other dates (deadlines, releases) are not personal data and stay."""

    ENTITY = "DATE_OF_BIRTH"
    FLAGS = re.IGNORECASE
    RULES: ClassVar[list[tuple[str, str, float]]] = [
        (
            "dob_in_context",
            rf"\b(?:born(?: on| in)?|d\.?o\.?b\.?|date of birth|birth ?date|birthday(?: is)?)"
            rf"\s*[:=-]?\s*({_DATE})",
            0.85,
        )
    ]


# Capitalised words that follow "thanks"/"hi"/"cc" in chat without being anyone's name.
_NOT_NAMES = frozenset(
    "All Everyone Team Guys Folks Y'all Both Again Anyway Though Much So Man Dude Bro Sir "
    "Madam Boss Legal Support Security Ops Devops Finance Sales Marketing HR IT QA Eng "
    "Engineering Design Product Admin Admins Bot Here Channel The A An For Me Us You It This "
    "That Today Tomorrow Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
)


class ChatAddressRecognizer(GroupRegexRecognizer):
    """Names right after words that address or point at a person in chat ("thx Maria",
    "ask for Hector", "cc Ann Lee"), which a news-trained NER model often misses in short
    informal messages."""

    ENTITY = "PERSON"
    RULES: ClassVar[list[tuple[str, str, float]]] = [
        (
            "addressed_name",
            r"(?i:\b(?:hi|hey|hello|thanks|thank you|thx|ty|cc|ping|ask|ask for|dear|bye|"
            r"congrats|shout ?out to|talk to|talked to|tell|told|thanks to|with|from|by|met)\s+)"
            r"([A-Z][a-z'’-]+(?:\s+[A-Z][a-z'’-]+)?)",
            0.5,
        )
    ]

    def keep(self, value: str) -> bool:
        return value.split()[0] not in _NOT_NAMES


def custom_recognizers(language: str) -> list[EntityRecognizer]:
    """The recognizers this project adds to Presidio's predefined ones."""
    return [
        UserMentionRecognizer(language),
        StreetAddressRecognizer(language),
        Mastercard2SeriesRecognizer(language),
        SecretRecognizer(language),
        DateOfBirthRecognizer(language),
        ChatAddressRecognizer(language),
    ]
