"""WAHA (WhatsApp HTTP API) adapter.

Facts this module relies on (docs/providers.md "WAHA"):

- Auth is ``X-Api-Key``. The operator's master key creates and deletes sessions and mints a session-scoped key
  (``POST /api/keys``) that every other call of that instance uses; WAHA builds without the keys API fall back to
  the master key.
- Each session gets its own webhook with an HMAC-SHA512 key: WAHA sends ``X-Webhook-Hmac`` (hex HMAC of the raw
  body) and ``X-Webhook-Hmac-Algorithm: sha512``. The signed body carries the event ``timestamp`` (ms), which
  bounds replays; the event ``id`` (a ULID) deduplicates retries.
- Message ids look like ``true_<chatId>_<id>``; the adapter keeps the bare ``<id>`` so ids from send responses,
  ``message.ack`` and history (which differ per engine) match.
- ``@lid`` senders are resolved with ``GET /api/{session}/lids/{lid}``.
- Before each send ``check-exists`` gives the right chat id (Brazil's 9th digit) and catches numbers that are not
  on WhatsApp; sending on a session that is not ``WORKING`` answers 422.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from django.conf import settings

from whatsapp_gateway.instances.models import Instance, InstanceState
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.providers import http
from whatsapp_gateway.providers.base import (
    CallbackRejected,
    CallEvent,
    ConnectionUpdate,
    ConnectResult,
    ConversationUpdate,
    CreateResult,
    GroupUpdate,
    InboundMessage,
    MessageStatusUpdate,
    NormalisedEvent,
    Provider,
    ProviderError,
    QrUpdate,
    SendResult,
    StateResult,
)
from whatsapp_gateway.providers.config import (
    ProviderSettings,
    callback_url,
    instance_credentials,
    provider_settings,
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
from whatsapp_gateway.providers.waha_media import message_content

logger = logging.getLogger("whatsapp_gateway.providers.waha")

NAME = "waha"
QR_TTL = dt.timedelta(seconds=40)
WEBHOOK_EVENTS = [
    "message",
    "message.any",
    "message.ack",
    "session.status",
    "call.received",
    "call.accepted",
    "call.rejected",
    "group.v2.join",
    "group.v2.leave",
    "group.v2.participants",
    "group.v2.update",
    "chat.archive",
]
# Retries finish well inside WAHA_WEBHOOK_MAX_AGE_SECONDS (2+4+…+256 s ≈ 8.5 min, plus jitter).
WEBHOOK_RETRIES = {"policy": "exponential", "delaySeconds": 2, "attempts": 8}
SESSION_KEY_ACTIONS = {"read": True, "send": True, "control": True, "setting": False, "app": False, "delete": False}
FUTURE_SKEW_SECONDS = 300
HISTORY_MAX_CHATS = 50
HISTORY_MESSAGES_PER_CHAT = 100
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


class WahaProvider(Provider):
    name = NAME
    supports_qr = True
    supports_pairing_code = True
    supports_typing = False
    supports_history = True

    # --- configuration and HTTP ----------------------------------------------------------------------------

    def _settings(self) -> ProviderSettings:
        return provider_settings(NAME)

    def _ref(self, instance: Instance) -> str:
        return instance.provider_ref or instance.public_id

    def _master_headers(self) -> dict[str, str]:
        key = self._settings().secret("api_key")
        return {"X-Api-Key": key} if key else {}

    def _session_headers(self, instance: Instance) -> dict[str, str]:
        key = as_str(instance_credentials(instance).get("api_key"))
        return {"X-Api-Key": key} if key else self._master_headers()

    def _call(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> http.ProviderResponse:
        base = self._settings().require_base_url()
        return http.call(
            NAME, method, base + path, headers=headers, json_body=json_body, params=params, timeout=timeout
        )

    def _raise_for(self, response: http.ProviderResponse, *, action: str) -> None:
        if response.ok:
            return
        message = as_str(as_dict(response.body).get("message")) or response.text[:200]
        if response.status == 422:
            raise ProviderError(
                f"WAHA could not {action}: the session is not working ({message}).",
                permanent=False,
                code="instance_not_connected",
            )
        if response.status == 404:
            raise ProviderError(
                f"WAHA does not know this session ({message}).", permanent=True, code="instance_missing"
            )
        raise http.default_error(NAME, response, message=message)

    # --- lifecycle -----------------------------------------------------------------------------------------

    def create_instance(self, instance: Instance) -> CreateResult:
        """Create and start the session with our signed webhook, then mint a session-scoped API key."""
        ref = self._ref(instance)
        hmac_key = secrets.token_urlsafe(32)
        body = {
            "name": ref,
            "start": True,
            "config": {
                "metadata": {"gateway.instance_id": instance.public_id},
                "webhooks": [
                    {
                        "url": callback_url(instance, NAME),
                        "events": list(WEBHOOK_EVENTS),
                        "hmac": {"key": hmac_key},
                        "retries": dict(WEBHOOK_RETRIES),
                        "customHeaders": [],
                    }
                ],
            },
        }
        response = self._call("POST", "/api/sessions", headers=self._master_headers(), json_body=body)
        if response.status in (409, 422) and "exist" in response.text.lower():
            raise ProviderError(f"WAHA already has a session named {ref!r}.", permanent=True, code="instance_exists")
        self._raise_for(response, action="create the session")
        credentials: dict[str, Any] = {"hmac_key": hmac_key}
        credentials.update(self._mint_session_key(ref))
        return CreateResult(provider_ref=ref, credentials=credentials)

    def _mint_session_key(self, ref: str) -> dict[str, str]:
        body = {"isAdmin": False, "session": ref, "isActive": True, "actions": dict(SESSION_KEY_ACTIONS)}
        try:
            response = self._call("POST", "/api/keys", headers=self._master_headers(), json_body=body)
        except ProviderError:
            response = None
        key = as_dict(response.body if response else None)
        if response is None or not response.ok or not as_str(key.get("key")):
            logger.info("WAHA has no usable keys API; session %s uses the master key", ref)
            return {}
        return {"api_key": as_str(key.get("key")), "api_key_id": as_str(key.get("id"))}

    def _session(self, instance: Instance) -> dict[str, Any]:
        response = self._call(
            "GET", f"/api/sessions/{quote(self._ref(instance))}", headers=self._session_headers(instance)
        )
        self._raise_for(response, action="read the session")
        return as_dict(response.body)

    def connect(self, instance: Instance, *, phone_number: str | None = None) -> ConnectResult:
        """Start (or restart a FAILED) session, then return its QR code or request a pairing code."""
        ref = quote(self._ref(instance))
        headers = self._session_headers(instance)
        status = as_str(self._session(instance).get("status"))
        if status == "WORKING":
            return ConnectResult(state=InstanceState.CONNECTED)
        if status in ("STOPPED", "FAILED"):
            action = "start" if status == "STOPPED" else "restart"
            response = self._call("POST", f"/api/sessions/{ref}/{action}", headers=headers)
            self._raise_for(response, action=f"{action} the session")
            status = as_str(as_dict(response.body).get("status")) or "STARTING"
        if phone_number:
            response = self._call(
                "POST",
                f"/api/{ref}/auth/request-code",
                headers=headers,
                json_body={"phoneNumber": phone_number.lstrip("+")},
            )
            self._raise_for(response, action="request a pairing code")
            code = as_str(as_dict(response.body).get("code"))
            if not code:
                raise ProviderError("WAHA returned no pairing code.", permanent=False, code="qr_not_ready")
            return ConnectResult(state=InstanceState.PAIRING, pairing_code=code, expires_at=now() + QR_TTL)
        if status == "SCAN_QR_CODE":
            return ConnectResult(state=InstanceState.PAIRING, qr_payload=self._qr(instance), expires_at=now() + QR_TTL)
        # STARTING: the QR code follows with the session.status SCAN_QR_CODE callback.
        return ConnectResult(state=InstanceState.PAIRING)

    def _qr(self, instance: Instance) -> str:
        response = self._call(
            "GET",
            f"/api/{quote(self._ref(instance))}/auth/qr",
            headers={**self._session_headers(instance), "Accept": "application/json"},
            params={"format": "raw"},
        )
        self._raise_for(response, action="read the QR code")
        value = as_str(as_dict(response.body).get("value"))
        if not value:
            raise ProviderError("WAHA returned no QR code yet.", permanent=False, code="qr_not_ready")
        return value

    def connection_state(self, instance: Instance) -> StateResult:
        session = self._session(instance)
        status = as_str(session.get("status"))
        state, reason = _session_state(status, instance.state)
        me = as_dict(session.get("me"))
        return StateResult(
            state=state,
            phone_number=phone_of(me.get("id")) if state == InstanceState.CONNECTED else "",
            profile_name=as_str(me.get("pushName")),
            reason=reason,
        )

    def _session_action(self, instance: Instance, action: str) -> None:
        response = self._call(
            "POST", f"/api/sessions/{quote(self._ref(instance))}/{action}", headers=self._session_headers(instance)
        )
        self._raise_for(response, action=f"{action} the session")

    def start(self, instance: Instance) -> None:
        self._session_action(instance, "start")

    def stop(self, instance: Instance) -> None:
        self._session_action(instance, "stop")

    def restart(self, instance: Instance) -> None:
        self._session_action(instance, "restart")

    def logout(self, instance: Instance) -> None:
        self._session_action(instance, "logout")

    def delete_instance(self, instance: Instance) -> None:
        """Delete the session (WAHA logs out first) with the master key, then revoke its session key."""
        credentials = instance_credentials(instance)
        if not credentials:
            return  # never created on the provider
        response = self._call("DELETE", f"/api/sessions/{quote(self._ref(instance))}", headers=self._master_headers())
        if response.status != 404:
            self._raise_for(response, action="delete the session")
        key_id = as_str(credentials.get("api_key_id"))
        if key_id:
            try:
                self._call("DELETE", f"/api/keys/{quote(key_id)}", headers=self._master_headers())
            except ProviderError:
                logger.warning("could not revoke the WAHA session key of a deleted session")

    # --- sending -------------------------------------------------------------------------------------------

    def send_text(self, instance: Instance, *, to: str, text: str, typing_ms: int = 0) -> SendResult:
        ref = self._ref(instance)
        headers = self._session_headers(instance)
        digits = to.lstrip("+")
        check = self._call(
            "GET", "/api/contacts/check-exists", headers=headers, params={"phone": digits, "session": ref}
        )
        self._raise_for(check, action="check the number")
        found = as_dict(check.body)
        if found.get("numberExists") is False:
            raise ProviderError("The recipient is not on WhatsApp.", permanent=True, code="not_on_whatsapp")
        chat_id = as_str(found.get("chatId")) or f"{digits}@c.us"
        response = self._call(
            "POST",
            "/api/sendText",
            headers=headers,
            json_body={"session": ref, "chatId": chat_id, "text": text, "linkPreview": False},
        )
        self._raise_for(response, action="send the message")
        message_id = _response_message_id(response.body)
        if not message_id:
            raise ProviderError("WAHA accepted the message but returned no id.", permanent=False, code="provider_error")
        return SendResult(provider_message_id=message_id, status="sent")

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

        serialized = _serialized_id(payload.get("id"))
        message_id = bare_message_id(serialized)
        from_me = as_bool(payload.get("fromMe"))
        chat_id = _chat_of(serialized) or (
            (as_str(payload.get("to")) or as_str(payload.get("from"))) if from_me else as_str(payload.get("from"))
        )
        if not message_id or not chat_id:
            ignore("malformed")
            return None
        raw = as_dict(payload.get("_data"))
        if chat_id.endswith(("@broadcast", "@newsletter")) or as_str(raw.get("type")) in SILENT_TYPES:
            ignore("not_relevant")
            return None
        reply_to = bare_message_id(_serialized_id(as_dict(payload.get("replyTo")).get("id")))
        message_type, text, metadata = message_content(payload, raw, reply_to=reply_to)
        is_group = chat_id.endswith("@g.us")
        sender_id = as_str(payload.get("participant")) if is_group else chat_id
        sender_id = sender_id or as_str(payload.get("author"))
        sender_phone = phone_of(sender_id) or phone_of(_alternative_jid(raw, is_group))
        sender_lid = sender_id if sender_id.endswith("@lid") else ""
        if sender_lid and not sender_phone and not from_me:
            sender_phone = self._resolve_lid(instance, sender_lid)
        chat_phone = "" if is_group else (sender_phone if not from_me else phone_of(chat_id))
        if from_me and not is_group and not chat_phone and chat_id.endswith("@lid"):
            chat_phone = phone_of(_alternative_jid(raw, False)) or self._resolve_lid(instance, chat_id)
        if from_me:
            sender_id, sender_lid, sender_phone = "", "", own_phone
        return InboundMessage(
            provider_message_id=message_id,
            chat_id=chat_id,
            sender_id=sender_id,
            sender_phone=sender_phone,
            sender_lid=sender_lid,
            sender_name="" if from_me else _push_name(raw),
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
        serialized = _serialized_id(payload.get("id"))
        message_id = bare_message_id(serialized)
        ack_name = as_str(payload.get("ackName")).upper() or ACK_NAMES.get(as_int(payload.get("ack")) or -2, "")
        if not message_id or ack_name not in ACK_STATUS:
            count_ignored(NAME, "malformed")
            return []
        status = ACK_STATUS[ack_name]
        if payload.get("fromMe") is False or status is None:
            count_ignored(NAME, "not_relevant")
            return []
        chat = _chat_of(serialized) or as_str(payload.get("to")) or as_str(payload.get("from"))
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
        state, reason = _session_state(status, instance.state)
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

    # --- reconciliation ------------------------------------------------------------------------------------

    def fetch_recent_messages(self, instance: Instance, *, since: dt.datetime) -> list[NormalisedEvent]:
        """Chats with activity since ``since`` (``chats/overview``), then each one's messages since then."""
        ref = quote(self._ref(instance))
        headers = self._session_headers(instance)
        since_ts = int(since.timestamp())
        overview = self._call("GET", f"/api/{ref}/chats/overview", headers=headers, params={"limit": HISTORY_MAX_CHATS})
        self._raise_for(overview, action="list the chats")
        own_phone = instance.phone_number
        events: list[NormalisedEvent] = []
        for chat in dicts(overview.body):
            chat_id = as_str(chat.get("id"))
            last = unix_time(as_dict(chat.get("lastMessage")).get("timestamp"))
            if not chat_id or chat_id.endswith(("@broadcast", "@newsletter")) or (last and last < since):
                continue
            response = self._call(
                "GET",
                f"/api/{ref}/chats/{quote(chat_id, safe='')}/messages",
                headers=headers,
                params={"limit": HISTORY_MESSAGES_PER_CHAT, "downloadMedia": "false", "filter.timestamp.gte": since_ts},
            )
            self._raise_for(response, action="read the chat history")
            for payload in dicts(response.body):
                event = self._message_event(instance, payload, own_phone=own_phone, count=False)
                if event is not None:
                    events.append(event)
        return events


# --- helpers -------------------------------------------------------------------------------------------------


def bare_message_id(serialized: str) -> str:
    """``true_5511…@c.us_3EB0C4…`` (and group forms with a trailing participant) → ``3EB0C4…``."""
    parts = serialized.split("_")
    if len(parts) >= 3 and parts[0] in ("true", "false"):
        return parts[2]
    return serialized


def _serialized_id(value: Any) -> str:
    if isinstance(value, dict):  # WEBJS: {"fromMe", "remote", "id", "_serialized"}
        return as_str(value.get("_serialized")) or as_str(value.get("id"))
    return as_str(value)


def _chat_of(serialized: str) -> str:
    parts = serialized.split("_")
    return parts[1] if len(parts) >= 3 and parts[0] in ("true", "false") and "@" in parts[1] else ""


def _response_message_id(body: Any) -> str:
    """The id in a send response, whose shape differs per engine."""
    body = as_dict(body)
    for candidate in (
        as_dict(body.get("key")).get("id"),  # NOWEB (Baileys)
        _serialized_id(body.get("id")),  # WEBJS / GOWS
        _serialized_id(as_dict(body.get("_data")).get("id")),
    ):
        if isinstance(candidate, str) and candidate:
            return bare_message_id(candidate)
    return ""


def _alternative_jid(raw: dict[str, Any], is_group: bool) -> str:
    """Engine data that carries the phone JID next to a LID (NOWEB: Baileys key; GOWS: Info.SenderAlt)."""
    key = as_dict(raw.get("key"))
    info = as_dict(raw.get("Info"))
    candidates = (
        (key.get("participantAlt"), key.get("participantPn"), info.get("SenderAlt"))
        if is_group
        else (key.get("remoteJidAlt"), key.get("senderPn"), info.get("SenderAlt"), info.get("RecipientAlt"))
    )
    return next((as_str(c) for c in candidates if phone_of(c)), "")


def _push_name(raw: dict[str, Any]) -> str:
    return (
        as_str(raw.get("notifyName")) or as_str(raw.get("pushName")) or as_str(as_dict(raw.get("Info")).get("PushName"))
    )


def _session_state(status: str, current: str) -> tuple[str, str]:
    """WAHA session status → (InstanceState, reason)."""
    if status == "WORKING":
        return InstanceState.CONNECTED, ""
    if status == "SCAN_QR_CODE":
        return InstanceState.PAIRING, "Waiting for the QR code to be scanned."
    if status in ("PASSKEY_REQUIRED", "PASSKEY_CONFIRMATION_REQUIRED"):
        return InstanceState.PAIRING, "Confirm the passkey on the phone."
    if status == "STARTING":
        if current in (InstanceState.CONNECTED, InstanceState.DISCONNECTED):
            return InstanceState.DISCONNECTED, "The session is restarting."
        return InstanceState.PAIRING, "The session is starting."
    if status == "STOPPED":
        return InstanceState.DISCONNECTED, "The session is stopped."
    if status == "FAILED":
        return InstanceState.FAILED, "The session failed (this can mean the number was banned). Restart it."
    return InstanceState.DISCONNECTED, f"Unknown WAHA session status {status[:40]!r}."
