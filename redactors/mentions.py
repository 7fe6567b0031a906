"""Mentions of people who did not consent, inside the text of people who did.

A consented user's message may name or @mention someone who opted out. Their records are
dropped by the consent gate, but their handle, display name or mention token would still
reach training through other people's text. This matcher finds those references, from the
registry (handles and display names of every non-consented user, from any of their rows)
and from mention tokens (``<@U024BE7LH>``, checked against the gate, so ids that are not in
the registry at all count too under opt-in).

It runs outside Presidio on purpose: ``detection.allow_list`` must never un-mask a person
who said no, and run and ``forget`` must find exactly the same things.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from redactors.consent import ConsentGate

# Slack-style token; the label after "|" may be empty or long: it still carries the id.
MENTION_TOKEN = re.compile(r"<@([UW][A-Z0-9]{6,14})(?:\|[^>\n]*)?>")
# Display names shorter than this would match ordinary words ("Al", "Jo"); names in scripts
# written without spaces (e.g. 王伟) are kept from two characters.
MIN_NAME_CHARS = 3
# Boundaries are ASCII word characters only, so a name directly followed by CJK text
# ("Ann Lee的文件") still matches.
_BEFORE = r"(?<![A-Za-z0-9_])"
_AFTER = r"(?![A-Za-z0-9_])"
_APOSTROPHES = "'’"


def _keep_name(name: str) -> bool:
    if len(name) >= MIN_NAME_CHARS:
        return True
    return len(name) == 2 and all(ord(ch) > 0x2E80 for ch in name)


def _char_pattern(char: str) -> str:
    if char == " ":
        return r"\s+"  # "Ann  Lee", "Ann\nLee"
    if char in _APOSTROPHES:
        return "['’]"
    return re.escape(char)


def trie_pattern(words: Iterable[str]) -> str:
    """One regex matching any of ``words`` (lower-cased; use with IGNORECASE), shaped as a
    trie so matching cost grows with text length, not with the number of words (a flat
    alternation of 50,000 names is ~1000x slower)."""
    trie: dict[str, dict] = {}
    for word in words:
        node = trie
        for char in "'".join(word.split("’")):
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, dict]) -> str:
        branches = [
            _char_pattern(char) + build(child) for char, child in sorted(node.items()) if char
        ]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        # An ending here is optional; greedy "?" prefers the longer name.
        return f"(?:{body})?" if "" in node else body

    return build(trie)


class NonConsentedMentions:
    """Compiled once per run; ``find`` returns (start, end) spans in a text."""

    def __init__(
        self,
        is_consented: Callable[[str], bool],
        handles: Iterable[str],
        display_names: Iterable[str],
    ) -> None:
        self.is_consented = is_consented
        clean_handles = {
            h.strip().lstrip("@").lower() for h in handles if h and h.strip().lstrip("@")
        }
        clean_names = {" ".join(n.split()).lower() for n in display_names if n and n.strip()}
        clean_names = {n for n in clean_names if _keep_name(n)}
        parts = []
        if clean_handles:
            parts.append(rf"(?<![\w.@/])@(?:{trie_pattern(clean_handles)})(?![\w-])")
        if clean_names:
            parts.append(rf"{_BEFORE}(?:{trie_pattern(clean_names)}){_AFTER}")
        self._pattern = re.compile("|".join(parts), re.IGNORECASE) if parts else None
        self.size = len(clean_handles) + len(clean_names)

    @classmethod
    def from_gate(cls, gate: ConsentGate) -> NonConsentedMentions:
        identities = gate.non_consented_identities
        return cls(
            gate.is_consented,
            identities["handle"].drop_nulls().to_list(),
            [
                *identities["display_name"].drop_nulls().to_list(),
                *identities["real_name"].drop_nulls().to_list(),
            ],
        )

    def find(self, text: str) -> list[tuple[int, int]]:
        spans = [
            match.span()
            for match in MENTION_TOKEN.finditer(text)
            if not self.is_consented(match.group(1))
        ]
        if self._pattern is not None:
            spans += [match.span() for match in self._pattern.finditer(text) if match.group()]
        return sorted(spans)
