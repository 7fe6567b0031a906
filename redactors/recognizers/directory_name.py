"""The names of people the run's own data names: every display name and real name in the
consent registry (consented users too: chat names colleagues) and in an optional user
directory (``detection.name_directory``). Matched as PERSON whatever their case or
spacing ("ann  LEE", "Ann\\nLee"), one regex shaped as a trie so cost grows with the text,
not with the directory. No peer tool does this; a model cannot know that "Dakota Page" is a
person here, the registry does."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from redactors.errors import ConfigError
from redactors.mentions import trie_pattern
from redactors.recognizers.finding import finding
from redactors.recognizers.group_regex import TextOnlyRecognizer

# Shorter names would match ordinary words ("Al", "Jo"); two characters in scripts written
# without spaces (王伟), as for mentions.
MIN_NAME_CHARS = 3


def _keep(name: str) -> bool:
    return len(name) >= MIN_NAME_CHARS or (len(name) == 2 and all(ord(c) > 0x2E80 for c in name))


def read_name_directory(path: Path, columns: Sequence[str]) -> list[str]:
    """The names in a user directory (Parquet): the listed columns that it has, at least one;
    errors name the file and column, never a value."""
    if not path.exists():
        raise ConfigError(f"detection.name_directory: file not found: {path}")
    try:
        names = pq.read_schema(path).names
    except Exception:  # pyarrow raises several types for unreadable files
        raise ConfigError(
            f"detection.name_directory: {path} is not a readable Parquet file"
        ) from None
    present = [c for c in columns if c in names]
    if not present:
        raise ConfigError(
            f"detection.name_directory: {path} has none of the columns {list(columns)}"
        )
    frame = pl.read_parquet(path, columns=present)
    values: list[str] = []
    for column in present:
        if frame.schema[column] not in (pl.String, pl.Null):
            raise ConfigError(
                f"detection.name_directory: {path} column {column!r} must be strings, "
                f"got {frame.schema[column]}"
            )
        values += frame[column].drop_nulls().to_list()
    return values


def names_digest(names: Iterable[str]) -> str:
    """sha256 over the normalised name set: what stored units depend on."""
    clean = sorted({" ".join(n.split()).lower() for n in names if n and n.strip()})
    return hashlib.sha256("\n".join(clean).encode()).hexdigest()


class DirectoryNameRecognizer(TextOnlyRecognizer):
    ENTITY = "PERSON"
    SCORE = 0.99  # not 1.0: a deny-list finding of the same span would tie (see lexicon_name)

    def __init__(self, names: Iterable[str], supported_language: str = "en") -> None:
        super().__init__(
            supported_entities=[self.ENTITY],
            name="DirectoryNameRecognizer",
            supported_language=supported_language,
        )
        clean = {" ".join(n.split()).lower() for n in names if n and n.strip()}
        clean = {n for n in clean if _keep(n)}
        self.size = len(clean)
        self._pattern = (
            re.compile(rf"(?<![\w@])(?:{trie_pattern(clean)})(?!\w)", re.IGNORECASE)
            if clean
            else None
        )

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if self._pattern is None:
            return []
        return [
            finding(self, self.ENTITY, match.start(), match.end(), self.SCORE)
            for match in self._pattern.finditer(text)
            if match.group()
        ]
