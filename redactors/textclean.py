"""Invisible characters that would hide PII from detection, removed before it runs.

A control character or a zero-width joiner inside an email address (``bob\\x00@acme.com``,
``jo\\u00adhn@acme.com``) splits it for every recognizer, so part of it would stay in the
clear. Before detection, and in the text written to shards:

- control characters are removed (tab, newline and carriage return stay; the whitespace-like
  ones, vertical tab, form feed, the separators U+001C..U+001F and NEL, become a space);
- invisible format characters (soft hyphen, zero-width space / non-joiner / joiner, word
  joiner, invisible operators, BOM, direction marks and embeddings) are removed where they
  sit between two Latin letters, digits or ASCII symbols: there they only break up words.
  Elsewhere they mean something (emoji sequences such as a family, Persian and Indic
  joiners, direction marks in right-to-left text) and stay.
"""

from __future__ import annotations

import re

import polars as pl

_LATIN = "!-~\u00c0-\u024f"
_INVISIBLE = "\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
_TO_SPACE = re.compile("[\x0b\x0c\x1c-\x1f\x85]")
_REMOVED = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")
_INSIDE_WORDS = re.compile(f"(?<=[{_LATIN}])[{_INVISIBLE}]+(?=[{_LATIN}])")
# The same characters for polars (Rust regex syntax), to find the few texts that need work.
_ANY = (
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\x{ad}\x{180e}\x{200b}-\x{200f}"
    r"\x{202a}-\x{202e}\x{2060}-\x{2064}\x{2066}-\x{2069}\x{feff}]"
)


def clean_text(text: str) -> str:
    text = _REMOVED.sub("", _TO_SPACE.sub(" ", text))
    return _INSIDE_WORDS.sub("", text)


def clean_texts(series: pl.Series) -> pl.Series:
    """``clean_text`` over a column; only texts holding such characters are touched."""
    series = series.cast(pl.String)
    dirty = series.str.contains(_ANY).fill_null(False)
    if not dirty.any():
        return series
    values = series.to_list()
    for index in dirty.arg_true().to_list():
        values[index] = clean_text(values[index])
    return pl.Series(series.name, values, dtype=pl.String)
