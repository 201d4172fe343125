"""Sending once: request fingerprints against 3CX retries, the call-template cooldown, the 24-hour window, then
``messaging.services.send_message`` (the API's own guard). Each ledger write is its own small atomic statement."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging

from django.db import IntegrityError, transaction

from whatsapp_gateway.contacts.selectors import conversation_last_inbound_at
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib import errors
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.messaging import services as messaging_services
from whatsapp_gateway.messaging.services import send_message
from whatsapp_gateway.threecx import call_templates
from whatsapp_gateway.threecx.incoming.fields import message_id_of
from whatsapp_gateway.threecx.incoming.request import (
    CONVERSATION_WINDOW,
    DEDUP_WINDOW,
    TEMPLATE_COOLDOWN,
    RequestLog,
    WebhookRequest,
    WebhookResponse,
)
from whatsapp_gateway.threecx.models import (
    Decision,
    Integration,
    RequestFingerprint,
    TemplateCooldown,
)
from whatsapp_gateway.webhooks.outbox import event_emit

logger = logging.getLogger("whatsapp_gateway.threecx.incoming")


def send_once(
    integration: Integration,
    log: RequestLog,
    request: WebhookRequest,
    *,
    fingerprint: str,
    instance: Instance,
    phone: str,
    text: str,
    purpose: str,
    build,
) -> WebhookResponse:
    """Send unless an identical request succeeded within ``DEDUP_WINDOW`` (then answer exactly as the first time).

    Only successful answers are kept: a retry of a refused request is evaluated afresh (the customer may have
    written in the meantime).
    """
    replay = fingerprint_claim(integration, fingerprint)
    if replay is not None:
        log.decision = Decision.REPLAYED
        log.message_id = message_id_of(replay.response or {})
        return WebhookResponse(
            status=replay.http_status or 200, body=replay.response or {}, headers={"Idempotent-Replayed": "true"}
        )
    try:
        check_window(integration, instance, phone)
        log.send_called = True
        outcome = send_now(integration, instance=instance, phone=phone, text=text, purpose=purpose, request=request)
    except Exception:
        RequestFingerprint.objects.filter(integration=integration, fingerprint=fingerprint, completed=False).delete()
        raise
    response = build(outcome)
    fingerprint_complete(integration, fingerprint, response.status, response.body)
    log.decision, log.message_id = Decision.QUEUED, outcome.message_id
    return response


def send_now(
    integration: Integration,
    *,
    instance: Instance,
    phone: str,
    text: str,
    purpose: str,
    request: WebhookRequest,
    template: dict | None = None,
):
    """The one send service, exactly as the API uses it: every guard, the message log, pacing. ``template``
    (``{"name", "language", "variables"}``) sends a Meta template instead of ``text``."""
    return send_message(
        account=integration.account,
        instance_ref=instance,
        phone=phone,
        text=text if template is None else None,
        template=template,
        purpose=purpose,
        source="threecx",
        client_ip=request.client_ip,
    )


def message_log_rejection(integration: Integration, exc: errors.GatewayError, request: WebhookRequest) -> None:
    try:
        messaging_services.message_log_rejection(
            account=integration.account, source="threecx", error=exc, client_ip=request.client_ip
        )
    except Exception:  # the answer to 3CX must not depend on the log write
        logger.exception("could not record a refused 3CX message in the message log")


def fingerprint_complete(integration: Integration, fingerprint: str, status: int, body: dict) -> None:
    RequestFingerprint.objects.filter(integration=integration, fingerprint=fingerprint).update(
        completed=True, http_status=status, response=body
    )


def fingerprint_of(integration: Integration, *parts: str) -> str:
    joined = "\x1f".join([integration.public_id, *parts])
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def fingerprint_claim(integration: Integration, fingerprint: str) -> RequestFingerprint | None:
    """Claim the fingerprint for this request, or return the earlier completed one to replay.

    Raises ``IdempotencyInProgress`` while an identical request is still being processed.
    """
    current = now()
    for _ in range(3):
        try:
            with transaction.atomic():
                RequestFingerprint.objects.create(integration=integration, fingerprint=fingerprint, created_at=current)
            return None
        except IntegrityError:
            pass
        existing = RequestFingerprint.objects.filter(integration=integration, fingerprint=fingerprint).first()
        if existing is None:
            continue  # released between our insert and read; try again
        if existing.created_at <= current - DEDUP_WINDOW:
            # Expired: take it over only if nobody else did in the meantime.
            taken = RequestFingerprint.objects.filter(pk=existing.pk, created_at=existing.created_at).update(
                created_at=current, completed=False, http_status=None, response=None
            )
            if taken:
                return None
            continue
        if existing.completed:
            return existing
        raise errors.IdempotencyInProgress("An identical request is still being processed; retry shortly.")
    raise errors.IdempotencyInProgress("An identical request is still being processed; retry shortly.")


def cooldown_claim(integration: Integration, event_type: str, phone_key: str) -> dt.datetime | None:
    """Take the (integration, event type, phone) slot if nothing went out in the last 15 minutes.

    Returns the claim time (used to release it if the send is then refused), or ``None`` inside the cooldown.
    """
    current = now()
    updated = TemplateCooldown.objects.filter(
        integration=integration,
        event_type=event_type,
        phone_hash=phone_key,
        last_sent_at__lte=current - TEMPLATE_COOLDOWN,
    ).update(last_sent_at=current)
    if updated:
        return current
    try:
        with transaction.atomic():
            TemplateCooldown.objects.create(
                integration=integration, event_type=event_type, phone_hash=phone_key, last_sent_at=current
            )
    except IntegrityError:
        return None
    return current


def check_window(integration: Integration, instance: Instance, phone: str) -> None:
    """Strict mode: the customer must have written to this instance within 24 hours."""
    if not integration.strict_window:
        return
    last = conversation_last_inbound_at(instance=instance, phone_e164=phone)
    if last is None or last < now() - CONVERSATION_WINDOW:
        raise errors.ConversationWindowClosed(
            "The customer has not written to this number in the last 24 hours (strict conversation-window mode).",
            details={"last_inbound_at": last.isoformat() if last else None},
        )


def emit_call_event(
    integration: Integration,
    instance: Instance,
    kind: call_templates.EventKind,
    *,
    phone: str,
    call_id: str,
    is_video: bool,
) -> None:
    with transaction.atomic():
        event_emit(
            account=integration.account,
            instance=instance,
            event_type=kind.webhook_event,
            data={"from": phone, "call_id": call_id, "is_video": is_video, "status": kind.webhook_status},
        )
