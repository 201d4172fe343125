"""Meta Cloud API callbacks: the subscription handshake, the signature and the changes they carry.

Meta verifies a callback URL with ``GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`` and signs every
POST with ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(raw body, app secret)>``. Statuses (``sent`` /
``delivered`` / ``read`` / ``failed``) arrive as webhooks in no guaranteed order: ``read`` may come without a
``delivered`` before it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib.crypto import constant_time_equals
from whatsapp_gateway.lib.phone import e164_to_jid
from whatsapp_gateway.providers.base import (
    CallbackRejected,
    InboundMessage,
    MessageStatusUpdate,
    NormalisedEvent,
)
from whatsapp_gateway.providers.cloud.client import NAME, CloudClient, describe_error
from whatsapp_gateway.providers.config import (
    instance_credentials,
)
from whatsapp_gateway.providers.metrics import count_ignored
from whatsapp_gateway.providers.parsing import (
    as_bool,
    as_dict,
    as_list,
    as_str,
    dicts,
    load_json,
    phone_of,
    unix_time,
)
from whatsapp_gateway.providers.signing import header, require_hmac_hex

logger = logging.getLogger("whatsapp_gateway.providers.cloud")

MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
STATUSES = ("sent", "delivered", "read", "failed")
# "messages" entries that are not new customer messages.
NOT_MESSAGES = ("edit", "revoke", "system")


class CloudCallbacks(CloudClient):
    """Verifying and parsing the callbacks Meta posts for a phone number."""

    def answer_verification(self, instance: Instance, *, params: Mapping[str, str]) -> str | None:
        """Meta's subscription handshake: echo ``hub.challenge`` when ``hub.verify_token`` is this instance's
        verify token or the operator's ``CLOUD_VERIFY_TOKEN``."""
        mode, challenge = params.get("hub.mode") or "", params.get("hub.challenge") or ""
        token = params.get("hub.verify_token") or ""
        if mode != "subscribe" or not challenge or len(challenge) > 256:
            raise CallbackRejected("not a subscription verification request", status=400)
        expected = [
            as_str(instance_credentials(instance).get("verify_token")),
            self._settings().secret("verify_token"),
        ]
        if not token or not any(e and constant_time_equals(token, e) for e in expected):
            raise CallbackRejected("verify token does not match", status=403)
        return challenge

    def verify_callback(self, instance: Instance, *, headers: Mapping[str, str], body: bytes) -> None:
        """``X-Hub-Signature-256: sha256=<hex>`` = HMAC-SHA256 of the raw body under the app secret (the
        instance's own, else the operator's ``CLOUD_APP_SECRET``)."""
        secret = as_str(instance_credentials(instance).get("app_secret")) or self._settings().secret("app_secret")
        if not secret:
            raise CallbackRejected("no app secret configured")
        signature = header(headers, "X-Hub-Signature-256")
        if signature and not signature.lower().startswith("sha256="):
            raise CallbackRejected("malformed signature")
        require_hmac_hex(signature=signature[7:], key=secret, body=body, algorithm="sha256")

    def parse_callback(self, instance: Instance, *, headers: Mapping[str, str], body: bytes) -> list[NormalisedEvent]:
        data = load_json(body)
        if not isinstance(data, dict) or data.get("object") != "whatsapp_business_account":
            count_ignored(NAME, "unknown_event" if isinstance(data, dict) else "malformed")
            return []
        events: list[NormalisedEvent] = []
        for entry in dicts(data.get("entry")):
            for change in dicts(entry.get("changes")):
                handler = self._handlers().get(as_str(change.get("field")))
                if handler is None:
                    count_ignored(NAME, "unknown_event")
                    continue
                value = as_dict(change.get("value"))
                number_id = as_str(as_dict(value.get("metadata")).get("phone_number_id"))
                if not instance.provider_ref or number_id != instance.provider_ref:
                    count_ignored(NAME, "other_instance")
                    continue
                try:
                    events.extend(handler(instance, value))
                except (TypeError, ValueError, KeyError, AttributeError, OverflowError):
                    logger.warning("cloud webhook change could not be parsed", exc_info=True)
                    count_ignored(NAME, "malformed")
        return events

    def _handlers(self) -> dict[str, Callable[[Instance, dict[str, Any]], list[NormalisedEvent]]]:
        return {"messages": self._on_messages}

    def _on_messages(self, instance: Instance, value: dict[str, Any]) -> list[NormalisedEvent]:
        names: dict[str, str] = {}
        for contact in dicts(value.get("contacts")):
            name = as_str(as_dict(contact.get("profile")).get("name"))
            for key in (as_str(contact.get("wa_id")), as_str(contact.get("user_id"))):
                if key:
                    names[key] = name
        events: list[NormalisedEvent] = []
        for message in dicts(value.get("messages")):
            if as_str(message.get("type")) in NOT_MESSAGES:
                # An edit or a revoke of an earlier message, or a system notice (number changed, identity
                # changed): none of them is a new customer message, and the gateway keeps no editable copy.
                count_ignored(NAME, "not_relevant")
                continue
            event = _inbound(message, names)
            if event is None:
                count_ignored(NAME, "malformed")
            else:
                events.append(event)
        for status in dicts(value.get("statuses")):
            event = _status(status)
            if event is not None:
                events.append(event)
        if not value.get("messages") and not value.get("statuses"):
            count_ignored(NAME, "not_relevant")  # e.g. value.errors about the webhook itself
        return events


def _inbound(message: dict[str, Any], names: dict[str, str]) -> InboundMessage | None:
    wa_id, message_id = as_str(message.get("from")), as_str(message.get("id"))
    phone = phone_of(f"{wa_id}@s.whatsapp.net") if wa_id else ""
    # A user who turned on a WhatsApp username has no wa_id in the payload, only a business-scoped user id.
    user_id = as_str(message.get("from_user_id"))
    if not message_id or not (phone or user_id):
        return None
    kind = as_str(message.get("type"))
    message_type, text, metadata = "unknown", "", {}
    if kind == "text":
        message_type, text = "text", as_str(as_dict(message.get("text")).get("body"))
    elif kind in MEDIA_TYPES:
        media = as_dict(message.get(kind))
        message_type, text = kind, as_str(media.get("caption"))
        metadata = {"media_id": as_str(media.get("id")), "mime_type": as_str(media.get("mime_type"))}
        if text:
            metadata["caption"] = text
        if as_str(media.get("filename")):
            metadata["file_name"] = media["filename"]
        if kind == "audio":
            metadata["voice_note"] = as_bool(media.get("voice"))
    elif kind == "location":
        location = as_dict(message.get("location"))
        message_type = "location"
        metadata = {"latitude": location.get("latitude"), "longitude": location.get("longitude")}
        for key in ("name", "address"):
            if as_str(location.get(key)):
                metadata[key] = location[key]
    elif kind == "contacts":
        message_type = "contact"
        metadata = {
            "contacts": [
                {
                    "display_name": as_str(as_dict(c.get("name")).get("formatted_name")),
                    "vcard": "",
                    "phones": [as_str(p.get("phone")) for p in dicts(c.get("phones")) if as_str(p.get("phone"))],
                }
                for c in dicts(message.get("contacts"))
            ]
        }
    elif kind == "reaction":
        reaction = as_dict(message.get("reaction"))
        message_type, text = "reaction", as_str(reaction.get("emoji"))
        metadata = {"emoji": text, "target_message_id": as_str(reaction.get("message_id"))}
    elif kind == "interactive":
        interactive = as_dict(message.get("interactive"))
        reply_kind = as_str(interactive.get("type"))
        reply = as_dict(interactive.get(reply_kind))
        message_type, text = "text", as_str(reply.get("title"))
        metadata = {"reply_kind": reply_kind[:40], "reply_id": as_str(reply.get("id"))}
    elif kind == "button":
        button = as_dict(message.get("button"))
        message_type, text = "text", as_str(button.get("text"))
        metadata = {"reply_kind": "button", "reply_id": as_str(button.get("payload"))}
    else:
        metadata = {"provider_type": kind[:60]}
    reply_to = as_str(as_dict(message.get("context")).get("id"))
    if reply_to:
        metadata["reply_to"] = reply_to
    referral = as_dict(message.get("referral"))
    if referral:  # Click-to-WhatsApp ads
        metadata["referral"] = {
            k: as_str(referral.get(k)) for k in ("source_type", "source_id", "source_url", "headline", "ctwa_clid")
        }
    if user_id:
        metadata["user_id"] = user_id
    jid = e164_to_jid(phone) if phone else user_id
    return InboundMessage(
        provider_message_id=message_id,
        chat_id=jid,
        sender_id=jid,
        sender_phone=phone,
        sender_name=names.get(wa_id, "") or names.get(user_id, ""),
        chat_phone=phone,
        message_type=message_type,
        text=text,
        metadata=metadata,
        occurred_at=unix_time(message.get("timestamp")),
    )


def _status(status: dict[str, Any]) -> MessageStatusUpdate | None:
    message_id, value = as_str(status.get("id")), as_str(status.get("status"))
    if not message_id or value not in STATUSES:
        count_ignored(NAME, "malformed" if not message_id else "not_relevant")
        return None
    error_code, error_message = "", ""
    if value == "failed":
        errors = as_list(status.get("errors"))
        error_code, _, error_message = describe_error(errors[0] if errors else {})
    return MessageStatusUpdate(
        provider_message_id=message_id,
        status=value,
        recipient=phone_of(f"{as_str(status.get('recipient_id'))}@s.whatsapp.net"),
        error_code=error_code,
        error_message=error_message,
        occurred_at=unix_time(status.get("timestamp")),
    )
