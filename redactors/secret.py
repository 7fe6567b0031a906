"""The run secret's rule (README, Secrets), without importing the engines: the CLI checks it
before it loads anything heavy."""

from __future__ import annotations

from redactors.errors import SecretError

MIN_SECRET_BYTES = 16
# At least 16 characters that are not whitespace, and some variety: at least 6 different
# ones. A passphrase of a few words or `openssl rand -hex 32` passes; "xxxxxxxxxxxxxxxx",
# or 15 spaces and an "x", do not.
MIN_SECRET_CHARS = 16
MIN_SECRET_DISTINCT = 6
HOW = "use a long random value, e.g. `openssl rand -hex 32`"


def check_secret(secret: str | None, required: bool) -> bytes | None:
    """The run secret as a key; None when nothing in the run needs one. Messages never
    quote the secret."""
    if not required:
        return None
    if secret is None:
        raise SecretError(
            "REDACT_SECRET is not set, and this run needs it (keyed operators hash/pseudonym, "
            "or the lineage index). Set it to a long random value and keep it: the same "
            "secret gives the same pseudonyms and user keys across runs."
        )
    key = secret.encode()
    visible = [char for char in secret if not char.isspace()]
    if len(key) < MIN_SECRET_BYTES or len(visible) < MIN_SECRET_CHARS:
        raise SecretError(
            f"REDACT_SECRET is too short ({len(key)} bytes, {len(visible)} non-whitespace "
            f"characters; need at least {MIN_SECRET_CHARS} non-whitespace characters): {HOW}"
        )
    if len(set(visible)) < MIN_SECRET_DISTINCT:
        raise SecretError(
            f"REDACT_SECRET has too little variety ({len(set(visible))} different "
            f"characters; need at least {MIN_SECRET_DISTINCT}): {HOW}"
        )
    return key
