"""Person findings settled into whole names before masking.

Recognizers disagree about where a name starts and ends: an ASCII-only pattern stops at
"No" in "Noémie", the model finds "Nathan" of "Aoife Nathan", a chat rule finds "Ann" while
the model finds "Ann Lee". Masking the pieces leaves the rest visible ("Shaunémie Dubois").
``settle_names`` makes every PERSON finding cover the whole name, for every text:
1. a finding that holds only everyday non-name words ("Congrats", "Reach out"), apart from
   what other entities' findings cover ("Congrats @ann"), is dropped: the model's
   sentence-opening false names are noise in training text; kept are the model's names of
   capitalised words inside a sentence ("never liked Cupid tbh") and stage names ("DJ Snake");
2. each finding grows to whole words (Unicode letters, inner hyphens and apostrophes), over
   a title right before it ("Dr. ", "Mr "), over the capitalised name parts right after it
   ("Aoife" -> "Aoife Nathan") and over a suffix ("Jr.", "PhD");
3. other capitalised mentions in the text of a found name's words that are no everyday
   words are names too ("Eric Plumtree ... Plumtree");
4. overlapping or touching PERSON findings merge into one, so a shorter span never wins
   over a longer one covering the same name.
Findings of the deny list, of the user directory and of the list of public figures (which
has its own rules for names that are everyday words: "trump") are never dropped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from presidio_analyzer import RecognizerResult

from redactors.recognizers.lexicon_name import _opens_sentence
from redactors.recognizers.name_lexicon import (
    CHAT_WORDS,
    PARTICLES,
    STAGE_PREFIXES,
    SUFFIXES,
    TITLES,
    WORD,
    NameLexicon,
    fold,
    is_capitalised,
    lexicon,
)

PERSON = "PERSON"
# Recognizers whose PERSON findings are names by configuration, never second-guessed.
_TRUSTED_PREFIXES = ("DenyList", "DirectoryNameRecognizer", "PublicFigureRecognizer")
_MODEL_PREFIX = "SpacyRecognizer"
_INNER = "'’-"
_POSSESSIVES = ("'s", "’s")
# Initials right before a name: one capital and its dot ("J. ", "W . " in tokenised
# text); one capital without it ("K Choi", "T J Miller"), but not "I" or "A", which are
# words; two capitals ("TJ Miller", "AJ Styles") that are no chat word or team ("OK",
# "HR"); the common-word list holds most letter pairs ("tj", "pg"), so it cannot tell.
_INITIAL_BEFORE = re.compile(r"(?<![^\s(])(?:[A-Z] ?\.|[B-HJ-Z]|([A-Z]{2})) \Z")
_NOT_INITIALS = frozenset("hr it qa pm pr vp ux ui us uk eu un tv ps cc fw re".split())
_MAX_GROWN_PARTS = 3
# Between a particle and what follows it: a blank, a hyphen, or a hyphen and a blank as
# tokenised text has it ("al- Nujaifi").
_PARTICLE_GAP = re.compile(r"- |-| ")
# Particles written elided onto the name: "d'Alembert", "dell'Acqua"; with the others, what
# may be written onto a name part in one word ("al-Nujaifi").
_ELIDED = frozenset({"d", "dell", "l"})
# Dutch "'t" (het) in a surname, a word of its own: "Jan van 't Hoff", "Gerard 't Hooft".
_ELIDED_T = re.compile(r" ['’]t(?= )")
# Particles written as a word of their own, "'t" with them.
_WORD_PARTICLES = PARTICLES | {"'t"}
_JOINABLE = PARTICLES | _ELIDED
_MIN_REPEAT_CHARS = 3
# A word right after these belongs to a handle, tag, path or address.
_GLUED = frozenset("@#/_.:=")


def settle_names(text: str, findings: Sequence[RecognizerResult]) -> list[RecognizerResult]:
    """``findings`` with PERSON findings made whole names (see the module docstring)."""
    people = [f for f in findings if f.entity_type == PERSON]
    if not people:
        return list(findings)
    lex = lexicon()
    others = [f for f in findings if f.entity_type != PERSON]
    covered = {i for f in others for i in range(f.start, f.end)}
    grown = [
        _grow(text, f, lex)
        for f in people
        if _trusted(f)
        or _model_name_inside_sentence(text, f, lex)
        or _stage_name(text, f)
        or not _only_everyday_words(_own_text(text, f, covered), lex)
    ]
    grown += _repeats(text, grown, covered, lex)
    return sorted(others + _merge(grown), key=lambda f: (f.start, f.end, f.entity_type))


def _repeats(
    text: str, people: list[RecognizerResult], covered: set[int], lex: NameLexicon
) -> list[RecognizerResult]:
    """Other mentions of a found name's words in the same text ("Eric Plumtree ...
    Plumtree", "Zorbulon ... ZORBULON"): capitalised, no everyday word, not glued to a
    handle or address."""
    by_word: dict[str, RecognizerResult] = {}
    for finding in people:
        for word in WORD.findall(text[finding.start : finding.end]):
            folded = fold(word)
            if (
                len(word) >= _MIN_REPEAT_CHARS
                and word[0].isupper()
                and not lex.is_word(folded)
                and folded not in TITLES
                and folded not in by_word
            ):
                by_word[folded] = finding
    if not by_word:
        return []
    taken = {i for f in people for i in range(f.start, f.end)} | covered
    repeats = []
    for match in WORD.finditer(text):
        source = by_word.get(fold(match.group()))
        if (
            source is None
            or not match.group()[0].isupper()
            or match.start() in taken
            or (match.start() > 0 and text[match.start() - 1] in _GLUED)
        ):
            continue
        repeats.append(
            RecognizerResult(
                PERSON,
                match.start(),
                match.end(),
                source.score,
                recognition_metadata=source.recognition_metadata,
            )
        )
    return repeats


def _trusted(finding: RecognizerResult) -> bool:
    return _recognizer(finding).startswith(_TRUSTED_PREFIXES)


def _model_name_inside_sentence(text: str, finding: RecognizerResult, lex: NameLexicon) -> bool:
    """The model's name of capitalised words inside a sentence ("never liked Cupid tbh",
    "blame Cupid for it"): a capital there is the writer's, not the sentence's; its words may be
    everyday words in lower case all the same. Not a frequent opener ("to Friday")."""
    if not _recognizer(finding).startswith(_MODEL_PREFIX):
        return False
    words = WORD.findall(text[finding.start : finding.end])
    return (
        bool(words)
        and all(w[0].isupper() and not w.isupper() for w in words)
        and not any(fold(w) in lex.sentence_starts for w in words)
        and not _opens_sentence(text, finding.start)
    )


def _stage_name(text: str, finding: RecognizerResult) -> bool:
    """A capitalised stage-name prefix and a capitalised word: "DJ Snake", "Lil Bit"."""
    words = WORD.findall(text[finding.start : finding.end])
    return (
        len(words) >= 2
        and fold(words[0]) in STAGE_PREFIXES
        and words[0][0].isupper()
        and words[1][0].isupper()
    )


def _own_text(text: str, finding: RecognizerResult, covered: set[int]) -> str:
    """The finding's characters that no other entity's finding covers: the model's "Congrats
    @ann" is a handle (masked as such) and an everyday word."""
    return "".join(
        text[i] if i not in covered else " " for i in range(finding.start, finding.end)
    )


def _only_everyday_words(value: str, lex: NameLexicon) -> bool:
    words = [fold(w) for w in WORD.findall(value)]
    return bool(words) and all(lex.is_common(w) and not lex.is_name(w) for w in words)


def _grow(text: str, finding: RecognizerResult, lex: NameLexicon) -> RecognizerResult:
    start, end = finding.start, finding.end
    # 1. whole words
    while start > 0 and (_letter(text, start - 1) or _inner_at(text, start - 1)):
        start -= 1
    while end < len(text) and (_letter(text, end) or _inner_at(text, end)):
        end += 1
    if text[end - 2 : end] in _POSSESSIVES and end - 2 > start:  # "Kenneth's": the name
        end -= 2
    # zero-width characters written onto the name ("Dubbz\ufeff", a pasted comment's BOM)
    while start > 0 and unicodedata.category(text[start - 1]) == "Cf":
        start -= 1
    while end < len(text) and unicodedata.category(text[end]) == "Cf":
        end += 1
    # 2. a title right before: "Dr. ", "Mr ", "mrs. "
    before = text[max(0, start - 7) : start]
    for title_end in (" . ", ". ", " "):
        if before.endswith(title_end):
            head = before[: -len(title_end)]
            words = WORD.findall(head)
            if words and fold(words[-1]) in TITLES and head.endswith(words[-1]):
                start -= len(title_end) + len(words[-1])
                break
    # initials right before: "T. W. Shannon", "T . W . Shannon" (tokenised text)
    while True:
        initial = _INITIAL_BEFORE.search(text, 0, start)
        if initial is None:
            break
        pair = initial.group(1)
        if pair and (fold(pair) in _NOT_INITIALS or fold(pair) in CHAT_WORDS):
            break
        start = initial.start()
    # a hashtag's "#": the name is the whole tag ("#Klaroline")
    if start > 0 and text[start - 1] == "#" and (start == 1 or not text[start - 2].isalnum()):
        start -= 1
    # 3. capitalised name parts right after, then a suffix
    parts = 0
    for match in WORD.finditer(text, end):
        gap = text[end : match.start()]
        word, folded = match.group(), fold(match.group())
        if _ELIDED_T.match(text, end):  # WORD reads the "t" of "'t": a particle after a blank
            gap, folded = " ", "'t"
        if gap not in (" ", ", ") or (gap == ", " and folded not in SUFFIXES):
            break
        if folded in SUFFIXES:
            end = match.end() + (1 if text[match.end() : match.end() + 1] == "." else 0)
            break
        if gap != " " or parts == _MAX_GROWN_PARTS:
            break
        tail = _particle_tail(word)
        if folded in _WORD_PARTICLES or tail is not None:
            # "Osama al-Nujaifi", "Robin van der Berg", "al- Nujaifi" (tokenised text),
            # "Gerard 't Hooft": a particle belongs to the name only with a capitalised part
            # after it
            joined = _particle_run(text, match, tail, lex)
            if joined is None:
                break
            end, parts = joined, parts + 1
            continue
        if word.islower() and _lower_name_part(text, finding, folded, lex):
            # "Mauro rossi", "Donald trump": a surname written in lower case
            end, parts = match.end(), parts + 1
            continue
        if not is_capitalised(word) or (lex.is_word(folded) and not lex.is_name(folded)):
            break
        if not (lex.is_name(folded) or folded not in lex.common):
            break
        end, parts = match.end(), parts + 1
    if (start, end) == (finding.start, finding.end):
        return finding
    return RecognizerResult(
        PERSON, start, end, finding.score, recognition_metadata=finding.recognition_metadata
    )


def _particle_tail(word: str) -> str | None:
    """The capitalised name part of a particle written onto it in one word: "Nujaifi" of
    "al-Nujaifi", "Alembert" of "d'Alembert"; None for any other word."""
    for mark in _INNER:
        head, _, tail = word.partition(mark)
        if tail and fold(head) in _JOINABLE and is_capitalised(tail):
            return tail
    return None


def _particle_run(
    text: str, particle: re.Match[str], tail: str | None, lex: NameLexicon
) -> int | None:
    """Where a name part ends that follows particles starting at ``particle`` (``tail``: the
    part written onto it, ``_particle_tail``): up to three particles, joined by blanks or a
    hyphen, then a capitalised word that is no everyday word; None when no such part
    follows."""
    if tail is not None:
        return particle.end() if not lex.is_word(fold(tail)) else None
    end = particle.end()
    for _ in range(3):
        elided_t = _ELIDED_T.match(text, end)
        if elided_t:  # "van 't Hoff"
            end = elided_t.end()
            continue
        gap = _PARTICLE_GAP.match(text, end)
        following = WORD.match(text, gap.end()) if gap else None
        if following is None:
            return None
        folded = fold(following.group())
        if folded in PARTICLES:
            end = following.end()
            continue
        if is_capitalised(following.group()) and not lex.is_word(folded):
            return following.end()
        return None
    return None


def _lower_name_part(
    text: str, finding: RecognizerResult, folded: str, lex: NameLexicon
) -> bool:
    """A lower-case word after a name is its surname when it is a known last name, or, after
    a capitalised first name, when it is no English word at all ("Mauro renallo")."""
    if lex.is_last(folded) and not lex.is_word(folded):
        return True
    words = WORD.findall(text[finding.start : finding.end])
    return (
        len(folded) >= 3
        and bool(words)
        and is_capitalised(words[-1])
        and lex.is_first(fold(words[-1]))
        and not lex.is_word(folded)
        and folded not in lex.sentence_starts
    )


def _letter(text: str, index: int) -> bool:
    return text[index].isalpha()


def _inner_at(text: str, index: int) -> bool:
    """A hyphen or apostrophe between two letters ("García-Márquez", "O'Brien")."""
    return (
        text[index] in _INNER
        and 0 < index < len(text) - 1
        and text[index - 1].isalpha()
        and text[index + 1].isalpha()
    )


def _merge(people: list[RecognizerResult]) -> list[RecognizerResult]:
    """Overlapping or touching findings as one, credited to the highest-scoring one (ties:
    by recognizer name, so the result never depends on Presidio's set-based order)."""
    groups: list[list[RecognizerResult]] = []
    for finding in sorted(people, key=lambda f: (f.start, -f.end)):
        if groups and finding.start <= max(f.end for f in groups[-1]):
            groups[-1].append(finding)
        else:
            groups.append([finding])
    merged = []
    for group in groups:
        best = max(group, key=lambda f: (f.score, f.end - f.start, _recognizer(f)))
        start, end = min(f.start for f in group), max(f.end for f in group)
        if (best.start, best.end) == (start, end):
            merged.append(best)
        else:
            merged.append(
                RecognizerResult(
                    PERSON, start, end, best.score, recognition_metadata=best.recognition_metadata
                )
            )
    return merged


def _recognizer(finding: RecognizerResult) -> str:
    return str((finding.recognition_metadata or {}).get(RecognizerResult.RECOGNIZER_NAME_KEY, ""))
