"""The client's IP address, the one definition every caller uses (audit log, throttles, allow-lists, allauth).

Behind ``GATEWAY_TRUSTED_PROXY_COUNT`` reverse proxies, each proxy appends the address it received the request from
to ``X-Forwarded-For``; everything to the left of those entries was written by the client and is never trusted. So
the client is the entry that many hops from the right. Without trusted proxies the header is ignored and the socket
peer (``REMOTE_ADDR``) is the client. The value is validated as an IP address; anything else is ``None``.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.http import HttpRequest


def clean_ip(value: str | None) -> str | None:
    """``value`` as a canonical IP address string, or ``None`` when it is not one (brackets and ports dropped)."""
    if not value:
        return None
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "192.0.2.1:443"
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return str(address)


def forwarded_client(forwarded_for: str, hops: int) -> str | None:
    """The entry ``hops`` from the right of an ``X-Forwarded-For`` value. With fewer entries than hops, the
    leftmost one: every entry was then appended by a trusted proxy."""
    entries = [e.strip() for e in forwarded_for.split(",")]
    if hops <= 0 or not entries:
        return None
    return clean_ip(entries[max(len(entries) - hops, 0)])


def client_ip(request: HttpRequest | None) -> str | None:
    """The request's client address, trusting exactly ``GATEWAY_TRUSTED_PROXY_COUNT`` proxies."""
    if request is None:
        return None
    hops = settings.GATEWAY_TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if hops > 0 and forwarded.strip():
        return forwarded_client(forwarded, hops)
    return clean_ip(request.META.get("REMOTE_ADDR"))


def request_origin(request: HttpRequest) -> dict[str, Any]:
    """Where a portal or admin request came from, as the keyword arguments the services take for the audit log next
    to ``actor``: ``client_ip`` and ``user_agent``."""
    return {"client_ip": client_ip(request), "user_agent": request.META.get("HTTP_USER_AGENT", "")[:300]}
