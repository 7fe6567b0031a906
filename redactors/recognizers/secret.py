"""Credentials by their published formats and after "password:"-style context."""

from __future__ import annotations

from typing import ClassVar

from redactors.recognizers.group_regex import GroupRegexRecognizer


class SecretRecognizer(GroupRegexRecognizer):
    """Credentials: cloud/API keys and tokens by their published formats, private key blocks,
    and the value after "password:", "token=", "api_key:" and the like, or after "password
    is" when it holds a digit or symbol."""

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
        (
            # "my password is hunter2", "the pin is 4321": said in a sentence, the value
            # holds a digit or a symbol ("the password is wrong" names no password), and a
            # full stop after it stays.
            "said_password",
            r"(?i)\b(?:password|passwd|pwd|passcode|pin)\s+(?:is|was)\s+[\"']?"
            r"((?=[^\s\"',;]*[0-9!@#$%^&*_+=?~])[^\s\"',;]{3,}[^\s\"',;.!?)])",
            0.7,
        ),
    ]
    # Rules that read a value off its context, not off a published format: the leak
    # re-scan (leakscan.py) keeps to the formats.
    CONTEXT_RULES: ClassVar[frozenset[str]] = frozenset({"assignment", "said_password"})
    # What each rule's match starts with (the assignment rule: its word and the ":"/"="),
    # in the same order: most texts hold none of them, and one scan tells.
    GATE = (
        r"AKIA|ASIA|AGPA|AIDA|AROA|gh[pousr]_|github_pat_|xox[abposr]-|(?:sk|rk)_(?:live|test)_"
        r"|AIza|eyJ|-----BEGIN |(?i:(?:password|passwd|pwd|passcode|secret|api[_ -]?key|"
        r"access[_ -]?token|auth[_ -]?token|token)\s*(?:is\s*)?[:=])"
        r"|(?i:(?:password|passwd|pwd|passcode|pin)\s+(?:is|was)\s)"
    )

