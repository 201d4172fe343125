"""Evolution API v2 (``WHATSAPP-BAILEYS``) adapter: instance lifecycle, sending and history.

The HTTP client and its quirks are in ``client``, webhook verification and parsing in ``callbacks``, message
records in ``messages`` (``docs/providers.md``).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
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
from whatsapp_gateway.providers.evolution.callbacks import EvolutionCallbacks
from whatsapp_gateway.providers.evolution.client import INTEGRATION, NAME, QR_TTL, error_text, not_on_whatsapp
from whatsapp_gateway.providers.evolution.messages import (
    history_status,
    message_event,
)
from whatsapp_gateway.providers.parsing import (
    as_dict,
    as_int,
    as_str,
    dicts,
    phone_of,
)

logger = logging.getLogger("whatsapp_gateway.providers.evolution")

# ENUM names for the instance webhook filter. GROUP_UPDATE is the only name /webhook/set accepts for group
# changes, although the engine emits "groups.update" (docs/providers.md).
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

# Waiting for a pairing code: Baileys asks WhatsApp for it about a second after the session's first QR.
PAIRING_POLLS = 6
PAIRING_POLL_SECONDS = 1.0
HISTORY_PAGE_SIZE = 50
HISTORY_MAX_PAGES = 5


class EvolutionProvider(EvolutionCallbacks):
    name = NAME
    supports_qr = True
    supports_pairing_code = True
    supports_typing = True
    supports_history = True

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
        if response.status == 403 and "already in use" in error_text(response.body):
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
        if response.status == 400 and not_on_whatsapp(response.body):
            raise ProviderError("The recipient is not on WhatsApp.", permanent=True, code="not_on_whatsapp")
        self._raise_for(response, action="send the message")
        message_id = as_str(as_dict(as_dict(response.body).get("key")).get("id"))
        if not message_id:
            raise ProviderError(
                "Evolution API accepted the message but returned no id.", permanent=False, code="provider_error"
            )
        return SendResult(provider_message_id=message_id, status="sent")

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


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
