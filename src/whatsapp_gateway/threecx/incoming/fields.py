"""Reading the fields of a 3CX request: phone, text, purpose, DID, call time and the aliases 3CX templates use."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q

from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib import errors
from whatsapp_gateway.lib.phone import InvalidPhoneNumber, normalize_e164
from whatsapp_gateway.messaging import policy
from whatsapp_gateway.threecx.incoming.request import (
    BLOCKED_PURPOSES,
    DEFAULT_PURPOSE,
    MAX_TEXT_CHARS,
    PHONE_ALIASES,
    RequestLog,
    WebhookResponse,
)
from whatsapp_gateway.threecx.models import (
    Decision,
    Integration,
)
from whatsapp_gateway.threecx.selectors import instance_for_did


def first_value(data: dict, keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = data.get(key)
        if value not in (None, ""):
            return value
    return None


def first_key(data: dict, keys: tuple[str, ...]) -> str:
    for key in keys:
        if data.get(key) not in (None, ""):
            return key
    return keys[0]


def phone_field(account: Account, raw: Any, *, field_name: str) -> str:
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


def text_field(data: dict, keys: tuple[str, ...], *, allow_empty: bool = False) -> str:
    raw = first_value(data, keys)
    name = first_key(data, keys)
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


def media_urls_field(data: dict) -> list[str]:
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


def with_media_links(text: str, urls: list[str]) -> str:
    """The guarded API is text-only: attachments become links under the text."""
    if not urls:
        return text
    combined = "\n".join([line for line in [text, *urls[:5]] if line])
    return combined[:MAX_TEXT_CHARS]


def purpose_field(data: dict) -> str:
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


def did_field(account: Account, raw: Any) -> str | None:
    if raw in (None, "") or not isinstance(raw, str | int) or isinstance(raw, bool):
        return None
    try:
        return normalize_e164(str(raw), account.default_country)
    except InvalidPhoneNumber:
        return str(raw).strip()[:20]


def resolve_instance(integration: Integration, data: dict, did: str | None) -> Instance:
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


def call_time_field(data: dict) -> dt.datetime | None:
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


def format_call_time(value: dt.datetime, account: Account) -> str:
    import zoneinfo

    try:
        zone = zoneinfo.ZoneInfo(account.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "video")
    return bool(value)


def logged_response(log: RequestLog, event_type: str) -> WebhookResponse:
    log.decision = Decision.LOGGED
    return WebhookResponse(status=200, body={"success": True, "status": "logged", "event_type": event_type})


def is_outbound_call(data: dict) -> bool:
    """3CX CRM reports say ``[CallDirection]`` Outbound (and journal ``[CallType]`` Outbound) for calls agents make."""
    return "outbound" in (
        str(data.get("call_type") or "").strip().lower(),
        str(data.get("direction") or "").strip().lower(),
    )


def skipped_response(log: RequestLog, event_type: str, reason: str) -> WebhookResponse:
    log.decision, log.code = Decision.SKIPPED, reason
    return WebhookResponse(
        status=200, body={"success": True, "status": "skipped", "reason": reason, "event_type": event_type}
    )


def message_id_of(body: dict) -> str:
    if isinstance(body.get("data"), dict):
        return str(body["data"].get("id") or "")
    return str(body.get("message_id") or "")
