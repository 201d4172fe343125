"""Schemas of the public send API: request/response shapes and the OpenAPI examples (one per error code)."""

from __future__ import annotations

from typing import Any

from ninja import Schema
from pydantic import Field

from whatsapp_gateway.messaging import policy


class TemplateIn(Schema):
    name: str = Field(..., description="The template's name as listed on /templates.", examples=["order_shipped"])
    language: str = Field(..., description="Its language code, e.g. `en`, `ar`, `pt_BR`.", examples=["en"])
    variables: list[str] = Field(
        default_factory=list,
        description="One value per `{{n}}` variable of the body, in order (`{{1}}` first).",
        examples=[["#1042", "Thursday"]],
    )


class SendMessageIn(Schema):
    instance_id: str = Field(
        ...,
        description="The instance's public id (`inst_…`) or its unique name in your account.",
        examples=["demo-support-line"],
    )
    phone: str = Field(
        ...,
        description="Recipient, `+9665XXXXXXXX` or `9665XXXXXXXX`; national formats use your account's country.",
        examples=["+966501234567"],
    )
    message: str | None = Field(
        None,
        description=f"Text, 1–{policy.MESSAGE_MAX_CHARS} characters after trimming. Exactly one of `message` and "
        "`template` is required.",
        examples=["Your order #1042 has shipped."],
    )
    template: TemplateIn | None = Field(
        None,
        description="Send an approved template by name instead of `message`. A template synced from Meta goes out as "
        "a WhatsApp template message from its Cloud API instance (it reaches people outside the 24-hour window); "
        "one reviewed by the gateway goes out as its rendered text on any instance. Only `utility` and "
        "`authentication` templates are sent: a marketing one answers `policy_violation` with reason "
        "`template_category_marketing`. Unknown, unapproved or wrongly filled templates, and a Meta template on a "
        'non-Cloud instance, answer `validation_error` with `details.field = "template"`.',
    )
    message_purpose: str = Field(
        ...,
        description="Allowed: "
        + ", ".join(policy.ALLOWED_PURPOSES)
        + ". Disallowed (answer `message_purpose_not_allowed`): "
        + ", ".join(policy.DISALLOWED_PURPOSES)
        + ".",
        examples=["transactional"],
    )
    dry_run: bool = Field(
        False, description="Run every guard and answer what would happen, without queueing, sending or counting."
    )


class SendAcceptedOut(Schema):
    success: bool = Field(True, examples=[True])
    status: str = Field(..., description="The message's state now: `queued`.", examples=["queued"])
    message_id: str = Field(..., examples=["msg_3k9x2m4q8r7t1v5w0y6z"])
    log_id: int = Field(..., description="The message's number in your message log.", examples=[123])


class DryRunOut(Schema):
    success: bool = Field(True, examples=[True])
    status: str = Field(..., examples=["validated"])
    risk_score: int = Field(..., ge=0, le=100, examples=[20])
    reasons: list[str] = Field(..., examples=[["link: link shortener ('bit.ly/3xYz') +30"]])


class ErrorOut(Schema):
    success: bool = Field(False, examples=[False])
    error: str = Field(
        ..., description="A stable code; see the table in the description.", examples=["validation_error"]
    )
    message: str = Field(..., examples=["phone is not a valid phone number."])
    details: dict[str, Any] = Field(
        default_factory=dict,
        description="Only the keys that apply: action, risk_score, category, limit, used, field, reasons, state.",
    )


class StatusChangeOut(Schema):
    status: str
    at: str = Field(..., description="ISO 8601, UTC.")
    note: str | None = None
    error_code: str | None = None
    error_message: str | None = None


class TemplateRefOut(Schema):
    name: str
    language: str
    source: str = Field(..., description="`meta` (a WhatsApp template) or `reviewed` (sent as its text).")


class MessageStatusOut(Schema):
    success: bool = True
    message_id: str
    log_id: int
    status: str = Field(..., description="queued, sending, sent, delivered, read, failed, blocked or validated.")
    instance_id: str | None
    phone: str
    message_purpose: str
    source: str
    dry_run: bool
    risk_score: int
    reasons: list[str]
    template: TemplateRefOut | None = Field(None, description="The template a send by name used; text is rendered.")
    blocked_code: str | None
    error_code: str | None
    error_message: str | None
    created_at: str
    sent_at: str | None
    delivered_at: str | None
    read_at: str | None
    failed_at: str | None
    history: list[StatusChangeOut]


_EXAMPLE_DETAILS: dict[str, dict[str, Any]] = {
    "validation_error": {"field": "phone"},
    "message_purpose_required": {"field": "message_purpose"},
    "message_purpose_not_allowed": {"field": "message_purpose"},
    "invalid_instance": {"field": "instance_id"},
    "instance_not_connected": {"state": "disconnected"},
    "recipient_suppressed": {"reasons": ["suppressed: opted out"]},
    "conversation_window_closed": {
        "hint": "Outside the 24-hour customer-service window WhatsApp delivers only templates approved by Meta: "
        'send one with "template" instead of "message".'
    },
    "daily_limit_reached": {"limit": 500, "used": 500},
    "monthly_limit_reached": {"limit": 10000, "used": 10000},
    "sending_throttled": {"limit": 20, "used": 20, "reasons": ["instance_per_minute"]},
    "policy_violation": {
        "action": "block",
        "risk_score": 90,
        "category": "marketing",
        "reasons": [
            "promotion: discount offer ('15% off your next')",
            "promotion: coupon code ('code BACK15')",
            "link: link shortener ('bit.ly/3xYz') +30",
        ],
    },
}

# Codes the API answers that are not in the guard's table: transport-level errors in the same envelope.
TRANSPORT_ERRORS: list[tuple[str, int, str]] = [
    ("unsupported_media_type", 415, "The body is not sent as application/json."),
    ("method_not_allowed", 405, "The HTTP method is not allowed on this path."),
    ("not_found", 404, "No such path under /api/, or no such message."),
    ("sending_disabled", 503, "The operator switched all sending off for a while; see Retry-After."),
    (
        "too_many_auth_failures",
        429,
        "Too many wrong API keys from this IP address in the last minute; see Retry-After.",
    ),
]


def error_responses(codes: list[str] | None = None) -> dict[int, dict[str, Any]]:
    """OpenAPI ``responses`` for the error codes (default: all of ``policy.ERROR_TABLE`` + transport errors),
    grouped by HTTP status, each code with a description and an example."""
    table = policy.ERROR_TABLE + TRANSPORT_ERRORS
    by_status: dict[int, dict[str, Any]] = {}
    for code, status, when in table:
        if codes is not None and code not in codes:
            continue
        entry = by_status.setdefault(status, {"description": "", "content": {"application/json": {"examples": {}}}})
        entry["description"] += f"`{code}`: {when} "
        entry["content"]["application/json"]["examples"][code] = {
            "summary": code,
            "value": {"success": False, "error": code, "message": when, "details": _EXAMPLE_DETAILS.get(code, {})},
        }
    for entry in by_status.values():
        entry["description"] = entry["description"].strip()
    return by_status
