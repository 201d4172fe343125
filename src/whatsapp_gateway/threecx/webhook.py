"""``POST /integrations/3cx/webhook/{integration_id}``: what 3CX (or middleware) sends us (docs/api.md "3CX integration").

Two request forms share the route, told apart by the credential:

* **native JSON** — ``X-WhatsApp-Gateway-3CX-Secret: <secret>`` (optionally signed with
  ``X-WhatsApp-Gateway-Timestamp`` + ``X-WhatsApp-Gateway-Signature``), body ``{"event_type": …}``;
* **stock 3CX Generic SMS** — ``Authorization: Bearer <integration API key>``, body ``{"from", "to", "text"}``,
  answered in the Telnyx shape ``{"data": {"id", "record_type": "message", "status": "queued"}}``.

Checks run in the contract's order: pre-auth (unknown/disabled integration, IP allowlist, credential, stale
timestamp, signature — all the same 401, the real reason only in the event log), 256 KB cap, 60 requests/minute
per integration, JSON, module, outbound/call-event toggles, phone, text, purpose, the 24 h window, then the send
guard (``messaging.services.send_message``, exactly as the API). Every request leaves one sanitised row in the
integration's event log.

Nothing runs inside one big transaction on purpose: the send service records blocked attempts in the message log
itself, and a rollback here must not erase them. Each ledger write (rate window, fingerprint, cooldown) is its own
small atomic statement, which is what keeps them correct across processes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F, Q

from whatsapp_gateway.accounts.models import Account, Module
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib import errors
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.lib.crypto import constant_time_equals, keyed_hash
from whatsapp_gateway.lib.phone import InvalidPhoneNumber, mask, normalize_e164
from whatsapp_gateway.lib.text import surrogate_path
from whatsapp_gateway.messaging import policy
from whatsapp_gateway.operations.throttle import auth_attempt_passed, auth_attempt_start, retry_after_seconds
from whatsapp_gateway.threecx import call_templates
from whatsapp_gateway.threecx.models import (
    AuthMode,
    Decision,
    Direction,
    Integration,
    IntegrationEvent,
    RateWindow,
    RequestFingerprint,
    TemplateCooldown,
)
from whatsapp_gateway.threecx.selectors import instance_for_did
from whatsapp_gateway.threecx.services import api_key_hash, ip_allowed, secret_hash

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
RATE_LIMIT_PER_MINUTE = 60
TIMESTAMP_TOLERANCE_SECONDS = 300
DEDUP_WINDOW = dt.timedelta(seconds=120)
TEMPLATE_COOLDOWN = dt.timedelta(minutes=15)
CONVERSATION_WINDOW = dt.timedelta(hours=24)
MAX_TEXT_CHARS = 4096

SECRET_HEADER = "X-WhatsApp-Gateway-3CX-Secret"  # noqa: S105 (a header name)
TIMESTAMP_HEADER = "X-WhatsApp-Gateway-Timestamp"
SIGNATURE_HEADER = "X-WhatsApp-Gateway-Signature"

FORM_NATIVE = "native"
FORM_GENERIC = "generic_sms"

PHONE_ALIASES = ("to", "from", "customer_phone", "caller", "phone")
TEXT_ALIASES = ("message_text", "message")
DEFAULT_PURPOSE = "support"
BLOCKED_PURPOSES = ("unknown",)
PHONE_HASH_PURPOSE = "threecx-phone"
UNIFORM_401 = {"success": False, "error": "invalid_3cx_webhook", "message": "Invalid 3CX webhook request."}
# 3CX CRM journaling reports a missed call as ``call_ended`` with one of these ``[CallType]`` values.
MISSED_CALL_TYPES = ("missed", "notanswered")


class PreAuthFailure(Exception):
    """Any reason to refuse before the caller proved who it is. 3CX only ever sees ``UNIFORM_401``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class WebhookRequest:
    integration_ref: str
    headers: Mapping[str, str]  # case-insensitive (Django's ``request.headers``)
    body: bytes | None  # None when Content-Length was over the cap (never read)
    client_ip: str | None
    body_too_large: bool = False


@dataclass
class WebhookResponse:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Log:
    """What goes into the event-log row; filled in as the request is understood."""

    integration: Integration | None = None
    form: str = ""
    event_type: str = ""
    decision: str = Decision.REJECTED
    code: str = ""
    reason: str = ""
    phone: str = ""
    text_length: int | None = None
    message_id: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    # The request asked for a WhatsApp message: a refusal by this layer is also written to the message log (the send
    # service logs its own blocks), so the customer's message log shows every attempt, as for the API.
    intends_send: bool = False
    send_called: bool = False


def webhook_handle(request: WebhookRequest) -> WebhookResponse:
    """Authenticate, check and act on one webhook request; always returns the HTTP answer (never raises)."""
    log = _Log()
    attempt = auth_attempt_start(scope="threecx", ip=request.client_ip)
    if not attempt.allowed:
        # Secret or key guessing from this address: refused before any lookup until the minute is over.
        exc = errors.WebhookRateLimited(headers={"Retry-After": str(retry_after_seconds())})
        return WebhookResponse(status=exc.status, body=exc.as_body(), headers=dict(exc.headers))
    failed_auth = False
    try:
        response = _handle(request, log)
    except PreAuthFailure as failure:
        failed_auth = True
        log.decision, log.code, log.reason = (
            Decision.REJECTED,
            str(errors.ErrorCode.INVALID_3CX_WEBHOOK),
            failure.reason,
        )
        response = WebhookResponse(status=401, body=dict(UNIFORM_401))
    except errors.GatewayError as exc:
        log.decision, log.code = Decision.REJECTED, str(exc.code)
        log.reason = log.reason or exc.message[:300]
        response = WebhookResponse(status=exc.status, body=exc.as_body(), headers=dict(exc.headers))
        if log.intends_send and not log.send_called and log.integration is not None:
            _message_log_rejection(log.integration, exc, request)
    except Exception:
        logger.exception("3CX webhook failed for %s", request.integration_ref[:60])
        log.decision, log.code, log.reason = Decision.REJECTED, str(errors.ErrorCode.INTERNAL_ERROR), "internal error"
        exc = errors.GatewayError("An internal error occurred; it has been logged.")
        response = WebhookResponse(status=500, body=exc.as_body())
    if not failed_auth:  # a failed authentication keeps its throttle slot
        auth_attempt_passed(attempt)
    _write_log(request, log, response)
    return response


# --- The pipeline ------------------------------------------------------------------------------------------------


def _handle(request: WebhookRequest, log: _Log) -> WebhookResponse:
    integration, form = _authenticate(request, log)
    Integration.objects.filter(pk=integration.pk).update(last_request_at=now())
    if request.body_too_large or request.body is None or len(request.body) > MAX_BODY_BYTES:
        raise errors.PayloadTooLarge("The request body is over 256 KB.")
    if form == FORM_NATIVE:
        _verify_signature(integration, request)
    _rate_limit(integration)
    data = _parse_json(request.body)
    log.summary = _sanitised_summary(data)
    account = integration.account
    if not account.has_module(Module.THREECX):
        raise errors.ModuleNotEnabled("The 3CX integration module is not enabled for this account.")
    if form == FORM_GENERIC:
        return _handle_generic(integration, data, log, request)
    return _handle_native(integration, data, log, request)


def _authenticate(request: WebhookRequest, log: _Log) -> tuple[Integration, str]:
    """Find the integration and check its credential. The log learns the integration as soon as it is known, so a
    rejection lands in that integration's event log (with the real reason)."""
    headers = request.headers
    provided_secret = (headers.get(SECRET_HEADER) or "").strip()
    authorization = (headers.get("Authorization") or "").strip()
    bearer = authorization[7:].strip() if authorization[:7].lower() == "bearer " else ""
    integration = (
        Integration.objects.select_related("account", "default_instance")
        .filter(public_id=request.integration_ref)
        .first()
    )
    if integration is None:
        # Hash anyway so an unknown id costs the same as a known one with a wrong credential.
        secret_hash(provided_secret or bearer)
        raise PreAuthFailure("unknown integration id")
    log.integration = integration
    log.form = FORM_NATIVE if provided_secret else FORM_GENERIC if bearer else ""
    if not integration.is_active:
        raise PreAuthFailure("integration is disabled")
    if not ip_allowed(request.client_ip, integration.allowed_ips):
        raise PreAuthFailure(f"client IP {request.client_ip or '?'} is not in the allowlist")
    if provided_secret:
        if not constant_time_equals(secret_hash(provided_secret), integration.secret_hash):
            raise PreAuthFailure(f"wrong {SECRET_HEADER}")
        return integration, FORM_NATIVE
    if bearer:
        if not constant_time_equals(api_key_hash(bearer), integration.api_key_hash):
            raise PreAuthFailure("wrong Bearer API key")
        return integration, FORM_GENERIC
    if authorization:
        raise PreAuthFailure("Authorization header is not a Bearer key")
    raise PreAuthFailure(f"no credentials (neither {SECRET_HEADER} nor a Bearer API key)")


def _verify_signature(integration: Integration, request: WebhookRequest) -> None:
    """Optional HMAC for the native form; required in ``secret_hmac`` mode. Stale (> 300 s) timestamps fail."""
    timestamp = (request.headers.get(TIMESTAMP_HEADER) or "").strip()
    signature = (request.headers.get(SIGNATURE_HEADER) or "").strip()
    if not timestamp and not signature:
        if integration.auth_mode == AuthMode.SECRET_HMAC:
            raise PreAuthFailure("HMAC signature required (auth mode secret + HMAC) but none was sent")
        return
    if not timestamp or not signature:
        raise PreAuthFailure(f"{TIMESTAMP_HEADER} and {SIGNATURE_HEADER} must be sent together")
    try:
        sent_at = int(timestamp)
    except ValueError as exc:
        raise PreAuthFailure("malformed timestamp (expected unix seconds)") from exc
    age = int(now().timestamp()) - sent_at
    if abs(age) > TIMESTAMP_TOLERANCE_SECONDS:
        raise PreAuthFailure(f"stale timestamp ({age} s from server time; limit {TIMESTAMP_TOLERANCE_SECONDS} s)")
    expected = hmac.new(
        integration.secret_encrypted.encode("utf-8"),
        timestamp.encode("ascii") + b"." + (request.body or b""),
        hashlib.sha256,
    ).hexdigest()
    provided = signature[7:] if signature.lower().startswith("sha256=") else signature
    if not hmac.compare_digest(expected.encode(), provided.strip().lower().encode()):
        raise PreAuthFailure("signature does not match the body")


def _rate_limit(integration: Integration) -> None:
    """60 requests per integration per clock minute, counted with an atomic UPDATE (shared by all processes)."""
    current = now()
    window = int(current.timestamp()) // 60
    with transaction.atomic():
        rows = RateWindow.objects.filter(integration=integration, window_start=window)
        if not rows.update(count=F("count") + 1):
            try:
                with transaction.atomic():
                    RateWindow.objects.create(integration=integration, window_start=window, count=1)
            except IntegrityError:  # another process created this minute's row first
                rows.update(count=F("count") + 1)
            else:
                RateWindow.objects.filter(integration=integration, window_start__lt=window - 1).delete()
        count = rows.values_list("count", flat=True).first() or 0
    if count > RATE_LIMIT_PER_MINUTE:
        retry_after = 60 - int(current.timestamp()) % 60
        raise errors.WebhookRateLimited(
            f"More than {RATE_LIMIT_PER_MINUTE} requests a minute for this integration; retry in {retry_after} s.",
            details={"limit": RATE_LIMIT_PER_MINUTE, "used": count},
            headers={"Retry-After": str(retry_after)},
        )


def _parse_json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise errors.InvalidJson() from exc
    if not isinstance(data, dict):
        raise errors.InvalidJson()
    field = surrogate_path(data)
    if field is not None:  # a "\ud800" escape: text no database can store
        raise errors.ValidationFailed(f"{field} is not valid Unicode text.", details={"field": field})
    return data


# --- Stock 3CX Generic SMS ---------------------------------------------------------------------------------------


def _handle_generic(integration: Integration, data: dict, log: _Log, request: WebhookRequest) -> WebhookResponse:
    log.event_type = "outbound_message"
    log.intends_send = True
    if not integration.outbound_enabled:
        raise errors.OutboundDisabled()
    phone = _phone(integration.account, data.get("to"), field_name="to")
    log.phone = phone
    media = _media_urls(data)
    # A picture sent from the 3CX chat with no words is still a message: its link is the text.
    text = _text(data, ("text",), allow_empty=bool(media))
    text = _with_media_links(text, media)
    log.text_length = len(text)
    did = _did(integration.account, data.get("from"))
    instance = _resolve_instance(integration, data, did)
    log.summary["instance_id"] = instance.public_id
    fingerprint = _fingerprint(integration, FORM_GENERIC, str(data.get("from") or ""), str(data.get("to")), text)

    def build(outcome) -> WebhookResponse:
        return WebhookResponse(
            status=200, body={"data": {"id": outcome.message_id, "record_type": "message", "status": "queued"}}
        )

    return _send_once(
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


def _handle_native(integration: Integration, data: dict, log: _Log, request: WebhookRequest) -> WebhookResponse:
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
        raw_phone = _first(data, PHONE_ALIASES)
        if raw_phone:
            log.phone = _phone(integration.account, raw_phone, field_name=_first_key(data, PHONE_ALIASES))
        text = _first(data, TEXT_ALIASES)
        log.text_length = len(text) if isinstance(text, str) else None
        return _logged(log, event_type)
    if event_type == "outbound_message":
        return _outbound_message(integration, data, log, request)
    return _call_event(integration, data, log, request, event_type)


def _outbound_message(integration: Integration, data: dict, log: _Log, request: WebhookRequest) -> WebhookResponse:
    log.intends_send = True
    phone = _phone(integration.account, _first(data, PHONE_ALIASES), field_name=_first_key(data, PHONE_ALIASES))
    log.phone = phone
    text = _text(data, TEXT_ALIASES)
    log.text_length = len(text)
    purpose = _purpose(data)
    instance = _resolve_instance(integration, data, _did(integration.account, data.get("did")))
    log.summary["instance_id"] = instance.public_id
    key = (request.headers.get("Idempotency-Key") or "").strip()
    fingerprint = (
        _fingerprint(integration, "idempotency-key", key)
        if key
        else _fingerprint(integration, FORM_NATIVE, instance.public_id, phone, text, purpose)
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

    return _send_once(
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
    integration: Integration, data: dict, log: _Log, request: WebhookRequest, event_type: str
) -> WebhookResponse:
    kind = call_templates.EVENT_KINDS[event_type]
    account = integration.account
    phone = _phone(account, _first(data, PHONE_ALIASES), field_name=_first_key(data, PHONE_ALIASES))
    log.phone = phone
    instance = _resolve_instance(integration, data, _did(account, data.get("did")))
    log.summary["instance_id"] = instance.public_id
    if _is_outbound_call(data):
        # An agent calling out: 3CX's CRM lookup and journal fire for those too. Not a customer's call to us, so no
        # call.received / call.missed and no follow-up ("sorry we missed your call" to someone we called).
        return _skipped(log, event_type, "outbound_call")
    started_at = _call_time(data)
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
    fingerprint = _fingerprint(integration, "call", event_type, call_id) if stable else ""
    if fingerprint:
        replay = _fingerprint_claim(integration, fingerprint)
        if replay is not None:
            log.decision = Decision.REPLAYED
            log.message_id = _message_id_of(replay.response or {})
            return WebhookResponse(
                status=replay.http_status or 200, body=replay.response or {}, headers={"Idempotent-Replayed": "true"}
            )
    try:
        _emit_call_event(
            integration, instance, kind, phone=phone, call_id=call_id, is_video=_bool(data.get("is_video"))
        )
    except Exception:
        if fingerprint:
            RequestFingerprint.objects.filter(integration=integration, fingerprint=fingerprint).delete()
        raise
    try:
        response = _call_event_template(integration, data, log, request, event_type, instance, phone, started_at)
    except errors.GatewayError as exc:
        if fingerprint:  # the call is reported; a retry gets this same refusal instead of a second event
            _fingerprint_complete(integration, fingerprint, exc.status, exc.as_body())
        raise
    if fingerprint:
        _fingerprint_complete(integration, fingerprint, response.status, response.body)
    return response


def _call_event_template(
    integration: Integration,
    data: dict,
    log: _Log,
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
        return _logged(log, event_type)
    enabled, template_text = call_templates.template_for(integration.templates, event_type)
    if not enabled:
        return _skipped(log, event_type, "template_disabled")
    log.intends_send = True
    purpose = _purpose(data)
    values = {
        "customer_phone": phone,
        "agent_extension": str(data.get("agent_extension") or data.get("agent") or "")[:40],
        "queue": str(data.get("queue") or data.get("queue_name") or "")[:80],
        "call_time": _format_call_time(started_at or now(), account),
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
        _check_window(integration, instance, phone)
        text = call_templates.render(template_text, values)
        log.text_length = len(text)
        if not text:
            return _skipped(log, event_type, "template_empty")
    phone_key = keyed_hash(phone, purpose=PHONE_HASH_PURPOSE)
    claimed_at = _cooldown_claim(integration, event_type, phone_key)
    if claimed_at is None:
        return _skipped(log, event_type, "cooldown")
    try:
        log.send_called = True
        outcome = _send(
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


# --- Sending, once --------------------------------------------------------------------------------------------


def _send_once(
    integration: Integration,
    log: _Log,
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
    replay = _fingerprint_claim(integration, fingerprint)
    if replay is not None:
        log.decision = Decision.REPLAYED
        log.message_id = _message_id_of(replay.response or {})
        return WebhookResponse(
            status=replay.http_status or 200, body=replay.response or {}, headers={"Idempotent-Replayed": "true"}
        )
    try:
        _check_window(integration, instance, phone)
        log.send_called = True
        outcome = _send(integration, instance=instance, phone=phone, text=text, purpose=purpose, request=request)
    except Exception:
        RequestFingerprint.objects.filter(integration=integration, fingerprint=fingerprint, completed=False).delete()
        raise
    response = build(outcome)
    _fingerprint_complete(integration, fingerprint, response.status, response.body)
    log.decision, log.message_id = Decision.QUEUED, outcome.message_id
    return response


def _send(
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
    from whatsapp_gateway.messaging.services import send_message

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


def _message_log_rejection(integration: Integration, exc: errors.GatewayError, request: WebhookRequest) -> None:
    from whatsapp_gateway.messaging.services import message_log_rejection

    try:
        message_log_rejection(account=integration.account, source="threecx", error=exc, client_ip=request.client_ip)
    except Exception:  # the answer to 3CX must not depend on the log write
        logger.exception("could not record a refused 3CX message in the message log")


def _fingerprint_complete(integration: Integration, fingerprint: str, status: int, body: dict) -> None:
    RequestFingerprint.objects.filter(integration=integration, fingerprint=fingerprint).update(
        completed=True, http_status=status, response=body
    )


def _fingerprint(integration: Integration, *parts: str) -> str:
    joined = "\x1f".join([integration.public_id, *parts])
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def _fingerprint_claim(integration: Integration, fingerprint: str) -> RequestFingerprint | None:
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


def _cooldown_claim(integration: Integration, event_type: str, phone_key: str) -> dt.datetime | None:
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


def _check_window(integration: Integration, instance: Instance, phone: str) -> None:
    """Strict mode: the customer must have written to this instance within 24 hours."""
    if not integration.strict_window:
        return
    from whatsapp_gateway.contacts.selectors import conversation_last_inbound_at

    last = conversation_last_inbound_at(instance=instance, phone_e164=phone)
    if last is None or last < now() - CONVERSATION_WINDOW:
        raise errors.ConversationWindowClosed(
            "The customer has not written to this number in the last 24 hours (strict conversation-window mode).",
            details={"last_inbound_at": last.isoformat() if last else None},
        )


def _emit_call_event(
    integration: Integration,
    instance: Instance,
    kind: call_templates.EventKind,
    *,
    phone: str,
    call_id: str,
    is_video: bool,
) -> None:
    from whatsapp_gateway.webhooks.outbox import event_emit

    with transaction.atomic():
        event_emit(
            account=integration.account,
            instance=instance,
            event_type=kind.webhook_event,
            data={"from": phone, "call_id": call_id, "is_video": is_video, "status": kind.webhook_status},
        )


# --- Small parsers -----------------------------------------------------------------------------------------------


def _first(data: dict, keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = data.get(key)
        if value not in (None, ""):
            return value
    return None


def _first_key(data: dict, keys: tuple[str, ...]) -> str:
    for key in keys:
        if data.get(key) not in (None, ""):
            return key
    return keys[0]


def _phone(account: Account, raw: Any, *, field_name: str) -> str:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise errors.MissingPhone(f"A customer phone number is required ({' | '.join(PHONE_ALIASES)}).")
    if not isinstance(raw, str | int) or isinstance(raw, bool):
        raise errors.ValidationFailed(
            f"The field '{field_name}' must be a phone number.", details={"field": field_name}
        )
    try:
        return normalize_e164(str(raw), account.default_country)
    except InvalidPhoneNumber as exc:
        raise errors.ValidationFailed(
            f"The field '{field_name}' is not a valid phone number.", details={"field": field_name}
        ) from exc


def _text(data: dict, keys: tuple[str, ...], *, allow_empty: bool = False) -> str:
    raw = _first(data, keys)
    name = _first_key(data, keys)
    if raw is None and allow_empty:
        return ""
    if raw is None:
        raise errors.MissingMessageText(f"Message text is required ({' | '.join(keys)}).")
    if not isinstance(raw, str):
        raise errors.ValidationFailed(f"The field '{name}' must be a string.", details={"field": name})
    text = raw.strip()
    if not text and not allow_empty:
        raise errors.MissingMessageText(f"Message text is required ({' | '.join(keys)}).")
    if len(text) > MAX_TEXT_CHARS:
        raise errors.ValidationFailed(
            f"The field '{name}' is longer than {MAX_TEXT_CHARS} characters.", details={"field": name}
        )
    return text


def _media_urls(data: dict) -> list[str]:
    """Attachments 3CX may send: Telnyx ``media_urls`` or ``media[].url`` (docs/api.md "3CX integration")."""
    urls: list[str] = []
    if isinstance(data.get("media_urls"), list):
        urls += [u.strip() for u in data["media_urls"] if isinstance(u, str) and u.strip()]
    if isinstance(data.get("media"), list):
        urls += [
            m["url"].strip()
            for m in data["media"]
            if isinstance(m, dict) and isinstance(m.get("url"), str) and m["url"].strip()
        ]
    return urls


def _with_media_links(text: str, urls: list[str]) -> str:
    """The guarded API is text-only: attachments become links under the text."""
    if not urls:
        return text
    combined = "\n".join([line for line in [text, *urls[:5]] if line])
    return combined[:MAX_TEXT_CHARS]


def _purpose(data: dict) -> str:
    """Missing → ``support``; ``unknown`` and anything outside the allowed list → ``message_purpose_not_allowed``
    (checked here, before the conversation window, in the contract's order; the send guard checks it again)."""
    raw = data.get("message_purpose")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return DEFAULT_PURPOSE
    if not isinstance(raw, str):
        raise errors.ValidationFailed("message_purpose must be a string.", details={"field": "message_purpose"})
    purpose = raw.strip().lower()[:40]
    if purpose in BLOCKED_PURPOSES:
        raise errors.MessagePurposeNotAllowed(
            "message_purpose 'unknown' is not allowed for 3CX messages; say why you are writing (e.g. support).",
            details={"field": "message_purpose"},
        )
    if purpose not in policy.ALLOWED_PURPOSES:
        allowed = ", ".join(policy.ALLOWED_PURPOSES)
        raise errors.MessagePurposeNotAllowed(
            f"'{purpose}' messages are not allowed; use one of {allowed}.", details={"field": "message_purpose"}
        )
    return purpose


def _did(account: Account, raw: Any) -> str | None:
    if raw in (None, "") or not isinstance(raw, str | int) or isinstance(raw, bool):
        return None
    try:
        return normalize_e164(str(raw), account.default_country)
    except InvalidPhoneNumber:
        return str(raw).strip()[:20]


def _resolve_instance(integration: Integration, data: dict, did: str | None) -> Instance:
    ref = data.get("instance_id")
    if ref not in (None, ""):
        if not isinstance(ref, str):
            raise errors.ValidationFailed("instance_id must be a string.", details={"field": "instance_id"})
        instance = (
            Instance.objects.filter(account=integration.account, deleted_at__isnull=True)
            .filter(Q(public_id=ref.strip()) | Q(name=ref.strip()))
            .first()
        )
    else:
        instance = instance_for_did(integration=integration, did=did)
    if instance is None or instance.deleted_at is not None:
        raise errors.InvalidInstance(
            "No WhatsApp instance for this request: map the 3CX DID to an instance or set a default instance."
        )
    return instance


def _call_time(data: dict) -> dt.datetime | None:
    """When the call started, if the sender said so (ISO 8601 or unix seconds). A value that is no plausible moment
    (unparsable, infinite, outside years 2000 to 2999) is ignored: the event is still handled, as if none was sent."""
    for key in ("call_time", "started_at_utc", "started_at", "call_start_time"):
        raw = data.get(key)
        try:
            if isinstance(raw, str) and raw.strip():
                parsed = dt.datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
                parsed = (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
            elif isinstance(raw, int | float) and not isinstance(raw, bool) and raw > 0:
                parsed = dt.datetime.fromtimestamp(raw, tz=dt.UTC)
            else:
                continue
        except (ValueError, OverflowError, OSError):
            continue
        if 2000 <= parsed.year <= 2999:
            return parsed
    return None


def _format_call_time(value: dt.datetime, account: Account) -> str:
    import zoneinfo

    try:
        zone = zoneinfo.ZoneInfo(account.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "video")
    return bool(value)


def _logged(log: _Log, event_type: str) -> WebhookResponse:
    log.decision = Decision.LOGGED
    return WebhookResponse(status=200, body={"success": True, "status": "logged", "event_type": event_type})


def _is_outbound_call(data: dict) -> bool:
    """3CX CRM reports say ``[CallDirection]`` Outbound (and journal ``[CallType]`` Outbound) for calls agents make."""
    return "outbound" in (
        str(data.get("call_type") or "").strip().lower(),
        str(data.get("direction") or "").strip().lower(),
    )


def _skipped(log: _Log, event_type: str, reason: str) -> WebhookResponse:
    log.decision, log.code = Decision.SKIPPED, reason
    return WebhookResponse(
        status=200, body={"success": True, "status": "skipped", "reason": reason, "event_type": event_type}
    )


def _message_id_of(body: dict) -> str:
    if isinstance(body.get("data"), dict):
        return str(body["data"].get("id") or "")
    return str(body.get("message_id") or "")


# --- The event log -----------------------------------------------------------------------------------------------

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


def _sanitised_summary(data: dict) -> dict[str, Any]:
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


def _write_log(request: WebhookRequest, log: _Log, response: WebhookResponse) -> None:
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
