"""The integration's event log: one sanitised row per request (no secrets, bodies or full phone numbers)."""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import cache

from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.lib.crypto import keyed_hash
from whatsapp_gateway.lib.phone import mask
from whatsapp_gateway.threecx.incoming.request import PHONE_HASH_PURPOSE, RequestLog, WebhookRequest, WebhookResponse
from whatsapp_gateway.threecx.models import (
    Decision,
    Direction,
    IntegrationEvent,
)

logger = logging.getLogger("whatsapp_gateway.threecx.incoming")

_SUMMARY_FIELDS = (
    "event_type",
    "message_purpose",
    "agent_extension",
    "agent",
    "queue",
    "conversation_id",
    "call_type",
    "direction",
    "instance_id",
    "call_id",
    "duration",
    "is_video",
)


def sanitised_summary(data: dict) -> dict[str, Any]:
    """What the request carried, minus secrets, bodies and phone numbers: field names and a few short labels."""
    summary: dict[str, Any] = {"fields": sorted(str(k)[:40] for k in list(data)[:40])}
    for key in _SUMMARY_FIELDS:
        value = data.get(key)
        if isinstance(value, str | int | float | bool) and value != "":
            summary[key] = str(value)[:60]
    for key in ("did", "from"):
        # On the Generic SMS form ``from`` is the business's 3CX DID, not a customer; keep it masked anyway.
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            summary[key] = mask(value.strip())
    return summary


def write_log(request: WebhookRequest, log: RequestLog, response: WebhookResponse) -> None:
    integration = log.integration
    if integration is None and not _unknown_log_allowed(request.client_ip):
        logger.warning("3CX webhook rejected for unknown integration (log throttled): %s", log.reason)
        return
    if integration is None and log.decision == Decision.REJECTED:
        logger.info("3CX webhook rejected for %s: %s", request.integration_ref[:60], log.reason)
    try:
        IntegrationEvent.objects.create(
            account=integration.account if integration else None,
            integration=integration,
            integration_ref=request.integration_ref[:60],
            direction=Direction.FROM_3CX,
            request_form=log.form,
            event_type=log.event_type[:40],
            decision=log.decision,
            code=log.code[:40],
            reason=log.reason[:300],
            http_status=response.status,
            phone_masked=mask(log.phone),
            phone_hash=keyed_hash(log.phone, purpose=PHONE_HASH_PURPOSE) if log.phone else "",
            text_length=log.text_length,
            message_id=log.message_id[:40],
            summary=log.summary,
            client_ip=request.client_ip,
        )
    except Exception:  # the log must never turn an answered request into a 500
        logger.exception("could not write the 3CX event log")


def _unknown_log_allowed(client_ip: str | None) -> bool:
    """Unknown integration ids are logged for the operator, at most 30 a minute per client IP."""
    key = f"threecx:unknown-log:{client_ip}:{int(now().timestamp()) // 60}"
    cache.add(key, 0, timeout=120)
    try:
        return cache.incr(key) <= 30
    except ValueError:
        return True
