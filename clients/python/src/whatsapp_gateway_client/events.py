"""Typed models for the gateway's webhook events.

Every delivery is one flat JSON object: the common fields (``event``, ``event_id``, ``occurred_at``,
``instance_id``, ``instance_name``) plus the fields of its event type. :func:`parse_event` returns the class for
``event`` (``MessageReceived`` for ``message.received``, …). Nothing is dropped: fields this version does not know
are kept in ``extra``, the whole body in ``raw``, and an event type it does not know becomes :class:`UnknownEvent`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, ClassVar

from whatsapp_gateway_client.models import parse_datetime

__all__ = [
    "EVENT_CLASSES",
    "CallEvent",
    "CallMissed",
    "CallReceived",
    "ConversationUpdated",
    "GroupMessageReceived",
    "GroupUpdated",
    "InstanceConnected",
    "InstanceConnectionUpdated",
    "InstanceDisconnected",
    "InstanceEvent",
    "InstanceQrUpdated",
    "MessageDelivered",
    "MessageFailed",
    "MessageRead",
    "MessageReceived",
    "MessageSent",
    "MessageStatusEvent",
    "MessageStatusUpdated",
    "RecipientOptedOut",
    "TestEvent",
    "UnknownEvent",
    "WebhookEvent",
    "parse_event",
]

# JSON keys that are Python keywords get a trailing underscore as attributes (``from`` -> ``from_``).
_RENAMED = {"from": "from_"}
_DATETIME_FIELDS = {"occurred_at", "qr_expires_at", "last_inbound_at", "last_outbound_at"}


@dataclass(frozen=True, kw_only=True)
class WebhookEvent:
    """The fields every event has. ``extra`` holds fields this version of the client does not know yet."""

    event_type: ClassVar[str] = ""

    event: str
    event_id: str
    occurred_at: dt.datetime | None
    instance_id: str | None = None
    instance_name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WebhookEvent:
        known = {f.name for f in dataclasses.fields(cls)} - {"extra", "raw"}
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            name = _RENAMED.get(key, key)
            if name in known:
                values[name] = parse_datetime(value) if key in _DATETIME_FIELDS else value
            else:
                extra[key] = value
        for f in dataclasses.fields(cls):
            # A field the gateway left out (an older gateway, an optional field) is None, never a TypeError.
            if f.name not in values and f.name in known and f.default is dataclasses.MISSING:
                if f.default_factory is dataclasses.MISSING:
                    values[f.name] = None
        values.setdefault("event", str(data.get("event", cls.event_type)))
        return cls(**values, extra=extra, raw=dict(data))


@dataclass(frozen=True, kw_only=True)
class MessageReceived(WebhookEvent):
    """``message.received``: a customer sent a message to your number."""

    event_type: ClassVar[str] = "message.received"

    from_: str
    from_name: str | None = None
    message_text: str = ""
    message_type: str = "text"
    external_message_id: str | None = None
    message_id: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class MessageStatusEvent(WebhookEvent):
    """The fields of every outbound-message status event."""

    message_id: str
    log_id: int | None = None
    phone: str | None = None
    status: str = ""
    previous_status: str | None = None
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True, kw_only=True)
class MessageSent(MessageStatusEvent):
    """``message.sent``: WhatsApp accepted the message (one grey tick)."""

    event_type: ClassVar[str] = "message.sent"


@dataclass(frozen=True, kw_only=True)
class MessageDelivered(MessageStatusEvent):
    """``message.delivered``: the message reached the recipient's phone."""

    event_type: ClassVar[str] = "message.delivered"


@dataclass(frozen=True, kw_only=True)
class MessageRead(MessageStatusEvent):
    """``message.read``: the recipient read the message."""

    event_type: ClassVar[str] = "message.read"


@dataclass(frozen=True, kw_only=True)
class MessageFailed(MessageStatusEvent):
    """``message.failed``: the message could not be delivered; ``error_code`` and ``error_message`` say why."""

    event_type: ClassVar[str] = "message.failed"


@dataclass(frozen=True, kw_only=True)
class MessageStatusUpdated(MessageStatusEvent):
    """``message.status_updated``: any status change of an outbound message."""

    event_type: ClassVar[str] = "message.status_updated"


@dataclass(frozen=True, kw_only=True)
class RecipientOptedOut(WebhookEvent):
    """``recipient.opted_out``: a customer opted out (e.g. replied STOP); the gateway now refuses sends to them."""

    event_type: ClassVar[str] = "recipient.opted_out"

    phone: str
    keyword: str | None = None
    suppression_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class InstanceEvent(WebhookEvent):
    """The fields of every instance (connection) event."""

    state: str
    previous_state: str | None = None
    phone_number: str | None = None
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class InstanceConnected(InstanceEvent):
    """``instance.connected``: the number is paired and online."""

    event_type: ClassVar[str] = "instance.connected"


@dataclass(frozen=True, kw_only=True)
class InstanceDisconnected(InstanceEvent):
    """``instance.disconnected``: the number went offline or was logged out."""

    event_type: ClassVar[str] = "instance.disconnected"


@dataclass(frozen=True, kw_only=True)
class InstanceConnectionUpdated(InstanceEvent):
    """``instance.connection_updated``: any change of the connection state."""

    event_type: ClassVar[str] = "instance.connection_updated"


@dataclass(frozen=True, kw_only=True)
class InstanceQrUpdated(InstanceEvent):
    """``instance.qr_updated``: a new pairing QR code is ready to scan."""

    event_type: ClassVar[str] = "instance.qr_updated"

    qr: str = ""
    qr_expires_at: dt.datetime | None = None


@dataclass(frozen=True, kw_only=True)
class ConversationUpdated(WebhookEvent):
    """``conversation.updated``: a chat changed (new activity, read, archived)."""

    event_type: ClassVar[str] = "conversation.updated"

    phone: str
    chat_id: str | None = None
    unread_count: int = 0
    archived: bool = False
    last_inbound_at: dt.datetime | None = None
    last_outbound_at: dt.datetime | None = None


@dataclass(frozen=True, kw_only=True)
class CallEvent(WebhookEvent):
    """The fields of every call event."""

    from_: str
    call_id: str | None = None
    is_video: bool = False
    status: str = ""


@dataclass(frozen=True, kw_only=True)
class CallReceived(CallEvent):
    """``call.received``: a WhatsApp call came in (or a 3CX call event was reported)."""

    event_type: ClassVar[str] = "call.received"


@dataclass(frozen=True, kw_only=True)
class CallMissed(CallEvent):
    """``call.missed``: a WhatsApp call was missed or rejected."""

    event_type: ClassVar[str] = "call.missed"


@dataclass(frozen=True, kw_only=True)
class GroupMessageReceived(MessageReceived):
    """``group.message_received``: a message arrived in a group the number belongs to."""

    event_type: ClassVar[str] = "group.message_received"

    group_id: str = ""
    group_name: str | None = None
    participant: str | None = None


@dataclass(frozen=True, kw_only=True)
class GroupUpdated(WebhookEvent):
    """``group.updated``: a group was created or renamed, or members joined or left."""

    event_type: ClassVar[str] = "group.updated"

    group_id: str
    group_name: str | None = None
    participant: str | None = None
    participants: list[str] = field(default_factory=list)
    action: str = ""


@dataclass(frozen=True, kw_only=True)
class TestEvent(WebhookEvent):
    """``webhook.test``: sent by the portal's "Send test event" button (not a subscribable event)."""

    __test__ = False  # not a pytest test class, whatever its name
    event_type: ClassVar[str] = "webhook.test"

    message: str = ""


@dataclass(frozen=True, kw_only=True)
class UnknownEvent(WebhookEvent):
    """An event type this version of the client does not know: every field beyond the common ones is in
    ``extra``. Upgrade the client to get a typed model."""


EVENT_CLASSES: dict[str, type[WebhookEvent]] = {
    cls.event_type: cls
    for cls in (
        MessageReceived,
        MessageSent,
        MessageFailed,
        RecipientOptedOut,
        InstanceConnected,
        InstanceDisconnected,
        InstanceConnectionUpdated,
        InstanceQrUpdated,
        MessageDelivered,
        MessageRead,
        MessageStatusUpdated,
        ConversationUpdated,
        CallReceived,
        CallMissed,
        GroupMessageReceived,
        GroupUpdated,
        TestEvent,
    )
}


def parse_event(data: dict[str, Any]) -> WebhookEvent:
    """The typed event for one decoded webhook body."""
    if not isinstance(data, dict):
        raise TypeError("a webhook body is a JSON object")
    cls = EVENT_CLASSES.get(str(data.get("event", "")), UnknownEvent)
    return cls.from_dict(data)
