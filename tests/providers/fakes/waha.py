"""A local fake of WAHA (docs/providers.md "WAHA"): sessions, session-scoped keys, QR / pairing code,
check-exists, sendText (WEBJS response shape), LID lookup, chat history, and the HMAC-SHA512-signed webhooks
WAHA posts (``X-Webhook-Hmac``, ``X-Webhook-Hmac-Algorithm``, ``X-Webhook-Request-Id``, ``X-Webhook-Timestamp``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from tests.providers.fakes.base import Callback, FakeApi, Recorded, reply


@dataclass
class WahaSession:
    name: str
    config: dict[str, Any]
    status: str = "STOPPED"
    me: dict[str, Any] | None = None
    lids: dict[str, str | None] = field(default_factory=dict)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # chatId -> messages

    def hmac_key(self) -> str:
        return ((self.config.get("webhooks") or [{}])[0].get("hmac") or {}).get("key", "")


class FakeWaha(FakeApi):
    base_url = "http://waha.test"

    def __init__(self, api_key: str = "waha-master-key") -> None:
        super().__init__()
        self.api_key = api_key
        self.sessions: dict[str, WahaSession] = {}
        self.keys: dict[str, dict[str, Any]] = {}
        self.keys_api = True
        self.not_on_whatsapp: set[str] = set()
        self.chat_id_rewrites: dict[str, str] = {}  # digits -> chatId check-exists answers (Brazil's 9th digit)
        self._event = 0
        self.route("POST", r"/api/sessions", self._create)
        self.route("GET", r"/api/sessions/([^/]+)", self._get)
        self.route("POST", r"/api/sessions/([^/]+)/(start|stop|restart|logout)", self._action)
        self.route("DELETE", r"/api/sessions/([^/]+)", self._delete)
        self.route("POST", r"/api/keys", self._create_key)
        self.route("DELETE", r"/api/keys/([^/]+)", self._delete_key)
        self.route("GET", r"/api/([^/]+)/auth/qr", self._qr)
        self.route("POST", r"/api/([^/]+)/auth/request-code", self._request_code)
        self.route("GET", r"/api/contacts/check-exists", self._check_exists)
        self.route("POST", r"/api/sendText", self._send_text)
        self.route("GET", r"/api/([^/]+)/lids/([^/]+)", self._lid)
        self.route("GET", r"/api/([^/]+)/chats/overview", self._overview)
        self.route("GET", r"/api/([^/]+)/chats/([^/]+)/messages", self._chat_messages)

    # --- auth ----------------------------------------------------------------------------------------------

    def _allowed(self, request: Recorded, session: str | None, action: str | None) -> bool:
        key = request.header("x-api-key")
        if key == self.api_key:
            return True
        record = next((k for k in self.keys.values() if k["key"] == key), None)
        if record is None or not record["isActive"] or record["session"] != session:
            return False
        return action is None or bool((record["actions"] or {}).get(action))

    def _unauthorized(self):
        return reply(401, {"message": "Unauthorized", "statusCode": 401})

    def _session(self, request: Recorded, name: str, action: str | None = "read"):
        if not self._allowed(request, name, action):
            return None, self._unauthorized()
        session = self.sessions.get(name)
        if session is None:
            return None, reply(404, {"message": f"Session '{name}' does not exist", "statusCode": 404})
        return session, None

    def _session_body(self, session: WahaSession) -> dict[str, Any]:
        return {
            "name": session.name,
            "status": session.status,
            "config": session.config,
            "me": session.me,
            "engine": {"engine": "WEBJS"},
        }

    # --- sessions ------------------------------------------------------------------------------------------

    def _create(self, request: Recorded):
        if request.header("x-api-key") != self.api_key:
            return self._unauthorized()
        body = request.json or {}
        name = body.get("name")
        if name in self.sessions:
            return reply(422, {"message": f"Session '{name}' already exists", "statusCode": 422})
        session = WahaSession(name=name, config=body.get("config") or {})
        session.status = "STARTING" if body.get("start", True) else "STOPPED"
        self.sessions[name] = session
        return reply(201, self._session_body(session))

    def _get(self, request: Recorded, name: str):
        session, error = self._session(request, name)
        return error or reply(200, self._session_body(session))

    def _action(self, request: Recorded, name: str, action: str):
        session, error = self._session(request, name, "control")
        if error:
            return error
        if action in ("start", "restart"):
            session.status = "WORKING" if session.me else "SCAN_QR_CODE"
        elif action == "stop":
            session.status = "STOPPED"
        elif action == "logout":
            session.me, session.status = None, "SCAN_QR_CODE"
        return reply(201, self._session_body(session))

    def _delete(self, request: Recorded, name: str):
        _, error = self._session(request, name, "delete")
        if error:
            return error
        del self.sessions[name]
        return reply(200, None)

    def _create_key(self, request: Recorded):
        if not self.keys_api:
            return reply(404, {"message": "Cannot POST /api/keys", "error": "Not Found", "statusCode": 404})
        if request.header("x-api-key") != self.api_key:
            return self._unauthorized()
        body = request.json or {}
        key_id = "key_id_" + secrets.token_hex(8)
        record = {
            "id": key_id,
            "key": "key_" + secrets.token_hex(16),
            "isActive": body.get("isActive", True),
            "isAdmin": body.get("isAdmin", False),
            "session": body.get("session"),
            "actions": body.get("actions"),
        }
        self.keys[key_id] = record
        return reply(201, record)

    def _delete_key(self, request: Recorded, key_id: str):
        if request.header("x-api-key") != self.api_key:
            return self._unauthorized()
        self.keys.pop(key_id, None)
        return reply(200, None)

    def _qr(self, request: Recorded, name: str):
        session, error = self._session(request, name, "control")
        if error:
            return error
        if session.status != "SCAN_QR_CODE":
            return reply(
                422, {"message": f"Session status is not as expected. Status: {session.status}", "statusCode": 422}
            )
        if request.params.get("format") == "raw":
            return reply(200, {"value": f"2@wahaqr,{name}"})
        return reply(200, {"mimetype": "image/png", "data": "iVBORw0KGgo="})

    def _request_code(self, request: Recorded, name: str):
        session, error = self._session(request, name, "control")
        if error:
            return error
        if session.status != "SCAN_QR_CODE":
            return reply(422, {"message": "Session status is not as expected", "statusCode": 422})
        return reply(201, {"code": "ABCD-ABCD"})

    # --- messages ------------------------------------------------------------------------------------------

    def _check_exists(self, request: Recorded):
        name = request.params.get("session", "")
        _, error = self._session(request, name, "read")
        if error:
            return error
        phone = request.params.get("phone", "")
        if phone in self.not_on_whatsapp:
            return reply(200, {"numberExists": False, "chatId": None})
        return reply(200, {"numberExists": True, "chatId": self.chat_id_rewrites.get(phone, f"{phone}@c.us")})

    def _send_text(self, request: Recorded):
        body = request.json or {}
        session, error = self._session(request, body.get("session", ""), "send")
        if error:
            return error
        if session.status != "WORKING":
            return reply(
                422, {"message": f"Session status is not as expected. Status: {session.status}", "statusCode": 422}
            )
        chat_id = body["chatId"]
        message_id = "3EB0" + secrets.token_hex(8).upper()
        serialized = f"true_{chat_id}_{message_id}"
        message = {
            "id": serialized,
            "timestamp": int(time.time()),
            "from": session.me["id"],
            "fromMe": True,
            "to": chat_id,
            "body": body["text"],
            "hasMedia": False,
            "ack": 0,
            "ackName": "PENDING",
            "_data": {},
        }
        session.messages.setdefault(chat_id, []).append(message)
        return reply(
            201, {"id": {"fromMe": True, "remote": chat_id, "id": message_id, "_serialized": serialized}, "_data": {}}
        )

    def _lid(self, request: Recorded, name: str, lid: str):
        session, error = self._session(request, name, "read")
        if error:
            return error
        return reply(200, {"lid": lid, "pn": session.lids.get(lid)})

    def _overview(self, request: Recorded, name: str):
        session, error = self._session(request, name, "read")
        if error:
            return error
        chats = []
        for chat_id, messages in session.messages.items():
            last = max(messages, key=lambda m: m["timestamp"])
            chats.append({"id": chat_id, "name": None, "picture": None, "lastMessage": last, "_chat": {}})
        chats.sort(key=lambda c: c["lastMessage"]["timestamp"], reverse=True)
        return reply(200, chats[: int(request.params.get("limit", 20))])

    def _chat_messages(self, request: Recorded, name: str, chat_id: str):
        session, error = self._session(request, name, "read")
        if error:
            return error
        messages = list(session.messages.get(chat_id, []))
        gte = request.params.get("filter.timestamp.gte")
        if gte:
            messages = [m for m in messages if m["timestamp"] >= int(gte)]
        messages.sort(key=lambda m: m["timestamp"], reverse=True)
        return reply(200, messages[: int(request.params.get("limit", 100))])

    # --- webhooks WAHA would post --------------------------------------------------------------------------

    def callback(self, name: str, event: str, payload: Any, *, timestamp_ms: int | None = None) -> Callback:
        session = self.sessions[name]
        self._event += 1
        stamp = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
        envelope = {
            "id": f"evt_01jfake{self._event:019d}",
            "timestamp": stamp,
            "event": event,
            "session": name,
            "metadata": (session.config.get("metadata") or {}),
            "me": session.me,
            "payload": payload,
            "environment": {"tier": "CORE", "version": "2026.6.1", "engine": "WEBJS"},
            "engine": "WEBJS",
        }
        body = json.dumps(envelope).encode()
        return Callback(body=body, headers=self.sign(name, body, timestamp_ms=stamp))

    def sign(self, name: str, body: bytes, *, timestamp_ms: int | None = None) -> dict[str, str]:
        key = self.sessions[name].hmac_key()
        headers = {
            "Content-Type": "application/json",
            "X-Webhook-Request-Id": secrets.token_hex(8),
            "X-Webhook-Timestamp": str(timestamp_ms or int(time.time() * 1000)),
        }
        if key:
            headers["X-Webhook-Hmac"] = hmac.new(key.encode(), body, hashlib.sha512).hexdigest()
            headers["X-Webhook-Hmac-Algorithm"] = "sha512"
        return headers

    def status_callback(self, name: str, status: str) -> Callback:
        session = self.sessions[name]
        session.status = status
        return self.callback(
            name,
            "session.status",
            {"status": status, "statuses": [{"status": status, "timestamp": int(time.time() * 1000)}], "data": None},
        )

    def pair(self, name: str, *, phone: str, push_name: str = "Acme") -> Callback:
        session = self.sessions[name]
        session.me = {"id": f"{phone.lstrip('+')}@c.us", "pushName": push_name}
        return self.status_callback(name, "WORKING")

    def ack_callback(self, name: str, message_id: str, ack_name: str) -> Callback:
        ack = {"ERROR": -1, "PENDING": 0, "SERVER": 1, "DEVICE": 2, "READ": 3, "PLAYED": 4}[ack_name]
        session = self.sessions[name]
        chat_id, message = next(
            (c, m) for c, ms in session.messages.items() for m in ms if m["id"].endswith(f"_{message_id}")
        )
        message["ack"], message["ackName"] = ack, ack_name
        return self.callback(
            name,
            "message.ack",
            {
                "id": message["id"],
                "from": chat_id,
                "participant": None,
                "fromMe": True,
                "ack": ack,
                "ackName": ack_name,
            },
        )

    def inbound(self, name: str, *, phone: str, text: str, event: str = "message", record: bool = True) -> Callback:
        session = self.sessions[name]
        chat_id = f"{phone.lstrip('+')}@c.us"
        message = {
            "id": f"false_{chat_id}_3A{secrets.token_hex(9).upper()}",
            "timestamp": int(time.time()),
            "from": chat_id,
            "fromMe": False,
            "source": "app",
            "to": session.me["id"] if session.me else None,
            "body": text,
            "hasMedia": False,
            "ack": 1,
            "ackName": "SERVER",
            "vCards": [],
            "replyTo": None,
            "_data": {"notifyName": "Maria", "type": "chat"},
        }
        if record:
            session.messages.setdefault(chat_id, []).append(message)
        return self.callback(name, event, message)
