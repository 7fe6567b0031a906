"""The NER prefilter (detection.ner_prefilter): which texts could hold a person's name.

The NER model is the largest cost of detection and, for PERSON, the only recognizer that
needs it. A text is sent to NER unless every word in it is one the model would not call a
name. The rule errs towards NER. Tokens that lie inside a finding of another recognizer
that will be masked anyway (a URL, an email address, an IP address) do not count; in every
other token, each run of letters must pass:
- in lower case, it must be in ``data/common_words.txt``: frequent English words minus
  Faker's English first and last names and any the model treats as a name (tags PERSON, or
  as a proper noun) in lower-case probe sentences;
- with a capital letter, it goes to NER unless it opens the text or a sentence and its lower
  case is in ``data/sentence_starts.txt`` (frequent openers with no English name and nothing
  the model treats as a name when capitalised). A capitalised word inside a sentence always
  goes to NER ("push it to Friday", "ask Hunter").
So "thanks!", "call me at 555-0100 after 5" or "the build passed again" skip NER; "ask
hunter", "Thanks Ana", "ping john.smith" and "meeting with Obama" do not. In a long text
that goes to NER, the same test runs per sentence, and NER reads only the sentences that may
hold a name, with 4 tokens of context on either side (``name_stretches``): a write-up of
twelve sentences with one name in it costs the model little more than one. Both lists are
built by ``data/build_common_words.py`` and read from the package: nothing is fetched.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from importlib.resources import files

from spacy.tokens import Doc, Span

_SENTENCE_ENDS = frozenset(".!?")
_LETTERS = re.compile(r"[^\W\d_]+")
# spaCy splits these off words ("it's", "don't"); they are never names on their own
_CLITICS = frozenset({"'s", "'re", "'ll", "'ve", "'m", "'d", "n't", "’s", "’re", "’ll", "’ve"})


@cache
def word_list(name: str) -> frozenset[str]:
    text = files("redactors").joinpath("data", name).read_text(encoding="utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def may_hold_name(doc: Doc | Span, covered: Sequence[tuple[int, int]] = ()) -> bool:
    """True unless every word of the tokenized text is a common non-name word (see above).
    ``covered``: character spans other recognizers found, masked whatever NER says."""
    common = word_list("common_words.txt")
    starts = word_list("sentence_starts.txt")
    at_start = True
    for token in doc:
        text = token.text
        if token.is_space:
            at_start = at_start or "\n" in text
            continue
        opens_sentence, at_start = at_start, set(text) <= _SENTENCE_ENDS
        if at_start or text in _CLITICS or text == "I":
            continue
        end = token.idx + len(text)
        if any(start <= token.idx and end <= stop for start, stop in covered):
            continue
        for index, run in enumerate(_LETTERS.findall(text)):
            lower = run.lower()
            if run.islower():
                if lower not in common:
                    return True
            elif not (opens_sentence and index == 0 and lower in starts):
                return True
    return False


# Context NER reads beyond a stretch it is run on: en_core_web_sm/md/lg's NER embeds each
# token from the 4 tokens on either side (window 1, depth 4), so with 4 tokens of the
# neighbouring sentences around it, every token of a stretch's sentences is embedded as in
# the whole text, and the model decides there as it would, unless an entity of its own ran
# into them from a sentence of common words. Measured: the same masked characters on 23,750
# chat-mix messages, and the same gold spans masked on the devsets' texts joined eight at a
# time by line breaks (names 2,425 of 2,582, addresses 910 of 1,051 either way) or blanks;
# what the whole text's NER masked beyond them was its spans running over a line break
# ("Susan Ruelas\nAddress").
MARGIN_TOKENS = 4
# A text is cut only where that spares the model at least this many tokens.
_MIN_SPARED_TOKENS = 12


def sentences(doc: Doc) -> list[tuple[int, int]]:
    """Token ranges of the text's sentences as ``may_hold_name`` reads them: one ends after
    a token of ".", "!" or "?" only, or at a line break."""
    ranges: list[tuple[int, int]] = []
    start = 0
    for i, token in enumerate(doc):
        ends = ("\n" in token.text) if token.is_space else set(token.text) <= _SENTENCE_ENDS
        if ends:
            ranges.append((start, i + 1))
            start = i + 1
    if start < len(doc):
        ranges.append((start, len(doc)))
    return ranges


def name_stretches(
    doc: Doc, covered: Sequence[tuple[int, int]] = (), margin: int = MARGIN_TOKENS
) -> list[tuple[int, int]]:
    """Token ranges of a text that may hold a name and NER should read: its sentences that
    may hold one (``may_hold_name`` on each), each with ``margin`` tokens of context on both
    sides, overlaps merged; the whole text when that spares the model too little (most
    texts, one or two sentences long)."""
    whole = [(0, len(doc))]
    if len(doc) < _MIN_SPARED_TOKENS:
        return whole
    stretches: list[tuple[int, int]] = []
    for start, end in sentences(doc):
        if not may_hold_name(doc[start:end], covered):
            continue
        start, end = max(0, start - margin), min(len(doc), end + margin)
        if stretches and start <= stretches[-1][1]:
            stretches[-1] = (stretches[-1][0], end)
        else:
            stretches.append((start, end))
    spared = len(doc) - sum(end - start for start, end in stretches)
    return stretches if stretches and spared >= _MIN_SPARED_TOKENS else whole
