"""WAHA message ids and sender fields, whose shapes differ per engine.

Message ids look like ``true_<chatId>_<id>``; the adapter keeps the bare ``<id>`` so ids from send responses,
``message.ack`` and history match.
"""

from __future__ import annotations

from typing import Any

from whatsapp_gateway.providers.parsing import (
    as_dict,
    as_str,
    phone_of,
)


def bare_message_id(serialized: str) -> str:
    """``true_5511…@c.us_3EB0C4…`` (and group forms with a trailing participant) → ``3EB0C4…``."""
    parts = serialized.split("_")
    if len(parts) >= 3 and parts[0] in ("true", "false"):
        return parts[2]
    return serialized


def serialized_id(value: Any) -> str:
    if isinstance(value, dict):  # WEBJS: {"fromMe", "remote", "id", "_serialized"}
        return as_str(value.get("_serialized")) or as_str(value.get("id"))
    return as_str(value)


def chat_of(serialized: str) -> str:
    parts = serialized.split("_")
    return parts[1] if len(parts) >= 3 and parts[0] in ("true", "false") and "@" in parts[1] else ""


def response_message_id(body: Any) -> str:
    """The id in a send response, whose shape differs per engine."""
    body = as_dict(body)
    for candidate in (
        as_dict(body.get("key")).get("id"),  # NOWEB (Baileys)
        serialized_id(body.get("id")),  # WEBJS / GOWS
        serialized_id(as_dict(body.get("_data")).get("id")),
    ):
        if isinstance(candidate, str) and candidate:
            return bare_message_id(candidate)
    return ""


def alternative_jid(raw: dict[str, Any], is_group: bool) -> str:
    """Engine data that carries the phone JID next to a LID (NOWEB: Baileys key; GOWS: Info.SenderAlt)."""
    key = as_dict(raw.get("key"))
    info = as_dict(raw.get("Info"))
    candidates = (
        (key.get("participantAlt"), key.get("participantPn"), info.get("SenderAlt"))
        if is_group
        else (key.get("remoteJidAlt"), key.get("senderPn"), info.get("SenderAlt"), info.get("RecipientAlt"))
    )
    return next((as_str(c) for c in candidates if phone_of(c)), "")


def push_name(raw: dict[str, Any]) -> str:
    return (
        as_str(raw.get("notifyName")) or as_str(raw.get("pushName")) or as_str(as_dict(raw.get("Info")).get("PushName"))
    )
