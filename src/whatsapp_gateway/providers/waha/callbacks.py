"""WAHA callbacks: the webhook's HMAC and the events it carries, as normalised events.

- Each session gets its own webhook with an HMAC-SHA512 key: WAHA sends ``X-Webhook-Hmac`` (hex HMAC of the raw
  body) and ``X-Webhook-Hmac-Algorithm: sha512``. The signed body carries the event ``timestamp`` (ms), which
  bounds replays; the event ``id`` (a ULID) deduplicates retries.
- ``@lid`` senders are resolved with ``GET /api/{session}/lids/{lid}``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from django.conf import settings

from whatsapp_gateway.instances.models import Instance, InstanceState
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.providers.base import (
    CallbackRejected,
    CallEvent,
    ConnectionUpdate,
    ConversationUpdate,
    GroupUpdate,
    InboundMessage,
    MessageStatusUpdate,
    NormalisedEvent,
    ProviderError,
    QrUpdate,
)
from whatsapp_gateway.providers.config import (
    instance_credentials,
)
from whatsapp_gateway.providers.metrics import count_ignored
from whatsapp_gateway.providers.parsing import (
    as_bool,
    as_dict,
    as_int,
    as_str,
    dicts,
    load_json,
    phone_of,
    unix_time,
)
from whatsapp_gateway.providers.signing import header, require_hmac_hex
from whatsapp_gateway.providers.waha.client import NAME, QR_TTL, WahaClient, session_state
from whatsapp_gateway.providers.waha.media import message_content
from whatsapp_gateway.providers.waha.messages import alternative_jid, bare_message_id, chat_of, push_name, serialized_id

logger = logging.getLogger("whatsapp_gateway.providers.waha")

FUTURE_SKEW_SECONDS = 300
LID_LOOKUP_TIMEOUT = 5.0

ACK_STATUS: dict[str, str | None] = {
    "ERROR": "failed",
    "PENDING": None,
    "SERVER": "sent",
    "DEVICE": "delivered",
    "READ": "read",
    "PLAYED": "read",
}
ACK_NAMES = {-1: "ERROR", 0: "PENDING", 1: "SERVER", 2: "DEVICE", 3: "READ", 4: "PLAYED"}
# WAHA sends call.rejected when the caller hangs up before anyone answers, too: for the customer that is a missed call.
CALL_EVENTS = {"call.received": "offer", "call.accepted": "accepted", "call.rejected": "missed"}
PARTICIPANT_TYPES = {"join": "join", "leave": "leave", "promote": "promote", "demote": "demote"}
# _data.type values of messages that are not customer messages (WEBJS).
SILENT_TYPES = {"revoked", "e2e_notification", "notification_template", "protocol", "call_log", "gp2", "ciphertext"}


class WahaCallbacks(WahaClient):
    """Verifying and parsing the callbacks WAHA posts for a session."""

    # --- callbacks -----------------------------------------------------------------------------------------

    def verify_callback(self, instance: Instance, *, headers: Mapping[str, str], body: bytes) -> None:
        """HMAC-SHA512 of the raw body under the session's key (``X-Webhook-Hmac``), and the signed event
        ``timestamp`` no older than ``WAHA_WEBHOOK_MAX_AGE_SECONDS`` (a replayed old event is refused)."""
        key = as_str(instance_credentials(instance).get("hmac_key")) or self._settings().secret("webhook_hmac_key")
        if not key:
            raise CallbackRejected("no HMAC key configured for this session")
        algorithm = header(headers, "X-Webhook-Hmac-Algorithm").lower()
        if algorithm and algorithm != "sha512":
            raise CallbackRejected("unsupported signature algorithm")
        require_hmac_hex(signature=header(headers, "X-Webhook-Hmac"), key=key, body=body, algorithm="sha512")
        try:
            sent_at = unix_time(as_dict(load_json(body)).get("timestamp"))
        except CallbackRejected:
            return  # signed but not JSON: parse_callback answers 400
        if sent_at is None:
            raise CallbackRejected("signed event has no timestamp")
        age = time.time() - sent_at.timestamp()
        if age > settings.WAHA_WEBHOOK_MAX_AGE_SECONDS:
            raise CallbackRejected("event is too old (replayed callback?)")
        if age < -FUTURE_SKEW_SECONDS:
            raise CallbackRejected("event timestamp is in the future")

    def parse_callback(self, instance: Instance, *, headers: Mapping[str, str], body: bytes) -> list[NormalisedEvent]:
        data = load_json(body)
        if not isinstance(data, dict):
            count_ignored(NAME, "malformed")
            return []
        event = as_str(data.get("event"))
        handler = self._handlers().get(event)
        if handler is None:
            count_ignored(NAME, "unknown_event")
            return []
        session = data.get("session")
        if isinstance(session, str) and session and session != self._ref(instance):
            count_ignored(NAME, "other_instance")
            return []
        try:
            return handler(instance, data)
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError):
            logger.warning("waha %s callback could not be parsed", event, exc_info=True)
            count_ignored(NAME, "malformed")
            return []

    def _handlers(self) -> dict[str, Callable[[Instance, dict[str, Any]], list[NormalisedEvent]]]:
        handlers: dict[str, Callable[[Instance, dict[str, Any]], list[NormalisedEvent]]] = {
            "message": self._on_message,
            "message.any": self._on_message,
            "message.ack": self._on_ack,
            "session.status": self._on_session_status,
            "group.v2.join": self._on_group,
            "group.v2.leave": self._on_group,
            "group.v2.update": self._on_group,
            "group.v2.participants": self._on_group,
            "chat.archive": self._on_chat_archive,
        }
        handlers.update(dict.fromkeys(CALL_EVENTS, self._on_call))
        return handlers

    def _on_message(self, instance: Instance, data: dict[str, Any]) -> list[NormalisedEvent]:
        own_phone = phone_of(as_dict(data.get("me")).get("id")) or instance.phone_number
        event = self._message_event(instance, as_dict(data.get("payload")), own_phone=own_phone)
        return [event] if event is not None else []

    def _message_event(
        self, instance: Instance, payload: dict[str, Any], *, own_phone: str, count: bool = True
    ) -> InboundMessage | None:
        def ignore(reason: str) -> None:
            if count:
                count_ignored(NAME, reason)

        serialized = serialized_id(payload.get("id"))
        message_id = bare_message_id(serialized)
        from_me = as_bool(payload.get("fromMe"))
        chat_id = chat_of(serialized) or (
            (as_str(payload.get("to")) or as_str(payload.get("from"))) if from_me else as_str(payload.get("from"))
        )
        if not message_id or not chat_id:
            ignore("malformed")
            return None
        raw = as_dict(payload.get("_data"))
        if chat_id.endswith(("@broadcast", "@newsletter")) or as_str(raw.get("type")) in SILENT_TYPES:
            ignore("not_relevant")
            return None
        reply_to = bare_message_id(serialized_id(as_dict(payload.get("replyTo")).get("id")))
        message_type, text, metadata = message_content(payload, raw, reply_to=reply_to)
        is_group = chat_id.endswith("@g.us")
        sender_id = as_str(payload.get("participant")) if is_group else chat_id
        sender_id = sender_id or as_str(payload.get("author"))
        sender_phone = phone_of(sender_id) or phone_of(alternative_jid(raw, is_group))
        sender_lid = sender_id if sender_id.endswith("@lid") else ""
        if sender_lid and not sender_phone and not from_me:
            sender_phone = self._resolve_lid(instance, sender_lid)
        chat_phone = "" if is_group else (sender_phone if not from_me else phone_of(chat_id))
        if from_me and not is_group and not chat_phone and chat_id.endswith("@lid"):
            chat_phone = phone_of(alternative_jid(raw, False)) or self._resolve_lid(instance, chat_id)
        if from_me:
            sender_id, sender_lid, sender_phone = "", "", own_phone
        return InboundMessage(
            provider_message_id=message_id,
            chat_id=chat_id,
            sender_id=sender_id,
            sender_phone=sender_phone,
            sender_lid=sender_lid,
            sender_name="" if from_me else push_name(raw),
            chat_phone=chat_phone,
            is_group=is_group,
            from_me=from_me,
            message_type=message_type,
            text=text,
            metadata=metadata,
            occurred_at=unix_time(payload.get("timestamp")),
        )

    def _resolve_lid(self, instance: Instance, lid: str) -> str:
        """``GET /api/{session}/lids/{lid}`` → ``{"lid", "pn"}``; ``""`` when WAHA does not know the number."""
        try:
            response = self._call(
                "GET",
                f"/api/{quote(self._ref(instance))}/lids/{quote(lid, safe='')}",
                headers=self._session_headers(instance),
                timeout=LID_LOOKUP_TIMEOUT,
            )
        except ProviderError:
            return ""
        return phone_of(as_dict(response.body).get("pn")) if response.ok else ""

    def _on_ack(self, instance: Instance, data: dict[str, Any]) -> list[NormalisedEvent]:
        payload = as_dict(data.get("payload"))
        serialized = serialized_id(payload.get("id"))
        message_id = bare_message_id(serialized)
        ack_name = as_str(payload.get("ackName")).upper() or ACK_NAMES.get(as_int(payload.get("ack")) or -2, "")
        if not message_id or ack_name not in ACK_STATUS:
            count_ignored(NAME, "malformed")
            return []
        status = ACK_STATUS[ack_name]
        if payload.get("fromMe") is False or status is None:
            count_ignored(NAME, "not_relevant")
            return []
        chat = chat_of(serialized) or as_str(payload.get("to")) or as_str(payload.get("from"))
        return [
            MessageStatusUpdate(
                provider_message_id=message_id,
                status=status,
                recipient=phone_of(chat),
                error_code="provider_error" if status == "failed" else "",
                error_message="WhatsApp reported an error for this message." if status == "failed" else "",
                occurred_at=unix_time(data.get("timestamp")),
            )
        ]

    def _on_session_status(self, instance: Instance, data: dict[str, Any]) -> list[NormalisedEvent]:
        payload = as_dict(data.get("payload"))
        status = as_str(payload.get("status"))
        if not status:
            count_ignored(NAME, "malformed")
            return []
        state, reason = session_state(status, instance.state)
        me = as_dict(data.get("me")) or as_dict(payload.get("me"))
        events: list[NormalisedEvent] = [
            ConnectionUpdate(
                state=state,
                reason=reason,
                phone_number=phone_of(me.get("id")) if state == InstanceState.CONNECTED else "",
                profile_name=as_str(me.get("pushName")) if state == InstanceState.CONNECTED else "",
                event_id=as_str(data.get("id")),
                occurred_at=unix_time(data.get("timestamp")),
            )
        ]
        if status == "SCAN_QR_CODE":  # WAHA sends no QR in the event: fetch the new one
            try:
                events.append(QrUpdate(qr_payload=self._qr(instance), expires_at=now() + QR_TTL))
            except ProviderError:
                logger.info("WAHA QR code not available yet for a session in SCAN_QR_CODE")
        return events

    def _on_call(self, instance: Instance, data: dict[str, Any]) -> list[NormalisedEvent]:
        payload = as_dict(data.get("payload"))
        call_id = as_str(payload.get("id"))
        caller = as_str(payload.get("from"))
        if not call_id:
            count_ignored(NAME, "malformed")
            return []
        return [
            CallEvent(
                call_id=call_id,
                caller_id=caller,
                caller_phone=phone_of(caller),
                is_video=as_bool(payload.get("isVideo")),
                status=CALL_EVENTS[as_str(data.get("event"))],
                occurred_at=unix_time(payload.get("timestamp")) or unix_time(data.get("timestamp")),
            )
        ]

    def _on_group(self, instance: Instance, data: dict[str, Any]) -> list[NormalisedEvent]:
        event = as_str(data.get("event"))
        payload = as_dict(data.get("payload"))
        group = as_dict(payload.get("group"))
        group_id = as_str(group.get("id"))
        if event == "group.v2.participants":
            action = PARTICIPANT_TYPES.get(as_str(payload.get("type")))
        else:
            action = {"group.v2.join": "join", "group.v2.leave": "leave", "group.v2.update": "updated"}[event]
        if not group_id.endswith("@g.us") or action is None:
            count_ignored(NAME, "malformed")
            return []
        participants = tuple(as_str(p.get("id")) for p in dicts(payload.get("participants")) if as_str(p.get("id")))
        return [
            GroupUpdate(
                group_id=group_id,
                group_name=as_str(group.get("subject")),
                action=action,
                participants=participants,
                event_id=as_str(data.get("id")),
                occurred_at=unix_time(payload.get("timestamp")) or unix_time(data.get("timestamp")),
            )
        ]

    def _on_chat_archive(self, instance: Instance, data: dict[str, Any]) -> list[NormalisedEvent]:
        payload = as_dict(data.get("payload"))
        chat_id = as_str(payload.get("id"))
        archived = payload.get("archived")
        if not chat_id or not isinstance(archived, bool):
            count_ignored(NAME, "malformed")
            return []
        if chat_id.endswith(("@g.us", "@broadcast", "@newsletter")):
            count_ignored(NAME, "not_relevant")
            return []
        return [
            ConversationUpdate(
                chat_id=chat_id,
                phone=phone_of(chat_id),
                archived=archived,
                event_id=as_str(data.get("id")),
                occurred_at=unix_time(payload.get("timestamp")) or unix_time(data.get("timestamp")),
            )
        ]
