"""Evolution API v2 (``WHATSAPP-BAILEYS``) adapter.

Facts and quirks this module relies on (``docs/providers.md``); message records are parsed in
``evolution_messages``:

- Auth is the ``apikey`` header. The operator's global key is used for ``POST /instance/create`` only; every later
  call uses the instance's own token (the ``hash`` returned by create), stored in ``provider_credentials``.
- Failures sometimes come back as HTTP 200 with ``{"error": true}`` (restart/connect on a closed instance), so
  every response body is checked, not only the status.
- A recipient who is not on WhatsApp gives 400 with ``response.message[] = {"exists": false, …}``.
- Webhooks have no HMAC. We give each instance a ``jwt_key`` header secret: Evolution replaces it with
  ``Authorization: Bearer <HS256 JWT>`` (``exp`` = +10 min, reused by every retry of the event), which
  ``verify_callback`` checks, accepting it for the provider's whole retry horizon.
- The envelope's ``date_time`` is the server's local time stamped ``Z``; it is used only when the operator names
  the server's time zone (``EVOLUTION_SERVER_TIMEZONE``). Message timestamps (``messageTimestamp``) are real.
- ``@lid`` senders are resolved through ``remoteJidAlt`` / ``senderPn`` (``participantAlt`` / ``participantPn`` in
  groups).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
import zoneinfo
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

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
from whatsapp_gateway.providers.evolution_messages import (
    STATUS_MAP,
    history_status,
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

NAME = "evolution"
INTEGRATION = "WHATSAPP-BAILEYS"
# Baileys rotates QR codes every 20–60 s; the portal refreshes before this.
QR_TTL = dt.timedelta(seconds=40)
# ENUM names for the instance webhook filter. GROUP_UPDATE is the only name /webhook/set accepts for group
# changes, although the engine emits "groups.update" (reference §1.5 note 1).
WEBHOOK_EVENTS = [
    "QRCODE_UPDATED",
    "CONNECTION_UPDATE",
    "MESSAGES_UPSERT",
    "MESSAGES_UPDATE",
    "SEND_MESSAGE",
    "CALL",
    "GROUPS_UPSERT",
    "GROUP_UPDATE",
    "GROUP_PARTICIPANTS_UPDATE",
]
# Evolution signs a webhook once (exp = iat + 600 s) and reuses that token on every retry: up to 10 tries, 5 s
# doubling to at most 300 s with ±20 % jitter, each request allowed 30–60 s (webhook.controller.ts
# retryWebhookRequest) — the last retry can come ~1,215 s after the first, plus jitter and timeouts. Refusing it
# (401) would be final (401 is in its non-retryable list), so a correctly signed token is accepted for that whole
# horizon; deduplication drops replays of events already processed.
WEBHOOK_RETRY_GRACE_SECONDS = 1440  # + the 60 s clock leeway: 25 minutes past exp
# Waiting for a pairing code: Baileys asks WhatsApp for it about a second after the session's first QR.
PAIRING_POLLS = 6
PAIRING_POLL_SECONDS = 1.0
HISTORY_PAGE_SIZE = 50
HISTORY_MAX_PAGES = 5

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


class EvolutionProvider(Provider):
    name = NAME
    supports_qr = True
    supports_pairing_code = True
    supports_typing = True
    supports_history = True

    # --- configuration and HTTP ----------------------------------------------------------------------------

    def _settings(self) -> ProviderSettings:
        return provider_settings(NAME)

    def _ref(self, instance: Instance) -> str:
        return instance.provider_ref or instance.public_id

    def _instance_headers(self, instance: Instance) -> dict[str, str]:
        token = as_str(instance_credentials(instance).get("token"))
        if not token:
            raise ProviderError(
                "This instance has no Evolution API token; delete it and create it again.",
                permanent=True,
                code="missing_instance_token",
            )
        return {"apikey": token}

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

    @staticmethod
    def _error_body(response: http.ProviderResponse) -> bool:
        """Evolution's HTTP-200 failures: ``{"error": true, "message": "[object Object]"}``."""
        body = response.body
        return isinstance(body, dict) and body.get("error") is True and response.ok

    def _raise_for(self, response: http.ProviderResponse, *, action: str) -> None:
        if self._error_body(response):
            message = as_str(as_dict(response.body).get("message")) or "unknown error"
            raise ProviderError(
                f"Evolution API could not {action} ({message}); the instance is probably closed: connect it again.",
                permanent=False,
                code="provider_error",
            )
        if response.ok:
            return
        text = _messages(response.body)
        if response.status == 404:
            raise ProviderError(
                f"Evolution API does not know this instance ({text or 'not found'}).",
                permanent=True,
                code="instance_missing",
            )
        raise http.default_error(NAME, response, message=text)

    # --- lifecycle -----------------------------------------------------------------------------------------

    def create_instance(self, instance: Instance) -> CreateResult:
        """Create the Evolution instance with our webhook (nested ``webhook`` object, per-instance JWT secret)
        using the global key, then confirm the webhook with ``GET /webhook/find`` (instance token)."""
        config = self._settings()
        api_key = config.secret("api_key")
        if not api_key:
            raise ProviderError(
                "EVOLUTION_API_KEY is not set (environment or admin site).",
                permanent=False,
                code="provider_not_configured",
            )
        ref = self._ref(instance)
        token = secrets.token_urlsafe(32)
        webhook_secret = secrets.token_urlsafe(32)
        webhook = self._webhook_body(instance, webhook_secret)
        body = {
            "instanceName": ref,
            "integration": INTEGRATION,
            "token": token,
            "qrcode": False,
            "rejectCall": False,
            "groupsIgnore": False,
            "alwaysOnline": False,
            "readMessages": False,
            "readStatus": False,
            "syncFullHistory": False,
            "webhook": webhook,
        }
        response = self._call("POST", "/instance/create", headers={"apikey": api_key}, json_body=body)
        if response.status == 403 and "already in use" in _messages(response.body):
            raise ProviderError(
                f"Evolution API already has an instance named {ref!r}.", permanent=True, code="instance_exists"
            )
        self._raise_for(response, action="create the instance")
        issued = as_dict(response.body).get("hash")
        if isinstance(issued, dict):  # older v2 builds: {"apikey": "..."}
            issued = issued.get("apikey")
        token = as_str(issued) or token
        credentials = {"token": token, "webhook_secret": webhook_secret}
        self._confirm_webhook(ref, token, webhook)
        return CreateResult(provider_ref=ref, credentials=credentials)

    def _webhook_body(self, instance: Instance, webhook_secret: str) -> dict[str, Any]:
        return {
            "url": callback_url(instance, NAME),
            "byEvents": False,
            "base64": False,
            "headers": {"jwt_key": webhook_secret},
            "events": list(WEBHOOK_EVENTS),
        }

    def _confirm_webhook(self, ref: str, token: str, webhook: dict[str, Any]) -> None:
        """Some builds ignore the webhook given at create: read it back and set it if it is not ours."""
        headers = {"apikey": token}
        found = self._call("GET", f"/webhook/find/{quote(ref)}", headers=headers)
        current = as_dict(found.body)
        current = as_dict(current.get("webhook")) or current
        if found.ok and as_str(current.get("url")) == webhook["url"] and current.get("enabled") is not False:
            return
        response = self._call(
            "POST", f"/webhook/set/{quote(ref)}", headers=headers, json_body={"webhook": {"enabled": True, **webhook}}
        )
        self._raise_for(response, action="set the webhook")

    def connect(self, instance: Instance, *, phone_number: str | None = None) -> ConnectResult:
        """A QR code, or with ``phone_number`` a pairing code.

        Evolution honours ``?number=`` only when it starts a session from ``close``: on a ``connecting`` instance it
        answers the current QR with ``pairingCode: null`` (InstanceController.connectToWhatsapp), and from ``close``
        the code comes about a second after the QR. So for a code the adapter ends a connecting session (logout),
        starts it again with the number and asks again until the code is there, for a few seconds at most."""
        ref = quote(self._ref(instance))
        headers = self._instance_headers(instance)
        if not phone_number:
            return self._pairing_result(self._connect_call(ref, headers, None), None)
        number = phone_number.lstrip("+")
        state = self._session_state(ref, headers)
        if state == "open":
            return ConnectResult(state=InstanceState.CONNECTED)
        if state == "connecting":
            response = self._call("DELETE", f"/instance/logout/{ref}", headers=headers)
            self._raise_for(response, action="restart pairing for a pairing code")
            for _ in range(PAIRING_POLLS):
                if self._session_state(ref, headers) == "close":
                    break
                time.sleep(PAIRING_POLL_SECONDS)
        body = self._connect_call(ref, headers, number)
        for _ in range(PAIRING_POLLS):
            if as_str(body.get("pairingCode")) or as_str(as_dict(body.get("instance")).get("state")) == "open":
                break
            time.sleep(PAIRING_POLL_SECONDS)
            body = self._connect_call(ref, headers, number)
        return self._pairing_result(body, number)

    def _session_state(self, ref: str, headers: dict[str, str]) -> str:
        response = self._call("GET", f"/instance/connectionState/{ref}", headers=headers)
        self._raise_for(response, action="read the connection state")
        return as_str(as_dict(as_dict(response.body).get("instance")).get("state"))

    def _connect_call(self, ref: str, headers: dict[str, str], number: str | None) -> dict[str, Any]:
        params = {"number": number} if number else None
        response = self._call("GET", f"/instance/connect/{ref}", headers=headers, params=params)
        self._raise_for(response, action="start pairing")
        return as_dict(response.body)

    def _pairing_result(self, body: dict[str, Any], number: str | None) -> ConnectResult:
        if as_str(as_dict(body.get("instance")).get("state")) == "open":
            return ConnectResult(state=InstanceState.CONNECTED)
        code, pairing_code = as_str(body.get("code")), as_str(body.get("pairingCode"))
        if not code and not pairing_code:  # {"count": 0}: the engine has no QR yet (evolution-api #2385)
            raise ProviderError(
                "Evolution API has not produced a QR code yet; try again in a few seconds.",
                permanent=False,
                code="qr_not_ready",
            )
        return ConnectResult(
            state=InstanceState.PAIRING,
            qr_payload=code,
            pairing_code=pairing_code if number else "",
            expires_at=now() + QR_TTL,
        )

    def connection_state(self, instance: Instance) -> StateResult:
        ref = quote(self._ref(instance))
        headers = self._instance_headers(instance)
        response = self._call("GET", f"/instance/connectionState/{ref}", headers=headers)
        self._raise_for(response, action="read the connection state")
        state = as_str(as_dict(as_dict(response.body).get("instance")).get("state"))
        if state != "open":
            mapped = InstanceState.PAIRING if state == "connecting" else InstanceState.DISCONNECTED
            return StateResult(state=mapped, reason=f"Evolution state: {state or 'unknown'}")
        phone, profile = "", ""
        details = self._call(
            "GET", "/instance/fetchInstances", headers=headers, params={"instanceName": self._ref(instance)}
        )
        rows = dicts(details.body) if details.ok else []
        if rows:
            row = as_dict(rows[0].get("instance")) or rows[0]  # v2.0 wrapped rows in {"instance": {...}}
            phone = phone_of(as_str(row.get("ownerJid")) or as_str(row.get("owner")))
            profile = as_str(row.get("profileName"))
        return StateResult(state=InstanceState.CONNECTED, phone_number=phone, profile_name=profile)

    def restart(self, instance: Instance) -> None:
        response = self._call(
            "POST", f"/instance/restart/{quote(self._ref(instance))}", headers=self._instance_headers(instance)
        )
        self._raise_for(response, action="restart the instance")

    def logout(self, instance: Instance) -> None:
        response = self._call(
            "DELETE", f"/instance/logout/{quote(self._ref(instance))}", headers=self._instance_headers(instance)
        )
        if response.status in (400, 404):  # not connected / already gone: logged out either way
            return
        self._raise_for(response, action="log out")

    def delete_instance(self, instance: Instance) -> None:
        if not as_str(instance_credentials(instance).get("token")):
            return  # never created on the provider
        response = self._call(
            "DELETE", f"/instance/delete/{quote(self._ref(instance))}", headers=self._instance_headers(instance)
        )
        if response.status == 404:
            return
        self._raise_for(response, action="delete the instance")

    # --- sending -------------------------------------------------------------------------------------------

    def send_text(self, instance: Instance, *, to: str, text: str, typing_ms: int = 0) -> SendResult:
        """``POST /message/sendText``; ``delay`` shows "typing…" for ``typing_ms`` before the message goes out."""
        body: dict[str, Any] = {"number": to.lstrip("+"), "text": text, "linkPreview": False}
        if typing_ms > 0:
            body["delay"] = int(typing_ms)
        timeout = None
        if typing_ms > 0:
            from django.conf import settings

            timeout = settings.GATEWAY_PROVIDER_HTTP_TIMEOUT + typing_ms / 1000
        response = self._call(
            "POST",
            f"/message/sendText/{quote(self._ref(instance))}",
            headers=self._instance_headers(instance),
            json_body=body,
            timeout=timeout,
        )
        if response.status == 400 and _not_on_whatsapp(response.body):
            raise ProviderError("The recipient is not on WhatsApp.", permanent=True, code="not_on_whatsapp")
        self._raise_for(response, action="send the message")
        message_id = as_str(as_dict(as_dict(response.body).get("key")).get("id"))
        if not message_id:
            raise ProviderError(
                "Evolution API accepted the message but returned no id.", permanent=False, code="provider_error"
            )
        return SendResult(provider_message_id=message_id, status="sent")

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

    # --- reconciliation ------------------------------------------------------------------------------------

    def fetch_recent_messages(self, instance: Instance, *, since: dt.datetime) -> list[NormalisedEvent]:
        """``POST /chat/findMessages`` for messages between ``since`` and now (Evolution applies the time filter
        only when both ``gte`` and ``lte`` are given), newest first, a few pages at most."""
        until = now()
        headers = self._instance_headers(instance)
        own_phone = instance.phone_number
        events: list[NormalisedEvent] = []
        for page in range(1, HISTORY_MAX_PAGES + 1):
            body = {
                "where": {"messageTimestamp": {"gte": _iso(since), "lte": _iso(until)}},
                "page": page,
                "offset": HISTORY_PAGE_SIZE,
            }
            response = self._call(
                "POST", f"/chat/findMessages/{quote(self._ref(instance))}", headers=headers, json_body=body
            )
            self._raise_for(response, action="read the message history")
            result = as_dict(as_dict(response.body).get("messages"))
            records = dicts(result.get("records")) if result else dicts(response.body)
            for record in records:
                event = message_event(record, own_phone=own_phone, count=False)
                if event is not None and (event.occurred_at is None or event.occurred_at >= since):
                    events.append(event)
                    status = history_status(record)
                    if status is not None:
                        events.append(status)
            pages = as_int(result.get("pages")) or 1
            if not records or page >= pages:
                break
        return events


def _messages(body: Any) -> str:
    """The human text in Evolution's error envelope ``{"response": {"message": [...]}}``."""
    message = as_dict(as_dict(body).get("response")).get("message", as_dict(body).get("message"))
    if isinstance(message, list):
        return "; ".join(str(m) if not isinstance(m, dict) else m.get("message", "") or str(m) for m in message)[:300]
    return as_str(message)[:300]


def _not_on_whatsapp(body: Any) -> bool:
    message = as_dict(as_dict(body).get("response")).get("message")
    return any(isinstance(item, dict) and item.get("exists") is False for item in as_list(message))


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
