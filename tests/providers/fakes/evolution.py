"""A local fake of Evolution API v2.3.x (``WHATSAPP-BAILEYS``), as docs/providers.md "Evolution API v2" describes it.

It keeps instances, their tokens, webhooks, connection state and messages, answers with the documented bodies
(including the quirks: HTTP 200 ``{"error": true}`` from restart/connect on a closed instance, 400
``exists: false`` for numbers not on WhatsApp) and builds the webhooks Evolution would post, with the
``Authorization: Bearer <JWT>`` it derives from the instance's ``jwt_key`` header.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.providers.fakes.base import Callback, FakeApi, Recorded, reply
from whatsapp_gateway.providers.signing import sign_hs256_jwt

VALID_INTEGRATIONS = {"WHATSAPP-BAILEYS", "WHATSAPP-BUSINESS", "EVOLUTION"}


@dataclass
class EvoInstance:
    name: str
    token: str
    instance_id: str
    webhook: dict[str, Any]
    state: str = "close"
    owner_phone: str = ""
    profile_name: str = ""
    qr_count: int = 0
    pairing_number: str = ""  # the number /instance/connect?number= started the session with
    pairing_code: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)


def _not_found(name: str):
    return reply(
        404, {"status": 404, "error": "Not Found", "response": {"message": [f'The "{name}" instance does not exist']}}
    )


class FakeEvolution(FakeApi):
    base_url = "http://evolution.test"

    def __init__(self, api_key: str = "global-evolution-key") -> None:
        super().__init__()
        self.api_key = api_key
        self.instances: dict[str, EvoInstance] = {}
        self.not_on_whatsapp: set[str] = set()
        self.ignore_webhook_on_create = False
        self.qr_ready = True  # False: /instance/connect answers {"count": 0} (evolution-api #2385)
        self.pairing_code_ready = True  # False: WhatsApp never gives the session a pairing code
        self.server_url = "https://evo.internal"
        self.route("POST", r"/instance/create", self._create)
        self.route("GET", r"/webhook/find/([^/]+)", self._webhook_find)
        self.route("POST", r"/webhook/set/([^/]+)", self._webhook_set)
        self.route("GET", r"/instance/connect/([^/]+)", self._connect)
        self.route("GET", r"/instance/connectionState/([^/]+)", self._state)
        self.route("GET", r"/instance/fetchInstances", self._fetch_instances)
        self.route("POST", r"/instance/restart/([^/]+)", self._restart)
        self.route("DELETE", r"/instance/logout/([^/]+)", self._logout)
        self.route("DELETE", r"/instance/delete/([^/]+)", self._delete)
        self.route("POST", r"/message/sendText/([^/]+)", self._send_text)
        self.route("POST", r"/chat/findMessages/([^/]+)", self._find_messages)

    # --- auth ----------------------------------------------------------------------------------------------

    def _unauthorized(self):
        return reply(401, {"status": 401, "error": "Unauthorized", "response": {"message": "Unauthorized"}})

    def _instance_auth(self, request: Recorded, name: str):
        """Routes with :instanceName accept the global key or that instance's own token."""
        instance = self.instances.get(name)
        key = request.header("apikey")
        if key != self.api_key and (instance is None or key != instance.token):
            return None, self._unauthorized()
        if instance is None:
            return None, _not_found(name)
        return instance, None

    # --- lifecycle -----------------------------------------------------------------------------------------

    def _create(self, request: Recorded):
        if request.header("apikey") != self.api_key:
            return self._unauthorized()
        body = request.json or {}
        if body.get("integration") not in VALID_INTEGRATIONS:
            return reply(400, {"status": 400, "error": "Bad Request", "response": {"message": ["Invalid integration"]}})
        name = body["instanceName"]
        if name in self.instances:
            return reply(
                403,
                {
                    "status": 403,
                    "error": "Forbidden",
                    "response": {"message": [f'This name "{name}" is already in use.']},
                },
            )
        token = body.get("token") or secrets.token_hex(16).upper()
        webhook = {} if self.ignore_webhook_on_create else dict(body.get("webhook") or {})
        instance = EvoInstance(name=name, token=token, instance_id=str(uuid.uuid4()), webhook=webhook)
        self.instances[name] = instance
        return reply(
            201,
            {
                "instance": {
                    "instanceName": name,
                    "instanceId": instance.instance_id,
                    "integration": body["integration"],
                    "status": "connecting",
                },
                "hash": token,
                "webhook": {
                    "webhookUrl": webhook.get("url", ""),
                    "webhookHeaders": webhook.get("headers", {}),
                    "webhookByEvents": webhook.get("byEvents", False),
                    "webhookBase64": webhook.get("base64", False),
                },
                "settings": {
                    "rejectCall": body.get("rejectCall", False),
                    "groupsIgnore": body.get("groupsIgnore", False),
                },
            },
        )

    def _webhook_find(self, request: Recorded, name: str):
        instance, error = self._instance_auth(request, name)
        if error:
            return error
        webhook = instance.webhook
        if not webhook:
            return reply(200, None)
        return reply(
            200,
            {
                "id": "wh1",
                "url": webhook.get("url"),
                "headers": webhook.get("headers", {}),
                "enabled": True,
                "events": webhook.get("events", []),
                "webhookByEvents": webhook.get("byEvents", False),
                "webhookBase64": webhook.get("base64", False),
            },
        )

    def _webhook_set(self, request: Recorded, name: str):
        instance, error = self._instance_auth(request, name)
        if error:
            return error
        webhook = (request.json or {}).get("webhook")
        if not isinstance(webhook, dict) or "enabled" not in webhook or "url" not in webhook:
            return reply(400, {"status": 400, "error": "Bad Request", "response": {"message": ["webhook is required"]}})
        instance.webhook = {k: v for k, v in webhook.items() if k != "enabled"}
        return reply(201, {"webhook": webhook})

    def _connect(self, request: Recorded, name: str):
        """As 2.3.x's InstanceController.connectToWhatsapp: ``open`` answers the state; ``close`` starts a session
        (with ``number`` for a pairing code) and answers its QR before the code exists (Baileys asks for it about a
        second after the QR); ``connecting`` ignores ``number`` and answers the current QR and code, if any."""
        instance, error = self._instance_auth(request, name)
        if error:
            return error
        if instance.state == "open":
            return reply(200, {"instance": {"instanceName": name, "state": "open"}})
        if instance.state == "close":
            instance.state = "connecting"
            instance.pairing_number = request.params.get("number", "")
            instance.pairing_code = ""
            if not self.qr_ready:
                return reply(200, {"count": 0})
            instance.qr_count += 1
        elif instance.pairing_number and not instance.pairing_code and self.pairing_code_ready:
            instance.pairing_code = "WZYEH1YY"
        if not self.qr_ready:
            return reply(200, {"count": 0})
        return reply(
            200,
            {
                "pairingCode": instance.pairing_code or None,
                "code": f"2@fakeqr{instance.qr_count},{name}",
                "base64": "data:image/png;base64,iVBORw0KGgo=",
                "count": instance.qr_count,
            },
        )

    def _state(self, request: Recorded, name: str):
        instance, error = self._instance_auth(request, name)
        if error:
            return error
        return reply(200, {"instance": {"instanceName": name, "state": instance.state}})

    def _fetch_instances(self, request: Recorded):
        name = request.params.get("instanceName", "")
        instance = self.instances.get(name)
        key = request.header("apikey")
        if key != self.api_key and (instance is None or key != instance.token):
            return self._unauthorized()
        rows = [instance] if instance else list(self.instances.values())
        return reply(
            200,
            [
                {
                    "id": i.instance_id,
                    "name": i.name,
                    "connectionStatus": i.state,
                    "ownerJid": f"{i.owner_phone.lstrip('+')}@s.whatsapp.net" if i.owner_phone else None,
                    "profileName": i.profile_name or None,
                    "integration": "WHATSAPP-BAILEYS",
                    "number": None,
                    "token": i.token,
                }
                for i in rows
            ],
        )

    def _restart(self, request: Recorded, name: str):
        instance, error = self._instance_auth(request, name)
        if error:
            return error
        if instance.state == "close":
            # The controller catches the plain object it threw itself and answers 200.
            return reply(200, {"error": True, "message": "[object Object]"})
        return reply(200, {"instance": {"instanceName": name, "state": instance.state}})

    def _logout(self, request: Recorded, name: str):
        instance, error = self._instance_auth(request, name)
        if error:
            return error
        if instance.state == "close":  # a connecting (unpaired) session can be logged out too
            return reply(
                400,
                {
                    "status": 400,
                    "error": "Bad Request",
                    "response": {"message": [f'The "{name}" instance is not connected']},
                },
            )
        instance.state = "close"
        instance.pairing_number = instance.pairing_code = ""
        return reply(200, {"status": "SUCCESS", "error": False, "response": {"message": "Instance logged out"}})

    def _delete(self, request: Recorded, name: str):
        _, error = self._instance_auth(request, name)
        if error:
            return error
        del self.instances[name]
        return reply(200, {"status": "SUCCESS", "error": False, "response": {"message": "Instance deleted"}})

    # --- messages ------------------------------------------------------------------------------------------

    def _send_text(self, request: Recorded, name: str):
        instance, error = self._instance_auth(request, name)
        if error:
            return error
        body = request.json or {}
        number = str(body.get("number", ""))
        if not number or "text" not in body:
            return reply(400, {"status": 400, "error": "Bad Request", "response": {"message": ["number is required"]}})
        if number in self.not_on_whatsapp:
            return reply(
                400,
                {
                    "status": 400,
                    "error": "Bad Request",
                    "response": {"message": [{"jid": f"{number}@s.whatsapp.net", "exists": False, "number": number}]},
                },
            )
        message_id = "3EB0" + secrets.token_hex(8).upper()
        raw = {
            "key": {"remoteJid": f"{number}@s.whatsapp.net", "fromMe": True, "id": message_id},
            "pushName": "Você",
            "status": "PENDING",
            "message": {"conversation": body["text"]},
            "messageType": "conversation",
            "messageTimestamp": int(time.time()),
            "instanceId": instance.instance_id,
            "source": "web",
        }
        instance.messages.append(raw)
        return reply(201, raw)

    def _find_messages(self, request: Recorded, name: str):
        instance, error = self._instance_auth(request, name)
        if error:
            return error
        body = request.json or {}
        window = (body.get("where") or {}).get("messageTimestamp") or {}
        records = list(instance.messages)
        if window.get("gte") and window.get("lte"):  # applied only when both are given
            gte = dt.datetime.fromisoformat(window["gte"].replace("Z", "+00:00")).timestamp()
            lte = dt.datetime.fromisoformat(window["lte"].replace("Z", "+00:00")).timestamp()
            records = [r for r in records if gte <= r["messageTimestamp"] <= lte]
        records.sort(key=lambda r: r["messageTimestamp"], reverse=True)
        size = int(body.get("offset") or 50)
        page = int(body.get("page") or 1)
        pages = max(1, -(-len(records) // size))
        chunk = records[(page - 1) * size : page * size]
        return reply(200, {"messages": {"total": len(records), "pages": pages, "currentPage": page, "records": chunk}})

    # --- webhooks Evolution would post --------------------------------------------------------------------

    def callback(self, name: str, event: str, data: Any, *, date_time: str = "2025-07-27T08:14:17.120Z") -> Callback:
        instance = self.instances[name]
        envelope = {
            "event": event,
            "instance": name,
            "data": data,
            "destination": instance.webhook.get("url", ""),
            "date_time": date_time,
            "sender": f"{instance.owner_phone.lstrip('+')}@s.whatsapp.net" if instance.owner_phone else None,
            "server_url": self.server_url,
            "apikey": None,
        }
        headers = {"Content-Type": "application/json"}
        headers.update(self.webhook_headers(name))
        return Callback(body=json.dumps(envelope).encode(), headers=headers)

    def webhook_headers(self, name: str, *, issued_at: int | None = None) -> dict[str, str]:
        """Custom headers are sent as they are, except ``jwt_key``, which becomes a Bearer JWT (+600 s)."""
        instance = self.instances[name]
        headers = dict(instance.webhook.get("headers") or {})
        secret = headers.pop("jwt_key", None)
        if secret:
            iat = issued_at if issued_at is not None else int(time.time())
            token = sign_hs256_jwt(
                {"iat": iat, "exp": iat + 600, "app": "evolution", "action": "webhook"}, secret=secret
            )
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def pair(self, name: str, *, phone: str, profile_name: str = "Acme") -> Callback:
        """The phone scanned the QR code: the instance opens and Evolution posts connection.update."""
        instance = self.instances[name]
        instance.state, instance.owner_phone, instance.profile_name = "open", phone, profile_name
        return self.callback(
            name,
            "connection.update",
            {
                "instance": name,
                "wuid": f"{phone.lstrip('+')}@s.whatsapp.net",
                "profileName": profile_name,
                "profilePictureUrl": None,
                "state": "open",
                "statusReason": 200,
            },
        )

    def qr_callback(self, name: str) -> Callback:
        instance = self.instances[name]
        instance.qr_count += 1
        return self.callback(
            name,
            "qrcode.updated",
            {
                "qrcode": {
                    "instance": name,
                    "pairingCode": None,
                    "code": f"2@fakeqr{instance.qr_count},{name}",
                    "base64": "data:image/png;base64,iVBORw0KGgo=",
                }
            },
        )

    def status_callback(self, name: str, message_id: str, status: str) -> Callback:
        instance = self.instances[name]
        sent = next(m for m in instance.messages if m["key"]["id"] == message_id)
        sent["status"] = status
        remote = sent["key"]["remoteJid"]
        return self.callback(
            name,
            "messages.update",
            {
                "keyId": message_id,
                "remoteJid": remote,
                "fromMe": True,
                "participant": remote,
                "status": status,
                "instanceId": instance.instance_id,
                "messageId": "cm" + secrets.token_hex(10),
            },
        )

    def inbound(self, name: str, *, phone: str, text: str, push_name: str = "Maria", record: bool = True) -> Callback:
        """A person writes to the paired number; the message also lands in the history (findMessages)."""
        instance = self.instances[name]
        raw = {
            "key": {
                "remoteJid": f"{phone.lstrip('+')}@s.whatsapp.net",
                "fromMe": False,
                "id": "3A" + secrets.token_hex(9).upper(),
            },
            "pushName": push_name,
            "status": "DELIVERY_ACK",
            "message": {"conversation": text},
            "messageType": "conversation",
            "messageTimestamp": int(time.time()),
            "instanceId": instance.instance_id,
            "source": "android",
        }
        if record:
            instance.messages.append(raw)
        return self.callback(name, "messages.upsert", raw)
