"""The sandbox's callback dialect (``{"sandbox": "v1", "type": …, "data": {…}}``) → normalised events."""

from __future__ import annotations

import datetime as dt
from typing import Any

from whatsapp_gateway.instances.models import InstanceState
from whatsapp_gateway.lib import phone as phone_lib
from whatsapp_gateway.providers.base import (
    CallEvent,
    ConnectionUpdate,
    ConversationUpdate,
    GroupUpdate,
    InboundMessage,
    MessageStatusUpdate,
    NormalisedEvent,
    QrUpdate,
)
from whatsapp_gateway.providers.sandbox.phone import STATUS_STEPS

_CONNECTION_STATES = {
    "open": InstanceState.CONNECTED,
    "connecting": InstanceState.PAIRING,
    "close": InstanceState.DISCONNECTED,
    "logged_out": InstanceState.LOGGED_OUT,
    "failed": InstanceState.FAILED,
}


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def event_time(value: Any) -> dt.datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return dt.datetime.fromtimestamp(value, tz=dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def _datetime(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _phone(value: Any) -> str:
    raw = as_text(value)
    if not raw:
        return ""
    jid_phone = phone_lib.jid_to_e164(raw)
    return jid_phone or (raw if raw.startswith("+") else "")


def _parse_connection(data: dict, occurred_at, event_id: str) -> list[NormalisedEvent]:
    state = _CONNECTION_STATES.get(as_text(data.get("state")))
    if state is None:
        return []
    return [
        ConnectionUpdate(
            occurred_at=occurred_at,
            state=state,
            reason=as_text(data.get("reason"))[:200],
            phone_number=_phone(data.get("phone")),
            profile_name=as_text(data.get("name"))[:120],
            event_id=event_id,
        )
    ]


def _parse_qr(data: dict, occurred_at, event_id: str) -> list[NormalisedEvent]:
    return [
        QrUpdate(
            occurred_at=occurred_at,
            qr_payload=as_text(data.get("qr")),
            pairing_code=as_text(data.get("pairing_code")),
            expires_at=_datetime(data.get("expires_at")),
            limit_reached=data.get("limit_reached") is True,
        )
    ]


def _parse_status(data: dict, occurred_at, event_id: str) -> list[NormalisedEvent]:
    status = as_text(data.get("status"))
    if status not in (*STATUS_STEPS, "failed"):
        return []
    error = data.get("error") if isinstance(data.get("error"), dict) else {}
    return [
        MessageStatusUpdate(
            occurred_at=occurred_at,
            provider_message_id=as_text(data.get("message_id")),
            status=status,
            error_code=as_text(error.get("code")),
            error_message=as_text(error.get("message")),
            recipient=_phone(data.get("to")),
        )
    ]


def _parse_message(data: dict, occurred_at, event_id: str) -> list[NormalisedEvent]:
    sender = as_text(data.get("from"))
    is_group = data.get("is_group") is True
    participant = as_text(data.get("participant"))
    sender_jid = participant if is_group and participant else sender
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    return [
        InboundMessage(
            occurred_at=occurred_at,
            provider_message_id=as_text(data.get("id")),
            chat_id=as_text(data.get("chat_id")) or sender,
            sender_id=sender_jid,
            sender_phone=_phone(sender_jid),
            sender_name=as_text(data.get("from_name"))[:120],
            is_group=is_group,
            group_name=as_text(data.get("group_name"))[:120],
            from_me=data.get("from_me") is True,
            message_type=as_text(data.get("type")) or "text",
            text=as_text(data.get("text")),
            metadata=metadata,
        )
    ]


def _parse_call(data: dict, occurred_at, event_id: str) -> list[NormalisedEvent]:
    caller = as_text(data.get("from"))
    return [
        CallEvent(
            occurred_at=occurred_at,
            call_id=as_text(data.get("id")),
            caller_id=caller,
            caller_phone=_phone(caller),
            is_video=data.get("is_video") is True,
            status=as_text(data.get("status")) or "offer",
        )
    ]


def _parse_group(data: dict, occurred_at, event_id: str) -> list[NormalisedEvent]:
    participants = data.get("participants") if isinstance(data.get("participants"), list) else []
    return [
        GroupUpdate(
            occurred_at=occurred_at,
            group_id=as_text(data.get("id")),
            group_name=as_text(data.get("name"))[:120],
            action=as_text(data.get("action")) or "updated",
            participants=tuple(p for p in participants if isinstance(p, str)),
            event_id=event_id,
        )
    ]


def _parse_chat(data: dict, occurred_at, event_id: str) -> list[NormalisedEvent]:
    unread = data.get("unread_count")
    archived = data.get("archived")
    return [
        ConversationUpdate(
            occurred_at=occurred_at,
            chat_id=as_text(data.get("id")),
            phone=_phone(data.get("phone") or data.get("id")),
            unread_count=unread if isinstance(unread, int) and not isinstance(unread, bool) else None,
            archived=archived if isinstance(archived, bool) else None,
            event_id=event_id,
        )
    ]


PARSERS = {
    "connection": _parse_connection,
    "qr": _parse_qr,
    "status": _parse_status,
    "message": _parse_message,
    "call": _parse_call,
    "group": _parse_group,
    "chat": _parse_chat,
}
