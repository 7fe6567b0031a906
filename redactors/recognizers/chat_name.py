"""Names right after words that address or point at a person in chat."""

from __future__ import annotations

from typing import Any, ClassVar

import regex

from redactors.recognizers.group_regex import GroupRegexRecognizer

# Capitalised words that follow "thanks"/"hi"/"cc" in chat without being anyone's name.
_NOT_NAMES = frozenset(
    "All Everyone Team Guys Folks Y'all Both Again Anyway Though Much So Man Dude Bro Sir "
    "Madam Boss Legal Support Security Ops Devops Finance Sales Marketing HR IT QA Eng "
    "Engineering Design Product Admin Admins Bot Here Channel The A An For Me Us You It This "
    "That Today Tomorrow Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
)


# A capitalised word in any script: "Maria", "Noémie", "Łukasz", "O'Neil", "McCathie".
_NAME_WORD = r"\p{Lu}[\p{L}'’-]*\p{Ll}[\p{L}'’-]*"
# A name in a script without case, written inside Latin-script chat: two to four Han or
# Hangul characters, family and given name together or apart ("王伟", "田中 太郎", "김민준"),
# or a Katakana name ("マイケル・ジョーダン"); not a longer run (a sentence in that script).
_CJK = r"\p{Han}\p{Hangul}"
_UNCASED_NAME = (
    rf"(?:[{_CJK}]{{1,2}} [{_CJK}]{{1,3}}|[{_CJK}]{{2,4}}|[\p{{Katakana}}ー・]{{2,12}})"
    rf"(?![{_CJK}\p{{Katakana}}\p{{Hiragana}}ー])"
)


class ChatAddressRecognizer(GroupRegexRecognizer):
    """Names right after words that address, introduce or point at a person in chat ("thx
    Maria", "ask for Hector", "cc Ann Lee", "my name is Noémie", "nice vid Zorbulon", "ping
    王伟"), which a news-trained NER model often misses in short informal messages."""

    ENTITY = "PERSON"
    ENGINE: ClassVar[Any] = regex
    RULES: ClassVar[list[tuple[str, str, float]]] = [
        (
            "addressed_name",
            r"(?i:\b(?:hi|hey|hello|thanks|thank you|thx|ty|cc|ping|ask|ask for|dear|bye|"
            r"congrats|shout ?out to|talk to|talked to|tell|told|thanks to|with|w/|from|by|met|"
            r"my name is|name is|name's|call me|calls me|this is|i'm|i am|"
            r"good morning|good night|"
            # comments under a video or post, to its maker: "nice vid Zorbulon"
            r"(?:nice|great|good|awesome|amazing|cool|best|excellent|love your|love the)\s+"
            r"(?:vid|vids|video|videos|vlog|vlogs|stream|song|poem|edit|content|channel))\s+)"
            rf"({_NAME_WORD}(?:\s+{_NAME_WORD})?|{_UNCASED_NAME})",
            0.5,
        )
    ]

    def keep(self, value: str) -> bool:
        return value.split()[0] not in _NOT_NAMES

