"""Defensive readers for provider JSON: callbacks are untrusted input, so parsers never index blindly.

Every helper returns an empty value of the expected type instead of raising, which is what keeps
``parse_callback`` total (see the hypothesis tests).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from typing import Any

from whatsapp_gateway.lib.phone import jid_to_e164
from whatsapp_gateway.providers.base import CallbackRejected
from whatsapp_gateway.providers.base import load_json as base_load_json


def load_json(body: bytes) -> Any:
    """Parse a callback body; a body that is not UTF-8 JSON is rejected (400), as is one nested too deeply to
    parse."""
    try:
        return base_load_json(body)
    except RecursionError as exc:
        raise CallbackRejected("malformed_json", status=400) from exc


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def dicts(value: Any) -> list[dict[str, Any]]:
    """A dict or a list of dicts, as a list of dicts (providers send both shapes for the same event)."""
    if isinstance(value, dict):
        return [value]
    return [item for item in as_list(value) if isinstance(item, dict)]


def as_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def as_bool(value: Any) -> bool:
    return value is True


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value.strip()) < 20:
        return int(value.strip())
    return None


def unix_time(value: Any) -> dt.datetime | None:
    """Seconds (or milliseconds, when the number is that large) since the epoch, as an aware UTC datetime."""
    if isinstance(value, dict):  # protobuf Long as JSON: {"low": 1753614857, "high": 0, "unsigned": true}
        low, high = as_int(value.get("low")), as_int(value.get("high")) or 0
        value = None if low is None else (high << 32) + (low & 0xFFFFFFFF)
    seconds = as_int(value)
    if seconds is None or seconds <= 0:
        return None
    if seconds > 100_000_000_000:
        seconds //= 1000
    try:
        return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def iso_time(value: Any) -> dt.datetime | None:
    """A real ISO 8601 timestamp (with offset or Z) as an aware UTC datetime."""
    text = as_str(value)
    if not text:
        return None
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(dt.UTC) if parsed.tzinfo else None


def phone_of(jid: Any) -> str:
    """E.164 for a phone JID (``…@s.whatsapp.net`` / ``…@c.us``), else ``""`` (LIDs, groups, garbage)."""
    phone = jid_to_e164(as_str(jid)) or ""
    return phone if 8 <= len(phone) <= 16 else ""


def digest(body: bytes, *parts: object) -> str:
    """A stable id for events that carry none: the hash of the raw body (identical on provider retries)."""
    h = hashlib.sha256(body)
    for part in parts:
        h.update(f"|{part}".encode())
    return h.hexdigest()[:32]
