"""Signature checks for provider callbacks: HMAC over the raw body, and HS256 JSON Web Tokens (Evolution).

Everything compares in constant time and raises ``CallbackRejected`` with a reason safe to log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from whatsapp_gateway.providers.base import CallbackRejected


def header(headers: Mapping[str, str], name: str) -> str:
    """Case-insensitive header lookup on a plain dict or Django's ``request.headers``."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        for key, candidate in headers.items():
            if key.lower() == lowered:
                value = candidate
                break
    return value.strip() if isinstance(value, str) else ""


def hmac_hex(key: str, body: bytes, algorithm: str) -> str:
    return hmac.new(key.encode("utf-8"), body, algorithm).hexdigest()


def require_hmac_hex(*, signature: str, key: str, body: bytes, algorithm: str) -> None:
    """``signature`` must be the hex HMAC of ``body`` under ``key`` (case-insensitive hex)."""
    if not signature:
        raise CallbackRejected("missing signature")
    expected = hmac_hex(key, body, algorithm)
    if not hmac.compare_digest(signature.lower().encode(), expected.encode()):
        raise CallbackRejected("invalid signature")


def _b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def verify_hs256_jwt(token: str, *, secret: str, now: float, leeway: int = 60, expiry_grace: int = 0) -> dict[str, Any]:
    """Verify an HS256 JWT and its ``exp`` / ``iat`` against ``now`` (Unix seconds); return its claims.
    ``expiry_grace`` accepts a correctly signed token that long past its ``exp`` (a sender that reuses one token
    for its retries).

    Only HS256 is accepted (never ``none``); a token without ``exp`` is refused, so a captured token cannot be
    replayed for ever.
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise CallbackRejected("malformed token")
    try:
        header_obj = json.loads(_b64url_decode(parts[0]))
        claims = json.loads(_b64url_decode(parts[1]))
        signature = _b64url_decode(parts[2])
    except (ValueError, UnicodeDecodeError) as exc:
        raise CallbackRejected("malformed token") from exc
    if not isinstance(header_obj, dict) or header_obj.get("alg") != "HS256" or not isinstance(claims, dict):
        raise CallbackRejected("unsupported token")
    expected = hmac.new(secret.encode("utf-8"), f"{parts[0]}.{parts[1]}".encode("ascii"), hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        raise CallbackRejected("invalid signature")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise CallbackRejected("token has no expiry")
    if now > exp + leeway + expiry_grace:
        raise CallbackRejected("token expired (replayed callback?)")
    if isinstance(iat, int | float) and not isinstance(iat, bool) and iat > now + leeway:
        raise CallbackRejected("token issued in the future")
    return claims


def sign_hs256_jwt(claims: Mapping[str, Any], *, secret: str) -> str:
    """Build an HS256 JWT (used by the local provider fakes and tests)."""
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = b64url(json.dumps(dict(claims), separators=(",", ":")).encode())
    sig = hmac.new(secret.encode("utf-8"), f"{head}.{body}".encode("ascii"), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(sig)}"
