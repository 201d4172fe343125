"""What a request from 3CX is while it is handled: its limits, headers and forms, the answer, and the event-log
row it fills in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from whatsapp_gateway.threecx.models import (
    Decision,
    Integration,
)

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
class RequestLog:
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
