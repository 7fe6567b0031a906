"""The NER prefilter (detection.ner_prefilter): which texts could hold a person's name.

The NER model is the largest cost of detection and, for PERSON, the only recognizer that
needs it. A text is sent to NER unless every word in it is one the model would not call a
name. The rule errs towards NER; a token needs it when it has a letter and no digit, is not
a URL or email address (recognized by their own recognizers), and
- written in lower case, is not in ``data/common_words.txt`` (25k frequent English words
  minus Faker's English first and last names and any the model tags PERSON in lower-case
  probes); or
- has a capital letter, unless it opens the text or a sentence and its lower case is in
  ``data/sentence_starts.txt`` (1.9k of the most frequent of those, minus every English
  name in Faker and any the model tags PERSON capitalised). A capitalised word inside a
  sentence always goes to NER ("push it to Friday", "ask Hunter").
So "thanks!", "call me at 555-0100 after 5" or "the build is green again" skip NER; "ask
hunter", "Thanks Ana" and "meeting with Obama" do not. Both lists are built by
``data/build_common_words.py`` and read from the package: nothing is fetched.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from spacy.tokens import Doc

_SENTENCE_ENDS = frozenset(".!?")
# spaCy splits these off words ("it's", "don't"); they are never names on their own
_CLITICS = frozenset({"'s", "'re", "'ll", "'ve", "'m", "'d", "n't", "’s", "’re", "’ll", "’ve"})


@cache
def word_list(name: str) -> frozenset[str]:
    text = files("redactors").joinpath("data", name).read_text(encoding="utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def may_hold_name(doc: Doc) -> bool:
    """True unless every word of the tokenized text is a common non-name word (see above)."""
    common = word_list("common_words.txt")
    starts = word_list("sentence_starts.txt")
    at_start = True
    for token in doc:
        text = token.text
        if token.is_space:
            at_start = at_start or "\n" in text
            continue
        opens_sentence, at_start = at_start, set(text) <= _SENTENCE_ENDS
        if at_start or not any(c.isalpha() for c in text):
            continue
        if any(c.isdigit() for c in text) or token.like_url or token.like_email:
            continue
        lower = text.lower()
        if lower in _CLITICS or text == "I":
            continue
        if text.islower():
            if lower not in common:
                return True
        elif not (opens_sentence and lower in starts):
            return True
    return False
