"""Verify a webhook delivery from the gateway and turn it into a typed event.

The gateway signs every delivery twice, with one endpoint secret ``whsec_<base64>``; either signature proves it:

* Standard Webhooks: ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature: v1,<base64>``, an
  HMAC-SHA256 keyed with the base64-decoded bytes after ``whsec_`` over ``"<webhook-id>.<timestamp>." + body``;
* the gateway's own: ``X-WhatsApp-Gateway-Timestamp`` and ``X-WhatsApp-Gateway-Signature: sha256=<hex>``, an
  HMAC-SHA256 keyed with the secret string exactly as shown (``whsec_`` included) over ``"<timestamp>." + body``.

While a secret is being rotated the gateway signs with the new and the previous secret (two ``v1,`` entries, two
``sha256=`` values); pass the secrets you accept as a list and either one matching is enough.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from typing import Literal

from whatsapp_gateway_client.errors import InvalidSignature
from whatsapp_gateway_client.events import WebhookEvent, parse_event

__all__ = ["DEFAULT_TOLERANCE", "InvalidSignature", "verify_signature", "verify_webhook"]

DEFAULT_TOLERANCE = 300  # seconds either side of now; older (or future) deliveries are treated as replays
SECRET_PREFIX = "whsec_"  # noqa: S105 - the public prefix of every secret, not a secret

Scheme = Literal["auto", "standard", "gateway"]


def verify_webhook(
    body: bytes | str,
    headers: Mapping[str, str],
    secret: str | Sequence[str],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    scheme: Scheme = "auto",
    now: float | None = None,
) -> WebhookEvent:
    """Check the signature of one delivery and return its typed event.

    ``body`` must be the raw request body, byte for byte (not re-serialised JSON). ``headers`` is any mapping of
    the request's headers (Django's ``request.headers``, Flask's, Starlette's, or a plain dict; names are matched
    without regard to case). ``secret`` is the endpoint's secret, or a list of them during a rotation.
    ``scheme="auto"`` checks the Standard Webhooks headers when they are present, else the gateway's own.

    Raises :class:`InvalidSignature` when headers are missing, the timestamp is more than ``tolerance`` seconds
    away from now, or no signature matches any secret.
    """
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    verify_signature(raw, headers, secret, tolerance=tolerance, scheme=scheme, now=now)
    try:
        data = json.loads(raw)
    except ValueError:
        raise InvalidSignature("the signed body is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidSignature("the signed body is not a JSON object")
    return parse_event(data)


def verify_signature(
    body: bytes,
    headers: Mapping[str, str],
    secret: str | Sequence[str],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    scheme: Scheme = "auto",
    now: float | None = None,
) -> str:
    """Only the check of :func:`verify_webhook`: returns the scheme that matched (``"standard"`` or
    ``"gateway"``) or raises :class:`InvalidSignature`."""
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets or not all(isinstance(s, str) and s for s in secrets):
        raise ValueError("give the endpoint secret (whsec_…) or a non-empty list of them")
    lower = {str(k).lower(): str(v) for k, v in headers.items()}
    if scheme == "auto":
        scheme = "standard" if "webhook-signature" in lower else "gateway"
    if scheme == "standard":
        _verify_standard(body, lower, secrets, tolerance, now)
    elif scheme == "gateway":
        _verify_gateway(body, lower, secrets, tolerance, now)
    else:
        raise ValueError(f"unknown scheme {scheme!r}")
    return scheme


def _check_timestamp(value: str | None, tolerance: int, now: float | None) -> int:
    if not value:
        raise InvalidSignature("the timestamp header is missing")
    try:
        timestamp = int(value)
    except ValueError:
        raise InvalidSignature("the timestamp header is not a number") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise InvalidSignature(f"the timestamp is more than {tolerance} s away from now (stale or replayed)")
    return timestamp


def _standard_key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the secret is not whsec_ followed by base64") from None


def _verify_standard(
    body: bytes, headers: dict[str, str], secrets: list[str], tolerance: int, now: float | None
) -> None:
    msg_id = headers.get("webhook-id")
    if not msg_id:
        raise InvalidSignature("the webhook-id header is missing")
    timestamp = _check_timestamp(headers.get("webhook-timestamp"), tolerance, now)
    offered = [
        entry.partition(",")[2].encode()
        for entry in headers.get("webhook-signature", "").split()
        if entry.startswith("v1,")
    ]
    if not offered:
        raise InvalidSignature("no v1 signature in webhook-signature")
    signed = f"{msg_id}.{timestamp}.".encode() + body
    for secret in secrets:
        expected = base64.b64encode(hmac.new(_standard_key(secret), signed, hashlib.sha256).digest())
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return
    raise InvalidSignature("no signature matches (wrong secret, or the body was changed)")


def _verify_gateway(
    body: bytes, headers: dict[str, str], secrets: list[str], tolerance: int, now: float | None
) -> None:
    header = headers.get("x-whatsapp-gateway-signature")
    if not header:
        raise InvalidSignature("neither webhook-signature nor X-WhatsApp-Gateway-Signature is present")
    timestamp = _check_timestamp(headers.get("x-whatsapp-gateway-timestamp"), tolerance, now)
    offered = [part.strip().removeprefix("sha256=").encode() for part in header.split(",") if part.strip()]
    signed = f"{timestamp}.".encode() + body
    for secret in secrets:
        expected = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest().encode()
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return
    raise InvalidSignature("no signature matches (wrong secret, or the body was changed)")
