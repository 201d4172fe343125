"""The ten 3CX event types, which of them carry a WhatsApp template, and template rendering (docs/api.md "3CX integration")."""

from __future__ import annotations

import re
from dataclasses import dataclass

PLACEHOLDERS: dict[str, str] = {
    "customer_phone": "The caller's number, E.164 (+9665…).",
    "agent_extension": "The 3CX extension that handled or missed the call.",
    "queue": "The 3CX queue name or number.",
    "call_time": "When the call started, in the account's timezone (YYYY-MM-DD HH:MM).",
    "business_name": "The integration's business name (or the account name).",
}
PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass(frozen=True)
class EventKind:
    name: str
    label: str
    is_call: bool = False
    # The customer-webhook event a call event emits, and the ``status`` field it carries.
    webhook_event: str = ""
    webhook_status: str = ""
    has_template: bool = False
    default_template: str = ""
    default_enabled: bool = False


EVENT_KINDS: dict[str, EventKind] = {
    kind.name: kind
    for kind in [
        EventKind("test", "Connection test"),
        EventKind("outbound_message", "Agent message to the customer"),
        EventKind("inbound_reply", "Inbound reply (logged)"),
        EventKind(
            "missed_call",
            "Missed call",
            is_call=True,
            webhook_event="call.missed",
            webhook_status="missed",
            has_template=True,
            default_template=(
                "Hello from {{business_name}}. We missed your call at {{call_time}}. "
                "Reply to this message and we will help you here on WhatsApp."
            ),
            default_enabled=True,
        ),
        EventKind(
            "call_started",
            "Call started (logged)",
            is_call=True,
            webhook_event="call.received",
            webhook_status="started",
        ),
        EventKind(
            "call_ended",
            "Call ended",
            is_call=True,
            webhook_event="call.received",
            webhook_status="ended",
            has_template=True,
            default_template=(
                "Thank you for calling {{business_name}}. If there is anything else, just reply to this message."
            ),
        ),
        EventKind(
            "voicemail",
            "Voicemail left",
            is_call=True,
            webhook_event="call.missed",
            webhook_status="voicemail",
            has_template=True,
            default_template=(
                "Thank you for your voicemail to {{business_name}}. We will get back to you soon; "
                "you can also reply here."
            ),
        ),
        EventKind(
            "queue_event", "Queue event (logged)", is_call=True, webhook_event="call.received", webhook_status="queued"
        ),
        EventKind(
            "queue_callback",
            "Queue callback requested",
            is_call=True,
            webhook_event="call.missed",
            webhook_status="callback_requested",
            has_template=True,
            default_template=(
                "{{business_name}}: we have your callback request from the {{queue}} queue and will call you back "
                "shortly."
            ),
        ),
        EventKind(
            "after_hours",
            "Call after hours",
            is_call=True,
            webhook_event="call.missed",
            webhook_status="after_hours",
            has_template=True,
            default_template=(
                "Thank you for calling {{business_name}}. We are closed right now; reply here and we will answer "
                "as soon as we are back."
            ),
        ),
    ]
}
EVENT_TYPES: list[str] = list(EVENT_KINDS)
TEMPLATE_EVENTS: list[str] = [name for name, kind in EVENT_KINDS.items() if kind.has_template]
CALL_EVENTS: list[str] = [name for name, kind in EVENT_KINDS.items() if kind.is_call]


def default_template_settings() -> dict[str, dict]:
    return {
        name: {"enabled": EVENT_KINDS[name].default_enabled, "text": EVENT_KINDS[name].default_template}
        for name in TEMPLATE_EVENTS
    }


def template_for(templates: dict | None, event_type: str) -> tuple[bool, str]:
    """``(enabled, text)`` of one event's template, falling back to the defaults for missing keys."""
    stored = (templates or {}).get(event_type) or {}
    kind = EVENT_KINDS[event_type]
    return bool(stored.get("enabled", kind.default_enabled)), str(stored.get("text", kind.default_template))


def meta_template_for(templates: dict | None, event_type: str) -> tuple[str, str, list[str]] | None:
    """``(name, language, placeholder names)`` of the Meta template an event uses on a WhatsApp Cloud API instance
    (there, a free-form text reaches only people who wrote in the last 24 hours), or ``None``."""
    stored = (templates or {}).get(event_type) or {}
    ref = str(stored.get("meta_template") or "")
    if ":" not in ref:
        return None
    name, language = ref.split(":", 1)
    return name, language, [str(v) for v in stored.get("meta_variables") or []]


def parse_placeholder_list(value: str) -> list[str]:
    """``"{{business_name}}, call_time"`` -> ``["business_name", "call_time"]`` (braces optional)."""
    return [part.strip().strip("{}").strip() for part in value.split(",") if part.strip().strip("{}").strip()]


def unknown_placeholders(text: str) -> list[str]:
    return sorted({name for name in PLACEHOLDER_RE.findall(text) if name not in PLACEHOLDERS})


def render(text: str, values: dict[str, str]) -> str:
    """Replace ``{{name}}`` placeholders; unknown names stay as written (the settings form refuses them)."""

    def substitute(match: re.Match) -> str:
        name = match.group(1)
        if name not in PLACEHOLDERS:
            return match.group(0)
        return str(values.get(name) or "")

    return re.sub(r"[ \t]{2,}", " ", PLACEHOLDER_RE.sub(substitute, text)).strip()
