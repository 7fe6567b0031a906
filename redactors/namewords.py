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
hunter", "Thanks Ana", "ping john.smith" and "meeting with Obama" do not. Both lists are
built by ``data/build_common_words.py`` and read from the package: nothing is fetched.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from importlib.resources import files

from spacy.tokens import Doc

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


def may_hold_name(doc: Doc, covered: Sequence[tuple[int, int]] = ()) -> bool:
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
