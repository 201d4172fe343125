"""Inbound WhatsApp → 3CX: the bodies we post to the 3CX Webhook URL (docs/api.md "3CX integration")."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from whatsapp_gateway.accounts.models import Module, User
from whatsapp_gateway.inbound.models import InboundMessage
from whatsapp_gateway.inbound.services import inbound_forwarding_update
from whatsapp_gateway.lib.crypto import keyed_hash
from whatsapp_gateway.lib.phone import mask
from whatsapp_gateway.threecx.incoming.request import PHONE_HASH_PURPOSE
from whatsapp_gateway.threecx.models import Decision, Direction, InboundFormat, Integration, IntegrationEvent
from whatsapp_gateway.threecx.selectors import integrations_with_forwarding
from whatsapp_gateway.webhooks.catalogue import TEST_EVENT
from whatsapp_gateway.webhooks.delivery import OutgoingRequest, canonical_json
from whatsapp_gateway.webhooks.models import Delivery, DeliveryState
from whatsapp_gateway.webhooks.resend import endpoint_send_test_event


def _iso_ms(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def generic_sms_envelope(
    *, event_id: str, message_id: str, occurred_at: dt.datetime, text: str, from_phone: str, did: str
) -> dict[str, Any]:
    """The Telnyx-style ``message.received`` envelope the stock 3CX Generic SMS provider accepts."""
    return {
        "data": {
            "event_type": "message.received",
            "id": event_id,
            "occurred_at": _iso_ms(occurred_at),
            "record_type": "event",
            "payload": {
                "id": message_id,
                "direction": "inbound",
                "type": "SMS",
                "record_type": "message",
                "received_at": _iso_ms(occurred_at),
                "text": text,
                "from": {"phone_number": from_phone},
                "to": [{"phone_number": did}],
            },
        }
    }


def native_event(
    *,
    integration: Integration,
    event_id: str,
    message_id: str,
    occurred_at: dt.datetime,
    instance_id: str,
    instance_name: str,
    from_phone: str,
    from_name: str,
    did: str,
    text: str,
    message_type: str,
) -> dict[str, Any]:
    """The gateway's own JSON for custom middleware; signed like customer webhooks with the integration secret."""
    return {
        "event": "message.received",
        "event_id": event_id,
        "occurred_at": occurred_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "integration_id": integration.public_id,
        "instance_id": instance_id,
        "instance_name": instance_name,
        "from": from_phone,
        "from_name": from_name,
        "to": did,
        "message_text": text,
        "message_type": message_type,
        "message_id": message_id,
    }


def native_signature_headers(*, secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """``X-WhatsApp-Gateway-Timestamp`` + ``X-WhatsApp-Gateway-Signature: sha256=<hex>`` over ``ts.body``."""
    digest = hmac.new(secret.encode("utf-8"), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-WhatsApp-Gateway-Timestamp": str(timestamp), "X-WhatsApp-Gateway-Signature": f"sha256={digest}"}


# --- The delivery engine's ``threecx`` endpoint kind ---------------------------------------------------------------

TEST_SENDER = "+10000000000"
TEST_TEXT = "WhatsApp Gateway test: the connection from the gateway to 3CX works."
MEDIA_KEYS = ("url", "media_url", "mediaUrl", "file_url")


def integration_for_endpoint(endpoint) -> Integration | None:
    return (
        Integration.objects.select_related("account", "default_instance")
        .filter(delivery_endpoint_id=endpoint.pk)
        .first()
    )


def did_for_instance(integration: Integration, instance) -> str | None:
    """The 3CX DID a customer's message to ``instance`` is presented on; ``None`` if the integration does not serve
    the instance; ``""`` if it does but no DID is known (no mapping and the instance has no number yet)."""
    if instance is None:
        return None
    dids = sorted(m.did for m in integration.did_mappings.all() if m.instance_id == instance.pk)
    if dids:
        return dids[0]
    if integration.default_instance_id == instance.pk:
        return instance.phone_number or ""
    return None


def forward_skip_reason(
    integration: Integration, *, instance, sender_phone: str, is_opt_out: bool, is_group: bool
) -> tuple[str | None, str]:
    """``(did, reason)`` for one inbound message: ``reason`` is empty when it goes to 3CX. Shared by the forwarder
    (which logs the decision) and the endpoint's ``accepts`` filter (which creates the delivery), so they agree."""
    did = did_for_instance(integration, instance)
    if did is None or is_group:
        return None, "not_served"
    if not (integration.is_active and integration.inbound_enabled):
        return did, "inbound_off"
    if not integration.account.has_module(Module.THREECX):
        return did, "module_not_enabled"  # the operator turned 3CX off for the account: nothing leaves for 3CX
    if is_opt_out:
        return did, "opt_out"
    if not sender_phone.startswith("+"):
        return did, "no_phone_number"
    if not did:
        return did, "no_did"
    return did, ""


def _message_text(payload: dict[str, Any]) -> str:
    """The text 3CX shows: the message, or the caption / a label for media, with media links appended."""
    text = str(payload.get("message_text") or "").strip()
    metadata = payload.get("metadata") if isinstance(payload.get("metadata"), dict) else {}
    if not text:
        text = str(metadata.get("caption") or "").strip()
    links = [str(metadata[k]) for k in MEDIA_KEYS if isinstance(metadata.get(k), str) and metadata[k]]
    kind = str(payload.get("message_type") or "text")
    if not text:
        text = f"[{kind}]" if kind != "text" else ""
    return "\n".join([text, *links]).strip()


def build_threecx_request(endpoint, event, delivery, timestamp: int):
    """The request for one delivery to 3CX: the Generic SMS envelope, or signed native JSON (a setting).

    Ids are stable across retries (``data.id`` = the gateway event id, ``payload.id`` = the inbound message id) so
    3CX can deduplicate; the DID is resolved at send time from the current mapping.
    """
    integration = integration_for_endpoint(endpoint)
    payload = event.payload or {}
    if event.event_type == TEST_EVENT:
        sender, text, message_id, sender_name, message_type = TEST_SENDER, TEST_TEXT, event.public_id, "", "text"
        instance = integration.default_instance if integration else None
    else:
        sender = str(payload.get("from") or "")
        text = _message_text(payload)
        message_id = str(payload.get("message_id") or event.public_id)
        sender_name = str(payload.get("from_name") or "")
        message_type = str(payload.get("message_type") or "text")
        instance = event.instance
    did = (did_for_instance(integration, instance) if integration else None) or ""
    headers = {"Content-Type": "application/json"}
    if integration is not None and integration.inbound_format == InboundFormat.NATIVE_JSON:
        body = canonical_json(
            native_event(
                integration=integration,
                event_id=event.public_id,
                message_id=message_id,
                occurred_at=event.occurred_at,
                instance_id=instance.public_id if instance else "",
                instance_name=instance.name if instance else "",
                from_phone=sender,
                from_name=sender_name,
                did=did,
                text=text,
                message_type=message_type,
            )
        )
        headers.update(native_signature_headers(secret=integration.secret_encrypted, body=body, timestamp=timestamp))
        headers["X-WhatsApp-Gateway-Event"] = "message.received"
    else:
        body = canonical_json(
            generic_sms_envelope(
                event_id=event.public_id,
                message_id=message_id,
                occurred_at=event.occurred_at,
                text=text,
                from_phone=sender,
                did=did,
            )
        )
    return OutgoingRequest(body=body, headers=headers)


def threecx_accepts(endpoint, event) -> bool:
    """Which events become deliveries to 3CX: customers' 1:1 messages to a served instance, never opt-outs."""
    if event.event_type != "message.received":
        return False
    integration = integration_for_endpoint(endpoint)
    if integration is None:
        return False
    payload = event.payload or {}
    inbound = (
        InboundMessage.objects.filter(public_id=str(payload.get("message_id") or ""))
        .only("is_opt_out", "is_group", "sender_phone")
        .first()
    )
    _did, reason = forward_skip_reason(
        integration,
        instance=event.instance,
        sender_phone=str(payload.get("from") or ""),
        is_opt_out=bool(inbound and inbound.is_opt_out),
        is_group=bool(inbound and inbound.is_group),
    )
    return reason == ""


# --- The inbound forwarder and the delivery outcomes in the event log ---------------------------------------------


def threecx_forward_inbound(inbound, *, is_opt_out: bool) -> str | None:
    """``inbound.hooks`` forwarder: runs in the inbound transaction after opt-out handling.

    It only writes the decision to each serving integration's event log; the delivery itself is the outbox row the
    engine creates when the message's ``message.received`` event is emitted a moment later in the same transaction
    (``threecx_accepts`` makes the same decision). Returns ``pending`` / ``skipped`` for the inbound log, or
    ``None`` when no integration serves the instance.
    """
    if inbound.is_group:
        return None
    statuses: list[str] = []
    for integration in integrations_with_forwarding(account_id=inbound.account_id):
        did, reason = forward_skip_reason(
            integration,
            instance=inbound.instance,
            sender_phone=inbound.sender_phone or "",
            is_opt_out=is_opt_out,
            is_group=False,
        )
        if reason in ("not_served", "inbound_off"):
            continue
        endpoint = integration.delivery_endpoint
        if not reason and (endpoint is None or not endpoint.is_enabled):
            reason = "endpoint_disabled"  # the engine turned it off (410 Gone / 5 days failing): see the portal
        phone = inbound.sender_phone or ""
        IntegrationEvent.objects.create(
            account_id=inbound.account_id,
            integration=integration,
            integration_ref=integration.public_id,
            direction=Direction.TO_3CX,
            request_form=integration.inbound_format,
            event_type="message.received",
            decision=Decision.SKIPPED if reason else Decision.PENDING,
            code=reason,
            phone_masked=mask(phone),
            phone_hash=keyed_hash(phone, purpose=PHONE_HASH_PURPOSE) if phone else "",
            text_length=len(inbound.text or ""),
            message_id=inbound.public_id,
            summary={
                "did": mask(did or ""),
                "instance_id": inbound.instance.public_id,
                "message_type": inbound.message_type,
            },
        )
        statuses.append("skipped" if reason else "pending")
    if not statuses:
        return None
    return "pending" if "pending" in statuses else "skipped"


def threecx_deliveries_sync(*, integration: Integration | None = None, limit: int = 500) -> int:
    """Copy finished delivery outcomes into the event log (``delivered`` / ``failed``) and the inbound message's
    forwarding status. Runs every minute and when someone opens the event log. Returns how many rows changed."""
    rows = IntegrationEvent.objects.filter(direction=Direction.TO_3CX, decision=Decision.PENDING).select_related(
        "integration"
    )
    if integration is not None:
        rows = rows.filter(integration=integration)
    changed = 0
    for row in rows.order_by("id")[:limit]:
        endpoint_id = row.integration.delivery_endpoint_id if row.integration else None
        if endpoint_id is None:
            continue
        delivery = (
            Delivery.objects.filter(endpoint_id=endpoint_id, event__payload__message_id=row.message_id)
            .order_by("-id")
            .first()
        )
        if delivery is None:
            continue
        if delivery.state == DeliveryState.SENT:
            decision, status, detail = Decision.DELIVERED, "forwarded", f"HTTP {delivery.last_status_code}"
        elif delivery.state in (DeliveryState.FAILED, DeliveryState.BLOCKED):
            decision, status, detail = Decision.FAILED, "failed", delivery.last_error or delivery.state
        else:
            if row.delivery_ref != delivery.public_id:
                IntegrationEvent.objects.filter(pk=row.pk).update(delivery_ref=delivery.public_id)
            continue
        updated = IntegrationEvent.objects.filter(pk=row.pk, decision=Decision.PENDING).update(
            decision=decision,
            delivery_ref=delivery.public_id,
            http_status=delivery.last_status_code,
            reason=(detail or "")[:300] if decision == Decision.FAILED else "",
        )
        if updated:
            changed += 1
            _inbound_forwarding_update(row.message_id, status, detail)
    return changed


def _inbound_forwarding_update(message_id: str, status: str, detail: str) -> None:
    inbound = InboundMessage.objects.filter(public_id=message_id).first()
    if inbound is not None:
        inbound_forwarding_update(inbound=inbound, status=status, detail=f"3CX: {detail}"[:300])


@dataclass(frozen=True)
class TestOutcome:
    ok: bool
    summary: str


def threecx_send_test(
    *, integration: Integration, actor: User | None = None, client_ip: str | None = None, user_agent: str = ""
) -> TestOutcome:
    """Send one test ``message.received`` to 3CX now (through the engine's URL check, client and delivery log) and
    record it in the integration's event log."""
    result = endpoint_send_test_event(
        endpoint=integration.delivery_endpoint, actor=actor, client_ip=client_ip, user_agent=user_agent
    )
    attempt = result.attempt
    status = attempt.status_code if attempt else None
    ok = attempt is not None and attempt.outcome == "sent"
    if ok:
        summary = f"HTTP {status} in {attempt.latency_ms} ms"
    else:
        summary = (attempt.error if attempt and attempt.error else f"HTTP {status}") or "no answer"
    IntegrationEvent.objects.create(
        account_id=integration.account_id,
        integration=integration,
        integration_ref=integration.public_id,
        direction=Direction.TO_3CX,
        request_form=integration.inbound_format,
        event_type="test",
        decision=Decision.DELIVERED if ok else Decision.FAILED,
        reason="" if ok else summary[:300],
        http_status=status,
        delivery_ref=result.delivery.public_id,
        text_length=len(TEST_TEXT),
    )
    return TestOutcome(ok=ok, summary=summary)
