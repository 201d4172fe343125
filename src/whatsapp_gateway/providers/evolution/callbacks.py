"""Evolution API callbacks: the webhook's JWT and the events it carries, as normalised events.

- Webhooks have no HMAC. We give each instance a ``jwt_key`` header secret: Evolution replaces it with
  ``Authorization: Bearer <HS256 JWT>`` (``exp`` = +10 min, reused by every retry of the event), which
  ``verify_callback`` checks, accepting it for the provider's whole retry horizon.
- The envelope's ``date_time`` is the server's local time stamped ``Z``; it is used only when the operator names
  the server's time zone (``EVOLUTION_SERVER_TIMEZONE``). Message timestamps (``messageTimestamp``) are real.
- ``@lid`` senders are resolved through ``remoteJidAlt`` / ``senderPn`` (``participantAlt`` / ``participantPn`` in
  groups); message records are parsed in ``messages``.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import zoneinfo
from collections.abc import Callable, Mapping
from typing import Any

from whatsapp_gateway.instances.models import Instance, InstanceState
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.providers.base import (
    CallbackRejected,
    CallEvent,
    ConnectionUpdate,
    ConversationUpdate,
    GroupUpdate,
    MessageStatusUpdate,
    NormalisedEvent,
    QrUpdate,
)
from whatsapp_gateway.providers.config import (
    instance_credentials,
)
from whatsapp_gateway.providers.evolution.client import NAME, QR_TTL, EvolutionClient
from whatsapp_gateway.providers.evolution.messages import (
    STATUS_MAP,
    message_event,
    participant_jid,
    status_name,
)
from whatsapp_gateway.providers.metrics import count_ignored
from whatsapp_gateway.providers.parsing import (
    as_bool,
    as_dict,
    as_int,
    as_list,
    as_str,
    dicts,
    digest,
    iso_time,
    load_json,
    phone_of,
    unix_time,
)
from whatsapp_gateway.providers.signing import header, verify_hs256_jwt

logger = logging.getLogger("whatsapp_gateway.providers.evolution")

# Evolution signs a webhook once (exp = iat + 600 s) and reuses that token on every retry: up to 10 tries, 5 s
# doubling to at most 300 s with ±20 % jitter, each request allowed 30–60 s (webhook.controller.ts
# retryWebhookRequest) — the last retry can come ~1,215 s after the first, plus jitter and timeouts. Refusing it
# (401) would be final (401 is in its non-retryable list), so a correctly signed token is accepted for that whole
# horizon; deduplication drops replays of events already processed.
WEBHOOK_RETRY_GRACE_SECONDS = 1440  # + the 60 s clock leeway: 25 minutes past exp

CALL_STATUS = {
    "offer": "offer",
    "ringing": "offer",
    "timeout": "missed",
    "reject": "rejected",
    "accept": "accepted",
    "terminate": "ended",
}
PARTICIPANT_ACTIONS = {"add": "join", "remove": "leave", "promote": "promote", "demote": "demote"}
# Close codes after which Baileys gives up (anything else reconnects silently).
CLOSE_REASONS: dict[int, tuple[str, str]] = {
    401: (InstanceState.LOGGED_OUT, "Logged out on the phone (401). Pair the number again."),
    403: (InstanceState.FAILED, "WhatsApp refused the connection (403): the number may be banned or restricted."),
    402: (InstanceState.FAILED, "WhatsApp refused the connection (402)."),
    406: (InstanceState.FAILED, "WhatsApp refused the connection (406): the number may be banned."),
}


class EvolutionCallbacks(EvolutionClient):
    """Verifying and parsing the callbacks Evolution posts for an instance."""

    # --- callbacks -----------------------------------------------------------------------------------------

    def verify_callback(self, instance: Instance, *, headers: Mapping[str, str], body: bytes) -> None:
        """Check ``Authorization: Bearer <JWT>`` signed with this instance's ``jwt_key`` secret (HS256, claims
        ``app=evolution``, ``action=webhook``, not expired). The URL token was already checked by the route."""
        from django.conf import settings

        authorization = header(headers, "Authorization")
        required = settings.EVOLUTION_WEBHOOK_JWT_REQUIRED
        if not authorization:
            if required:
                raise CallbackRejected("missing Authorization bearer token")
            return
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise CallbackRejected("malformed Authorization header")
        secret = as_str(instance_credentials(instance).get("webhook_secret"))
        if not secret:
            raise CallbackRejected("instance has no webhook secret")
        claims = verify_hs256_jwt(
            token.strip(), secret=secret, now=time.time(), expiry_grace=WEBHOOK_RETRY_GRACE_SECONDS
        )
        if claims.get("app") != "evolution" or claims.get("action") != "webhook":
            raise CallbackRejected("token is not an Evolution webhook token")

    def parse_callback(self, instance: Instance, *, headers: Mapping[str, str], body: bytes) -> list[NormalisedEvent]:
        data = load_json(body)
        if not isinstance(data, dict):
            count_ignored(NAME, "malformed")
            return []
        event = as_str(data.get("event")).strip().lower().replace("_", ".")
        handler = self._handlers().get(event)
        if handler is None:
            count_ignored(NAME, "unknown_event")
            return []
        sent_for = data.get("instance")
        if isinstance(sent_for, str) and sent_for and sent_for != self._ref(instance):
            count_ignored(NAME, "other_instance")
            return []
        try:
            return handler(instance, data, body)
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError):
            logger.warning("evolution %s callback could not be parsed", event, exc_info=True)
            count_ignored(NAME, "malformed")
            return []

    def _handlers(self) -> dict[str, Callable[[Instance, dict[str, Any], bytes], list[NormalisedEvent]]]:
        return {
            "messages.upsert": self._on_messages_upsert,
            "messages.update": self._on_messages_update,
            "send.message": self._on_send_message,
            "connection.update": self._on_connection_update,
            "qrcode.updated": self._on_qrcode_updated,
            "call": self._on_call,
            "groups.upsert": self._on_groups_upsert,
            "groups.update": self._on_groups_update,
            "group-participants.update": self._on_group_participants,
            "chats.update": self._on_chats_update,
        }

    def _envelope_time(self, data: dict[str, Any]) -> dt.datetime | None:
        """``date_time`` is local time stamped ``Z``: usable only when the operator names the server's zone."""
        zone_name = as_str(self._settings().option("server_timezone"))
        text = as_str(data.get("date_time"))
        if not zone_name or not text:
            return None
        try:
            zone = zoneinfo.ZoneInfo(zone_name)
            naive = dt.datetime.fromisoformat(text.rstrip("Z").split("+")[0])
        except (ValueError, zoneinfo.ZoneInfoNotFoundError):
            return None
        return naive.replace(tzinfo=zone).astimezone(dt.UTC)

    def _on_messages_upsert(self, instance: Instance, data: dict[str, Any], body: bytes) -> list[NormalisedEvent]:
        payload = data.get("data")
        records = dicts(as_dict(payload).get("messages")) or dicts(payload)
        own_phone = phone_of(data.get("sender")) or instance.phone_number
        events: list[NormalisedEvent] = []
        for record in records:
            event = message_event(record, own_phone=own_phone)
            if event is not None:
                events.append(event)
        return events

    def _on_messages_update(self, instance: Instance, data: dict[str, Any], body: bytes) -> list[NormalisedEvent]:
        events: list[NormalisedEvent] = []
        for update in dicts(data.get("data")):
            key = as_dict(update.get("key"))
            message_id = as_str(update.get("keyId")) or as_str(key.get("id"))
            from_me = update.get("fromMe", key.get("fromMe"))
            raw_status = update.get("status", as_dict(update.get("update")).get("status"))
            status = status_name(raw_status)
            if not message_id or status is None:
                count_ignored(NAME, "malformed")
                continue
            if from_me is False or STATUS_MAP.get(status) is None:
                count_ignored(NAME, "not_relevant")  # receipts of inbound messages, pending, deletions
                continue
            remote = as_str(update.get("remoteJid")) or as_str(key.get("remoteJid"))
            events.append(
                MessageStatusUpdate(
                    provider_message_id=message_id,
                    status=STATUS_MAP[status],
                    recipient=phone_of(remote) or phone_of(update.get("remoteJidAlt")),
                    error_code="provider_error" if status == "ERROR" else "",
                    error_message="WhatsApp reported an error for this message." if status == "ERROR" else "",
                    occurred_at=unix_time(update.get("datetime")) or self._envelope_time(data),
                )
            )
        return events

    def _on_send_message(self, instance: Instance, data: dict[str, Any], body: bytes) -> list[NormalisedEvent]:
        """``send.message`` echoes a message Evolution has just handed to WhatsApp (the same object the send call
        returned); its ``PENDING`` is the socket's pre-acknowledgement state, i.e. the gateway's "sent"."""
        events: list[NormalisedEvent] = []
        for record in dicts(data.get("data")):
            key = as_dict(record.get("key"))
            message_id = as_str(key.get("id"))
            status = status_name(record.get("status")) or "PENDING"
            if not message_id:
                count_ignored(NAME, "malformed")
                continue
            mapped = "sent" if status in ("PENDING", "SERVER_ACK") else STATUS_MAP.get(status)
            if mapped is None:
                count_ignored(NAME, "not_relevant")
                continue
            events.append(
                MessageStatusUpdate(
                    provider_message_id=message_id,
                    status=mapped,
                    recipient=phone_of(key.get("remoteJid")) or phone_of(key.get("remoteJidAlt")),
                    occurred_at=unix_time(record.get("messageTimestamp")),
                )
            )
        return events

    def _on_connection_update(self, instance: Instance, data: dict[str, Any], body: bytes) -> list[NormalisedEvent]:
        payload = as_dict(data.get("data"))
        state = as_str(payload.get("state"))
        reason_code = as_int(payload.get("statusReason"))
        occurred_at = self._envelope_time(data)
        event_id = digest(body)
        if state == "open":
            return [
                ConnectionUpdate(
                    state=InstanceState.CONNECTED,
                    phone_number=phone_of(payload.get("wuid")) or phone_of(data.get("sender")),
                    profile_name=as_str(payload.get("profileName")),
                    event_id=event_id,
                    occurred_at=occurred_at,
                )
            ]
        if state == "connecting":
            # Baileys also says "connecting" while it silently reconnects a paired number.
            if instance.state in (InstanceState.CONNECTED, InstanceState.DISCONNECTED):
                mapped, reason = InstanceState.DISCONNECTED, "Reconnecting to WhatsApp."
            else:
                mapped, reason = InstanceState.PAIRING, "Waiting for the QR code to be scanned."
            return [ConnectionUpdate(state=mapped, reason=reason, event_id=event_id, occurred_at=occurred_at)]
        if state == "close":
            if reason_code == 401 and instance.state == InstanceState.PAIRING:
                # A session that never paired was logged out: the adapter restarting it for a pairing code.
                count_ignored(NAME, "not_relevant")
                return []
            mapped, reason = CLOSE_REASONS.get(
                reason_code or 0,
                (InstanceState.DISCONNECTED, f"Connection closed ({reason_code or 'no code'}); Evolution reconnects."),
            )
            return [ConnectionUpdate(state=mapped, reason=reason, event_id=event_id, occurred_at=occurred_at)]
        if state == "refused":
            return [
                ConnectionUpdate(
                    state=InstanceState.DISCONNECTED,
                    reason="Pairing refused: the QR code limit was reached or the login was rejected. Connect again.",
                    event_id=event_id,
                    occurred_at=occurred_at,
                )
            ]
        count_ignored(NAME, "malformed")
        return []

    def _on_qrcode_updated(self, instance: Instance, data: dict[str, Any], body: bytes) -> list[NormalisedEvent]:
        payload = as_dict(data.get("data"))
        qrcode = as_dict(payload.get("qrcode"))
        message = as_str(payload.get("message")) or as_str(qrcode.get("message"))
        if "limit" in message.lower():
            # {"message": "QR code limit reached, please login again", "statusCode": 500}
            return [QrUpdate(limit_reached=True, occurred_at=self._envelope_time(data))]
        code, pairing_code = as_str(qrcode.get("code")), as_str(qrcode.get("pairingCode"))
        if not code and not pairing_code:
            count_ignored(NAME, "malformed")
            return []
        return [QrUpdate(qr_payload=code, pairing_code=pairing_code, expires_at=now() + QR_TTL)]

    def _on_call(self, instance: Instance, data: dict[str, Any], body: bytes) -> list[NormalisedEvent]:
        events: list[NormalisedEvent] = []
        for call in dicts(data.get("data")):
            call_id = as_str(call.get("id"))
            status = CALL_STATUS.get(as_str(call.get("status")))
            if not call_id or status is None:
                count_ignored(NAME, "malformed")
                continue
            caller = as_str(call.get("from")) or as_str(call.get("chatId"))
            events.append(
                CallEvent(
                    call_id=call_id,
                    caller_id=caller,
                    caller_phone=phone_of(caller) or phone_of(call.get("callerPn")),
                    is_video=as_bool(call.get("isVideo")),
                    status=status,
                    occurred_at=iso_time(call.get("date")) or unix_time(call.get("date")),
                )
            )
        return events

    def _on_groups_upsert(self, instance: Instance, data: dict[str, Any], body: bytes) -> list[NormalisedEvent]:
        return self._group_events(data, body, action="created")

    def _on_groups_update(self, instance: Instance, data: dict[str, Any], body: bytes) -> list[NormalisedEvent]:
        return self._group_events(data, body, action="updated")

    def _group_events(self, data: dict[str, Any], body: bytes, *, action: str) -> list[NormalisedEvent]:
        events: list[NormalisedEvent] = []
        for index, group in enumerate(dicts(data.get("data"))):
            group_id = as_str(group.get("id"))
            if not group_id.endswith("@g.us"):
                count_ignored(NAME, "malformed")
                continue
            events.append(
                GroupUpdate(
                    group_id=group_id,
                    group_name=as_str(group.get("subject")),
                    action=action,
                    event_id=digest(body, index),
                    occurred_at=self._envelope_time(data),
                )
            )
        return events

    def _on_group_participants(self, instance: Instance, data: dict[str, Any], body: bytes) -> list[NormalisedEvent]:
        payload = as_dict(data.get("data"))
        group_id = as_str(payload.get("id"))
        action = PARTICIPANT_ACTIONS.get(as_str(payload.get("action")))
        if not group_id.endswith("@g.us") or action is None:
            count_ignored(NAME, "malformed")
            return []
        participants = [participant_jid(item) for item in as_list(payload.get("participantsData"))]
        if not any(participants):  # older versions, or 2.3.x when it could not resolve the group's members
            participants = [participant_jid(item) for item in as_list(payload.get("participants"))]
        participants = [p for p in participants if p]
        return [
            GroupUpdate(
                group_id=group_id,
                action=action,
                participants=tuple(participants),
                event_id=digest(body),
                occurred_at=self._envelope_time(data),
            )
        ]

    def _on_chats_update(self, instance: Instance, data: dict[str, Any], body: bytes) -> list[NormalisedEvent]:
        events: list[NormalisedEvent] = []
        for index, chat in enumerate(dicts(data.get("data"))):
            chat_id = as_str(chat.get("remoteJid")) or as_str(chat.get("id"))
            if not chat_id or chat_id.endswith(("@g.us", "@broadcast", "@newsletter")):
                count_ignored(NAME, "not_relevant" if chat_id else "malformed")
                continue
            unread = as_int(chat.get("unreadMessages", chat.get("unreadCount")))
            archived = chat.get("archived")
            if (unread is None or unread < 0) and not isinstance(archived, bool):
                # 2.3.x sends only {remoteJid, instanceId} on almost every message: nothing changed that we know of.
                count_ignored(NAME, "not_relevant")
                continue
            events.append(
                ConversationUpdate(
                    chat_id=chat_id,
                    phone=phone_of(chat_id) or phone_of(chat.get("remoteJidAlt")),
                    unread_count=unread if unread is not None and unread >= 0 else None,
                    archived=archived if isinstance(archived, bool) else None,
                    event_id=digest(body, index),
                    occurred_at=self._envelope_time(data),
                )
            )
        return events
