"""The event catalogue: the one place that names every customer webhook event (docs/api.md "Webhooks").

For each of the 16 event types it defines the group shown in the portal, a description, the event-specific fields
(name, type, meaning) and one example. ``build_payload`` turns what a service passes to ``event_emit`` into the
flat JSON body customers receive; ``/docs/webhooks`` and the portal's checkboxes are generated from this module.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    description: str


@dataclass(frozen=True)
class EventType:
    name: str
    group: str
    description: str
    recommended: bool = False
    fields: tuple[Field, ...] = field(default_factory=tuple)
    example_data: dict[str, Any] = field(default_factory=dict)

    @property
    def example(self) -> dict[str, Any]:
        """The full example body, as customers receive it."""
        return build_payload(
            event_type=self.name,
            event_id=EXAMPLE_EVENT_ID,
            occurred_at=EXAMPLE_OCCURRED_AT,
            instance_id=EXAMPLE_INSTANCE_ID,
            instance_name=EXAMPLE_INSTANCE_NAME,
            data=self.example_data,
        )


GROUPS = ["Recommended", "Instance", "Message lifecycle", "Conversation", "Call", "Group"]

COMMON_FIELDS: tuple[Field, ...] = (
    Field("event", "string", "The event type, e.g. `message.received`."),
    Field(
        "event_id",
        "string",
        "Unique id (`evt_…`); the same on every retry and equal to `webhook-id`. Deduplicate on it.",
    ),
    Field("occurred_at", "string", "When it happened, ISO 8601 UTC (`2026-11-24T10:00:00Z`)."),
    Field("instance_id", "string", "The instance (`inst_…`)."),
    Field("instance_name", "string", "The instance's name."),
)

EXAMPLE_EVENT_ID = "evt_0b3kq9x2m4v7n8p1r5t6"
EXAMPLE_OCCURRED_AT = dt.datetime(2026, 11, 24, 10, 0, 0, tzinfo=dt.UTC)
EXAMPLE_INSTANCE_ID = "inst_7h2k9m4q1x8v3n6b5c0z"
EXAMPLE_INSTANCE_NAME = "demo-support-line"

_STATUS_FIELDS = (
    Field("message_id", "string", "The gateway's message id (`msg_…`), as returned by `POST /api/send-message`."),
    Field("log_id", "integer", "The message's number in your message log."),
    Field("phone", "string", "Recipient, E.164."),
    Field("status", "string", "New status: `queued`, `sending`, `sent`, `delivered`, `read` or `failed`."),
    Field("previous_status", "string|null", "Status before this change."),
    Field("error_code", "string|null", "Why it failed (only for `failed`)."),
    Field("error_message", "string|null", "Human-readable reason (only for `failed`)."),
)


def _status_example(status: str, previous: str, error_code: str | None = None, error: str | None = None) -> dict:
    return {
        "message_id": "msg_5n2c8x1q7w4e9r3t6y0u",
        "log_id": 1042,
        "phone": "+966512345678",
        "status": status,
        "previous_status": previous,
        "error_code": error_code,
        "error_message": error,
    }


_RECEIVED_FIELDS = (
    Field("from", "string", "Sender, E.164."),
    Field("from_name", "string|null", "The sender's WhatsApp profile name, when known."),
    Field("message_text", "string", "The text (or the caption of media)."),
    Field("message_type", "string", "`text`, `image`, `video`, `audio`, `document`, `location`, `contact`, `sticker`…"),
    Field("external_message_id", "string", "WhatsApp's id of the message."),
    Field("message_id", "string", "The gateway's inbound message id (`in_…`)."),
    Field("metadata", "object", "Only for non-text messages: media type, file name, location… (optional)."),
)

_INSTANCE_FIELDS = (
    Field("state", "string", "`created`, `pairing`, `connected`, `disconnected`, `logged_out` or `failed`."),
    Field("previous_state", "string|null", "The state before."),
    Field("phone_number", "string|null", "The paired number, E.164, once known."),
    Field("reason", "string|null", "Why it changed, when the provider says."),
)

_CALL_FIELDS = (
    Field("from", "string", "Caller, E.164."),
    Field("call_id", "string", "The call's id."),
    Field("is_video", "boolean", "A video call."),
    Field("status", "string", "`offer`, `ringing`, `accepted`, `rejected`, `missed`, `ended`…"),
)

_GROUP_ID_FIELDS = (
    Field("group_id", "string", "The group's WhatsApp id (`…@g.us`)."),
    Field("group_name", "string|null", "The group's subject."),
    Field("participant", "string|null", "The member concerned, E.164 (or WhatsApp id when the number is hidden)."),
)

EVENT_TYPES: list[EventType] = [
    EventType(
        "message.received",
        "Recommended",
        "A customer sent a message to your WhatsApp number.",
        True,
        _RECEIVED_FIELDS,
        {
            "from": "+966512345678",
            "from_name": "Maria",
            "message_text": "Hello",
            "message_type": "text",
            "external_message_id": "3A5521F0B8E2C4D6A7F9",
            "message_id": "in_8w3e5r7t9y1u2i4o6p0a",
        },
    ),
    EventType(
        "message.sent",
        "Recommended",
        "WhatsApp accepted a message you sent (one grey tick).",
        True,
        _STATUS_FIELDS,
        _status_example("sent", "sending"),
    ),
    EventType(
        "message.failed",
        "Recommended",
        "A message could not be delivered; carries the reason.",
        True,
        _STATUS_FIELDS,
        _status_example("failed", "sending", "not_on_whatsapp", "The number is not on WhatsApp."),
    ),
    EventType(
        "recipient.opted_out",
        "Recommended",
        "A customer opted out (e.g. replied STOP).",
        True,
        (
            Field("phone", "string", "The number that opted out, E.164."),
            Field("keyword", "string", "The keyword they sent (`STOP`, `UNSUBSCRIBE`, …)."),
            Field("suppression_id", "string", "The entry on your suppression list."),
        ),
        {"phone": "+966512345678", "keyword": "STOP", "suppression_id": "sup_2m4n6b8v0c1x3z5l7k9j"},
    ),
    EventType(
        "instance.connected",
        "Instance",
        "The WhatsApp number is paired and online.",
        fields=_INSTANCE_FIELDS,
        example_data={
            "state": "connected",
            "previous_state": "pairing",
            "phone_number": "+966500000001",
            "reason": None,
        },
    ),
    EventType(
        "instance.disconnected",
        "Instance",
        "The WhatsApp number went offline or was logged out.",
        fields=_INSTANCE_FIELDS,
        example_data={
            "state": "disconnected",
            "previous_state": "connected",
            "phone_number": "+966500000001",
            "reason": "The phone lost its connection.",
        },
    ),
    EventType(
        "instance.connection_updated",
        "Instance",
        "Any change of the connection state.",
        fields=_INSTANCE_FIELDS,
        example_data={"state": "pairing", "previous_state": "created", "phone_number": None, "reason": None},
    ),
    EventType(
        "instance.qr_updated",
        "Instance",
        "A new pairing QR code is ready to scan.",
        fields=(
            *_INSTANCE_FIELDS,
            Field("qr", "string", "The QR payload to render (scan it with WhatsApp → Linked devices)."),
            Field("qr_expires_at", "string", "When this QR stops working, ISO 8601 UTC."),
        ),
        example_data={
            "state": "pairing",
            "previous_state": "pairing",
            "phone_number": None,
            "reason": None,
            "qr": "2@k3Jd9sLq0PzX8mN4vB7cR1tY6uW5eA2f,aGVsbG8=,d29ybGQ=,Zm9vYmFy",
            "qr_expires_at": "2026-11-24T10:00:20Z",
        },
    ),
    EventType(
        "message.delivered",
        "Message lifecycle",
        "The message reached the recipient's phone.",
        fields=_STATUS_FIELDS,
        example_data=_status_example("delivered", "sent"),
    ),
    EventType(
        "message.read",
        "Message lifecycle",
        "The recipient read the message (if read receipts are on).",
        fields=_STATUS_FIELDS,
        example_data=_status_example("read", "delivered"),
    ),
    EventType(
        "message.status_updated",
        "Message lifecycle",
        "Any status change of an outbound message.",
        fields=_STATUS_FIELDS,
        example_data=_status_example("delivered", "sent"),
    ),
    EventType(
        "conversation.updated",
        "Conversation",
        "A chat changed (new activity, read, archived).",
        fields=(
            Field("phone", "string", "The customer, E.164."),
            Field("chat_id", "string", "WhatsApp's chat id."),
            Field("unread_count", "integer", "Unread messages in the chat."),
            Field("archived", "boolean", "The chat is archived."),
            Field("last_inbound_at", "string|null", "Last message from the customer, ISO 8601 UTC."),
            Field("last_outbound_at", "string|null", "Last message to the customer, ISO 8601 UTC."),
        ),
        example_data={
            "phone": "+966512345678",
            "chat_id": "966512345678@s.whatsapp.net",
            "unread_count": 2,
            "archived": False,
            "last_inbound_at": "2026-11-24T09:59:58Z",
            "last_outbound_at": "2026-11-24T09:41:12Z",
        },
    ),
    EventType(
        "call.received",
        "Call",
        "A WhatsApp call came in (or a 3CX call event was reported).",
        fields=_CALL_FIELDS,
        example_data={"from": "+966512345678", "call_id": "C9F2A41B7D", "is_video": False, "status": "offer"},
    ),
    EventType(
        "call.missed",
        "Call",
        "A WhatsApp call was missed or rejected.",
        fields=_CALL_FIELDS,
        example_data={"from": "+966512345678", "call_id": "C9F2A41B7D", "is_video": False, "status": "missed"},
    ),
    EventType(
        "group.message_received",
        "Group",
        "A message arrived in a group the number belongs to.",
        fields=(*_RECEIVED_FIELDS, *_GROUP_ID_FIELDS),
        example_data={
            "from": "+966512345678",
            "from_name": "Maria",
            "message_text": "Is the shop open today?",
            "message_type": "text",
            "external_message_id": "3A77B2C9D0E1F3A4B5C6",
            "message_id": "in_1q2w3e4r5t6y7u8i9o0p",
            "group_id": "120363001234567890@g.us",
            "group_name": "Customers Riyadh",
            "participant": "+966512345678",
        },
    ),
    EventType(
        "group.updated",
        "Group",
        "A group changed: created, renamed, members joined or left.",
        fields=(
            *_GROUP_ID_FIELDS,
            Field(
                "participants", "array", "Every member concerned (E.164 or WhatsApp id); `participant` is the first."
            ),
            Field("action", "string", "`created`, `subject_changed`, `add`, `remove`, `promote`, `demote`, `leave`…"),
        ),
        example_data={
            "group_id": "120363001234567890@g.us",
            "group_name": "Customers Riyadh",
            "participant": "+966598765432",
            "participants": ["+966598765432"],
            "action": "add",
        },
    ),
]

EVENT_NAMES: frozenset[str] = frozenset(e.name for e in EVENT_TYPES)
RECOMMENDED_EVENTS: list[str] = [e.name for e in EVENT_TYPES if e.recommended]
BY_NAME: dict[str, EventType] = {e.name: e for e in EVENT_TYPES}

# Sent only by the portal's "Send test event" button; not one of the 16 subscribable events.
TEST_EVENT = "webhook.test"
OPTIONAL_FIELDS = frozenset({"metadata"})


def events_by_group() -> list[tuple[str, list[EventType]]]:
    return [(group, [e for e in EVENT_TYPES if e.group == group]) for group in GROUPS]


def iso8601(value: dt.datetime) -> str:
    """``2026-11-24T10:00:00Z``: UTC, second precision, ``Z`` suffix."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return iso8601(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def build_payload(
    *,
    event_type: str,
    event_id: str,
    occurred_at: dt.datetime,
    instance_id: str | None,
    instance_name: str | None,
    data: dict[str, Any],
) -> dict[str, Any]:
    """The flat body for one event: the common fields, then the event's fields in catalogue order (missing ones are
    ``null``; optional ones such as ``metadata`` only when given), then any extra keys the caller passed.
    Datetimes become ISO 8601 UTC strings."""
    payload: dict[str, Any] = {
        "event": event_type,
        "event_id": event_id,
        "occurred_at": iso8601(occurred_at),
        "instance_id": instance_id,
        "instance_name": instance_name,
    }
    spec = BY_NAME.get(event_type)
    declared = [f.name for f in spec.fields] if spec else []
    for name in declared:
        if name in OPTIONAL_FIELDS and name not in data:
            continue
        payload[name] = _jsonable(data.get(name))
    for name, value in data.items():
        if name not in payload:
            payload[name] = _jsonable(value)
    return payload
