"""Public identifiers: prefixed random strings. Integer primary keys never appear in URLs."""

from __future__ import annotations

import functools
import secrets

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def random_token(length: int = 24) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def public_id(prefix: str, length: int = 20) -> str:
    """``public_id("inst")`` -> ``inst_3k9x...``; 20 base-36 chars is ~103 bits of randomness."""
    return f"{prefix}_{random_token(length)}"


def make_public_id_default(prefix: str) -> functools.partial:
    """A model-field default: a partial of ``public_id`` (Django migrations can serialise partials)."""
    return functools.partial(public_id, prefix)
