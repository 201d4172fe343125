"""The two request forms and what each event asks for: a WhatsApp message (stock Generic SMS or native
``outbound_message``) or a call event that may send a call template."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging

from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib import errors
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.lib.crypto import keyed_hash
from whatsapp_gateway.threecx import call_templates
from whatsapp_gateway.threecx.incoming.fields import (
    as_bool,
    call_time_field,
    did_field,
    first_key,
    first_value,
    format_call_time,
    is_outbound_call,
    logged_response,
    media_urls_field,
    message_id_of,
    phone_field,
    purpose_field,
    resolve_instance,
    skipped_response,
    text_field,
    with_media_links,
)
from whatsapp_gateway.threecx.incoming.request import (
    DEFAULT_PURPOSE,
    FORM_GENERIC,
    FORM_NATIVE,
    MISSED_CALL_TYPES,
    PHONE_ALIASES,
    PHONE_HASH_PURPOSE,
    TEXT_ALIASES,
    RequestLog,
    WebhookRequest,
    WebhookResponse,
)
from whatsapp_gateway.threecx.incoming.sending import (
    check_window,
    cooldown_claim,
    emit_call_event,
    fingerprint_claim,
    fingerprint_complete,
    fingerprint_of,
    send_now,
    send_once,
)
from whatsapp_gateway.threecx.models import (
    Decision,
    Integration,
    RequestFingerprint,
    TemplateCooldown,
)

logger = logging.getLogger("whatsapp_gateway.threecx.incoming")


def handle_generic(integration: Integration, data: dict, log: RequestLog, request: WebhookRequest) -> WebhookResponse:
    log.event_type = "outbound_message"
    log.intends_send = True
    if not integration.outbound_enabled:
        raise errors.OutboundDisabled()
    phone = phone_field(integration.account, data.get("to"), field_name="to")
    log.phone = phone
    media = media_urls_field(data)
    # A picture sent from the 3CX chat with no words is still a message: its link is the text.
    text = text_field(data, ("text",), allow_empty=bool(media))
    text = with_media_links(text, media)
    log.text_length = len(text)
    did = did_field(integration.account, data.get("from"))
    instance = resolve_instance(integration, data, did)
    log.summary["instance_id"] = instance.public_id
    fingerprint = fingerprint_of(integration, FORM_GENERIC, str(data.get("from") or ""), str(data.get("to")), text)

    def build(outcome) -> WebhookResponse:
        return WebhookResponse(
            status=200, body={"data": {"id": outcome.message_id, "record_type": "message", "status": "queued"}}
        )

    return send_once(
        integration,
        log,
        request,
        fingerprint=fingerprint,
        instance=instance,
        phone=phone,
        text=text,
        purpose=DEFAULT_PURPOSE,
        build=build,
    )


# --- Native JSON -------------------------------------------------------------------------------------------------


def handle_native(integration: Integration, data: dict, log: RequestLog, request: WebhookRequest) -> WebhookResponse:
    event_type = data.get("event_type")
    if not isinstance(event_type, str) or event_type.strip() not in call_templates.EVENT_KINDS:
        log.event_type = str(event_type)[:40] if event_type is not None else ""
        allowed = ", ".join(call_templates.EVENT_TYPES)
        raise errors.ValidationFailed(f"event_type must be one of: {allowed}.", details={"field": "event_type"})
    event_type = event_type.strip()
    call_type = str(data.get("call_type") or "").strip().lower()
    if event_type == "call_ended" and call_type in MISSED_CALL_TYPES:
        event_type = "missed_call"  # 3CX CRM journaling: [CallType] Missed / Notanswered
    log.event_type = event_type
    kind = call_templates.EVENT_KINDS[event_type]

    if kind.is_call and not integration.call_event_enabled:
        raise errors.CallEventsDisabled()
    if event_type == "outbound_message" and not integration.outbound_enabled:
        log.intends_send = True
        raise errors.OutboundDisabled()

    if event_type == "test":
        log.decision = Decision.OK
        instance = integration.default_instance
        return WebhookResponse(
            status=200,
            body={
                "success": True,
                "status": "ok",
                "event_type": "test",
                "integration_id": integration.public_id,
                "instance_id": instance.public_id if instance else None,
                "instance_state": instance.state if instance else None,
                "inbound_enabled": integration.inbound_enabled,
                "outbound_enabled": integration.outbound_enabled,
                "call_event_enabled": integration.call_event_enabled,
            },
        )
    if event_type == "inbound_reply":
        raw_phone = first_value(data, PHONE_ALIASES)
        if raw_phone:
            log.phone = phone_field(integration.account, raw_phone, field_name=first_key(data, PHONE_ALIASES))
        text = first_value(data, TEXT_ALIASES)
        log.text_length = len(text) if isinstance(text, str) else None
        return logged_response(log, event_type)
    if event_type == "outbound_message":
        return _outbound_message(integration, data, log, request)
    return _call_event(integration, data, log, request, event_type)


def _outbound_message(
    integration: Integration, data: dict, log: RequestLog, request: WebhookRequest
) -> WebhookResponse:
    log.intends_send = True
    phone = phone_field(
        integration.account, first_value(data, PHONE_ALIASES), field_name=first_key(data, PHONE_ALIASES)
    )
    log.phone = phone
    text = text_field(data, TEXT_ALIASES)
    log.text_length = len(text)
    purpose = purpose_field(data)
    instance = resolve_instance(integration, data, did_field(integration.account, data.get("did")))
    log.summary["instance_id"] = instance.public_id
    key = (request.headers.get("Idempotency-Key") or "").strip()
    fingerprint = (
        fingerprint_of(integration, "idempotency-key", key)
        if key
        else fingerprint_of(integration, FORM_NATIVE, instance.public_id, phone, text, purpose)
    )

    def build(outcome) -> WebhookResponse:
        return WebhookResponse(
            status=202,
            body={
                "success": True,
                "status": outcome.status,
                "event_type": "outbound_message",
                "message_id": outcome.message_id,
                "log_id": outcome.log_id,
            },
        )

    return send_once(
        integration,
        log,
        request,
        fingerprint=fingerprint,
        instance=instance,
        phone=phone,
        text=text,
        purpose=purpose,
        build=build,
    )


def _call_event(
    integration: Integration, data: dict, log: RequestLog, request: WebhookRequest, event_type: str
) -> WebhookResponse:
    kind = call_templates.EVENT_KINDS[event_type]
    account = integration.account
    phone = phone_field(account, first_value(data, PHONE_ALIASES), field_name=first_key(data, PHONE_ALIASES))
    log.phone = phone
    instance = resolve_instance(integration, data, did_field(account, data.get("did")))
    log.summary["instance_id"] = instance.public_id
    if is_outbound_call(data):
        # An agent calling out: 3CX's CRM lookup and journal fire for those too. Not a customer's call to us, so no
        # call.received / call.missed and no follow-up ("sorry we missed your call" to someone we called).
        return skipped_response(log, event_type, "outbound_call")
    started_at = call_time_field(data)
    call_id = (
        str(data.get("call_id") or "").strip()[:80]
        or "3cx_"
        + hashlib.sha256(
            "|".join(
                [
                    integration.public_id,
                    event_type,
                    phone,
                    str(data.get("agent_extension") or data.get("agent") or ""),
                    started_at.isoformat() if started_at else "",
                ]
            ).encode()
        ).hexdigest()[:24]
    )
    log.summary["call_id"] = call_id
    # A call with a stable identity (a call id, or its start time) that 3CX or middleware reports twice is answered
    # from the first report: the customer webhook is not emitted again and no second template goes out.
    stable = bool(str(data.get("call_id") or "").strip()) or started_at is not None
    fingerprint = fingerprint_of(integration, "call", event_type, call_id) if stable else ""
    if fingerprint:
        replay = fingerprint_claim(integration, fingerprint)
        if replay is not None:
            log.decision = Decision.REPLAYED
            log.message_id = message_id_of(replay.response or {})
            return WebhookResponse(
                status=replay.http_status or 200, body=replay.response or {}, headers={"Idempotent-Replayed": "true"}
            )
    try:
        emit_call_event(
            integration, instance, kind, phone=phone, call_id=call_id, is_video=as_bool(data.get("is_video"))
        )
    except Exception:
        if fingerprint:
            RequestFingerprint.objects.filter(integration=integration, fingerprint=fingerprint).delete()
        raise
    try:
        response = _call_event_template(integration, data, log, request, event_type, instance, phone, started_at)
    except errors.GatewayError as exc:
        if fingerprint:  # the call is reported; a retry gets this same refusal instead of a second event
            fingerprint_complete(integration, fingerprint, exc.status, exc.as_body())
        raise
    if fingerprint:
        fingerprint_complete(integration, fingerprint, response.status, response.body)
    return response


def _call_event_template(
    integration: Integration,
    data: dict,
    log: RequestLog,
    request: WebhookRequest,
    event_type: str,
    instance: Instance,
    phone: str,
    started_at: dt.datetime | None,
) -> WebhookResponse:
    """After a call event is recorded: send its template if every rule allows it, else say why not."""
    kind = call_templates.EVENT_KINDS[event_type]
    account = integration.account
    if not kind.has_template:
        return logged_response(log, event_type)
    enabled, template_text = call_templates.template_for(integration.templates, event_type)
    if not enabled:
        return skipped_response(log, event_type, "template_disabled")
    log.intends_send = True
    purpose = purpose_field(data)
    values = {
        "customer_phone": phone,
        "agent_extension": str(data.get("agent_extension") or data.get("agent") or "")[:40],
        "queue": str(data.get("queue") or data.get("queue_name") or "")[:80],
        "call_time": format_call_time(started_at or now(), account),
        "business_name": integration.display_business_name,
    }
    meta = call_templates.meta_template_for(integration.templates, event_type)
    template = None
    if meta is not None and instance.provider == "cloud":
        # A Meta template is what WhatsApp delivers outside the 24-hour window: no window check, same send path.
        name, language, names = meta
        template = {"name": name, "language": language, "variables": [values.get(n) or "-" for n in names]}
        text = ""
    else:
        check_window(integration, instance, phone)
        text = call_templates.render(template_text, values)
        log.text_length = len(text)
        if not text:
            return skipped_response(log, event_type, "template_empty")
    phone_key = keyed_hash(phone, purpose=PHONE_HASH_PURPOSE)
    claimed_at = cooldown_claim(integration, event_type, phone_key)
    if claimed_at is None:
        return skipped_response(log, event_type, "cooldown")
    try:
        log.send_called = True
        outcome = send_now(
            integration, instance=instance, phone=phone, text=text, purpose=purpose, request=request, template=template
        )
    except Exception:
        TemplateCooldown.objects.filter(
            integration=integration, event_type=event_type, phone_hash=phone_key, last_sent_at=claimed_at
        ).delete()
        raise
    log.decision, log.message_id = Decision.QUEUED, outcome.message_id
    return WebhookResponse(
        status=202,
        body={
            "success": True,
            "status": outcome.status,
            "event_type": event_type,
            "message_id": outcome.message_id,
            "log_id": outcome.log_id,
        },
    )
