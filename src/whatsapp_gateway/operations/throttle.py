"""Throttling of authentication failures per client IP (API-key guessing, 3CX secret guessing).

A fixed one-minute window in the shared cache (Redis in production, so all web processes count together). After
``GATEWAY_AUTH_FAILURES_PER_MINUTE`` failures from one IP in a scope, further attempts from that IP are refused
before any credential is checked, until the minute is over. A cache outage never locks anyone out (fail open).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache

from whatsapp_gateway.lib.clock import now

logger = logging.getLogger(__name__)
WINDOW_SECONDS = 60


def _key(scope: str, ip: str | None) -> str:
    return f"authfail:{scope}:{ip or '-'}:{int(now().timestamp()) // WINDOW_SECONDS}"


def auth_failures_exceeded(*, scope: str, ip: str | None) -> bool:
    """True when ``ip`` already failed too often in this minute in ``scope`` (``api``, ``threecx``)."""
    try:
        return int(cache.get(_key(scope, ip)) or 0) >= settings.GATEWAY_AUTH_FAILURES_PER_MINUTE
    except Exception:
        logger.warning("auth throttle unavailable (cache error); not throttling", exc_info=True)
        return False


def auth_failure_record(*, scope: str, ip: str | None) -> None:
    key = _key(scope, ip)
    try:
        cache.add(key, 0, timeout=WINDOW_SECONDS * 2)
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=WINDOW_SECONDS * 2)
    except Exception:
        logger.warning("auth throttle unavailable (cache error); failure not counted", exc_info=True)


def retry_after_seconds() -> int:
    return WINDOW_SECONDS - int(now().timestamp()) % WINDOW_SECONDS
