"""WAHA (WhatsApp HTTP API) adapter: session lifecycle, sending and history.

The HTTP client is in ``client``, webhook verification and parsing in ``callbacks``, message ids and contents in
``messages`` and ``media`` (``docs/providers.md``). Before each send ``check-exists`` gives the right chat id
(Brazil's 9th digit) and catches numbers that are not on WhatsApp; sending on a session that is not ``WORKING``
answers 422.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any
from urllib.parse import quote

from whatsapp_gateway.instances.models import Instance, InstanceState
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.providers.base import (
    ConnectResult,
    CreateResult,
    NormalisedEvent,
    ProviderError,
    SendResult,
    StateResult,
)
from whatsapp_gateway.providers.config import (
    callback_url,
    instance_credentials,
)
from whatsapp_gateway.providers.parsing import (
    as_dict,
    as_str,
    dicts,
    phone_of,
    unix_time,
)
from whatsapp_gateway.providers.waha.callbacks import WahaCallbacks
from whatsapp_gateway.providers.waha.client import NAME, QR_TTL, session_state
from whatsapp_gateway.providers.waha.messages import response_message_id

logger = logging.getLogger("whatsapp_gateway.providers.waha")

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
HISTORY_MAX_CHATS = 50
HISTORY_MESSAGES_PER_CHAT = 100


class WahaProvider(WahaCallbacks):
    name = NAME
    supports_qr = True
    supports_pairing_code = True
    supports_typing = False
    supports_history = True

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

    def connection_state(self, instance: Instance) -> StateResult:
        session = self._session(instance)
        status = as_str(session.get("status"))
        state, reason = session_state(status, instance.state)
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
        message_id = response_message_id(response.body)
        if not message_id:
            raise ProviderError("WAHA accepted the message but returned no id.", permanent=False, code="provider_error")
        return SendResult(provider_message_id=message_id, status="sent")

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
