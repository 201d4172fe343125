"""Webhook signatures: the gateway's own ``sha256=`` header and Standard Webhooks ``v1,``. Framework-free.

Both are HMAC-SHA256 over the exact raw body, from one secret ``whsec_<base64 of 32 random bytes>``:

* seed header (public contract): key = the secret string **exactly as shown** (including ``whsec_``), message =
  ``"<timestamp>." + body``, sent as ``X-WhatsApp-Gateway-Signature: sha256=<hex>``;
* Standard Webhooks: key = the base64-decoded bytes after ``whsec_``, message = ``"<webhook-id>.<timestamp>." +
  body``, sent as ``webhook-signature: v1,<base64>`` (verifiable with the ``standardwebhooks`` library).

During a secret rotation every request is signed with both secrets: ``webhook-signature`` carries two
space-separated ``v1,`` entries and ``X-WhatsApp-Gateway-Signature`` two comma-separated ``sha256=`` values (newest
first).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"  # noqa: S105 - the public prefix, not a secret


def secret_generate() -> str:
    """A new endpoint secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


@functools.lru_cache(maxsize=512)
def _macs(secret: str) -> tuple[hmac.HMAC, hmac.HMAC]:
    """Keyed HMAC-SHA256 objects for the seed key (the secret's UTF-8 bytes) and the Standard Webhooks key
    (base64-decoded), made once per secret and copied per message: a worker signs every delivery of an endpoint
    with the same one or two secrets. (Copying a keyed object is cheaper than ``hmac.digest``, which also gives
    up the GIL for every message and so makes the worker's threads switch.)"""
    raw = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    return (
        hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha256),
        hmac.new(base64.b64decode(raw), digestmod=hashlib.sha256),
    )


def _mac(template: hmac.HMAC, message: bytes) -> bytes:
    mac = template.copy()
    mac.update(message)
    return mac.digest()


def seed_signature(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(key=secret as shown, msg="<timestamp>." + body)>``."""
    return "sha256=" + _mac(_macs(secret)[0], b"%d.%b" % (timestamp, body)).hex()


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256(key=base64-decoded secret, msg="<id>.<timestamp>." + body)>``."""
    signed = b"%b.%d.%b" % (msg_id.encode(), timestamp, body)
    return "v1," + base64.b64encode(_mac(_macs(secret)[1], signed)).decode("ascii")


def signature_headers(secrets_: Sequence[str], *, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Both header sets for one request. ``secrets_`` is newest first (two during a rotation overlap)."""
    if not secrets_:
        raise ValueError("at least one secret is needed to sign")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(standard_signature(s, msg_id, timestamp, body) for s in secrets_),
        "X-WhatsApp-Gateway-Timestamp": str(timestamp),
        "X-WhatsApp-Gateway-Signature": ",".join(seed_signature(s, timestamp, body) for s in secrets_),
    }


def hmac_sha256_hex(key: str | bytes, message: bytes) -> str:
    """Plain hex HMAC-SHA256; for verifying inbound signatures (e.g. 3CX's ``sha256=<hex>``)."""
    key_bytes = key.encode("utf-8") if isinstance(key, str) else key
    return hmac.new(key_bytes, message, hashlib.sha256).hexdigest()


def verify_seed_signature(secret: str, timestamp: str | int, body: bytes, header: str) -> bool:
    """True if any ``sha256=`` value (or bare hex) in ``header`` matches; compared in constant time."""
    expected = seed_signature(secret, int(timestamp), body)[len("sha256=") :]
    found = False
    for part in header.split(","):
        candidate = part.strip()
        candidate = candidate[len("sha256=") :] if candidate.startswith("sha256=") else candidate
        found |= hmac.compare_digest(candidate.encode(), expected.encode())
    return found
