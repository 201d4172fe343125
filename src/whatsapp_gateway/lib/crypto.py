"""Secrets at rest: Fernet encryption with MultiFernet key rotation.

``GATEWAY_ENCRYPTION_KEYS`` holds one or more comma-separated Fernet keys; the first encrypts, all decrypt, so an
operator rotates by prepending a new key and running ``whatsapp-gateway rotate-keys``.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.GATEWAY_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:  # a wrong or missing key must never leak ciphertext into the app
        raise ValueError("cannot decrypt secret: encryption key mismatch") from exc


def rotate(token: str) -> str:
    return fernet().rotate(token.encode("ascii")).decode("ascii")


def keyed_hash(value: str, *, purpose: str) -> str:
    """Deterministic HMAC-SHA256 of ``value`` under SECRET_KEY, for lookups of secrets and phone numbers."""
    key = hashlib.sha256(f"{purpose}:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


class EncryptedTextField(models.TextField):
    """Text stored encrypted with the deployment key; Python code sees plaintext."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        if value is None or value == "":
            return value
        return encrypt(str(value))
