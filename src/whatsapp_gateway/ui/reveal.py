"""Showing full phone numbers: asked for with a POST (audit-logged once), then shown for a while on GET pages.

A GET never writes the audit log (a link prefetch or a page refreshing itself must not record a reveal nobody
asked for): the POST records it and grants the reveal for ``REVEAL_SECONDS`` in the session; pages show full
numbers with ``?reveal=1`` while the grant lasts.
"""

from __future__ import annotations

import time

from django.http import HttpRequest

from whatsapp_gateway.accounts.models import Role

REVEAL_SECONDS = 10 * 60
# scope -> audit action; one grant per area of the portal.
SCOPES = {
    "message_log": "message_log.numbers_revealed",
    "inbound": "inbound.numbers_revealed",
    "suppression": "suppression.numbers_revealed",
}


def _key(scope: str) -> str:
    return f"reveal:{scope}"


def reveal_grant(request: HttpRequest, scope: str) -> None:
    request.session[_key(scope)] = int(time.time()) + REVEAL_SECONDS


def reveal_active(request: HttpRequest, scope: str) -> bool:
    """True when an admin asked for full numbers on this page (``?reveal=1``) within the granted time."""
    membership = getattr(request, "membership", None)
    if request.GET.get("reveal") != "1" or membership is None or not membership.has_role(Role.ADMIN):
        return False
    return int(request.session.get(_key(scope), 0)) > time.time()
