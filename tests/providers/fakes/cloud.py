"""A local fake of the Meta Graph API for the WhatsApp Cloud API (docs/providers.md "Meta WhatsApp Cloud API"):
phone number lookup, per-number webhook override, the messages endpoint with Graph error envelopes, and the
``X-Hub-Signature-256``-signed webhooks Meta posts. It tracks each recipient's 24-hour customer service window:
free-form messages outside it are accepted, then fail with error 131047 in the status webhook, as Meta does.

Templates, as Meta documents them: ``GET /{waba-id}/message_templates`` pages with ``paging.cursors.after`` and
``paging.next``; ``type: "template"`` messages are delivered outside the window, and refused synchronously for a
template that does not exist in that language (132001), is paused (132015) or disabled (132016), or gets the wrong
number of body parameters (132000, "body: number of localizable_params (0) does not match the expected number of
params (1)").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from tests.providers.fakes.base import Callback, FakeApi, Recorded, reply

WABA_ID = "102290129340398"


@dataclass
class PhoneNumber:
    id: str
    display_phone_number: str
    verified_name: str = "Acme Support"
    code_verification_status: str = "VERIFIED"
    quality_rating: str = "GREEN"
    platform_type: str = "CLOUD_API"
    override_callback_uri: str = ""
    override_verify_token: str = ""


def graph_error(status: int, code: int, message: str, *, subcode: int | None = None, details: str = ""):
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf"}
    if subcode is not None:
        error["error_subcode"] = subcode
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return reply(status, {"error": error})


class FakeCloud(FakeApi):
    base_url = "http://graph.test"

    def __init__(
        self, *, token: str = "operator-cloud-token", app_secret: str = "operator-app-secret", version: str = "v25.0"
    ) -> None:
        super().__init__()
        self.tokens = {token}
        self.app_secret = app_secret
        self.version = version
        self.numbers: dict[str, PhoneNumber] = {}
        self.last_inbound: dict[str, float] = {}  # recipient digits -> when they last wrote
        self.sent: dict[str, dict[str, Any]] = {}
        self.route("GET", rf"/{version}/(\d+)", self._get_number)
        self.route("POST", rf"/{version}/(\d+)", self._update_number)
        self.route("POST", rf"/{version}/(\d+)/messages", self._send)
        self.route("GET", rf"/{version}/(\d+)/message_templates", self._list_templates)
        self.templates: dict[str, list[dict[str, Any]]] = {WABA_ID: []}  # WhatsApp Business account -> templates

    def add_number(
        self, number_id: str = "106540352242922", display: str = "+1 555-078-3881", **fields: Any
    ) -> PhoneNumber:
        number = PhoneNumber(id=number_id, display_phone_number=display, **fields)
        self.numbers[number_id] = number
        return number

    def add_template(
        self,
        name: str,
        body: str,
        *,
        language: str = "en",
        category: str = "UTILITY",
        status: str = "APPROVED",
        waba_id: str = WABA_ID,
        rejected_reason: str = "NONE",
    ) -> dict[str, Any]:
        template = {
            "name": name,
            "language": language,
            "status": status,
            "category": category,
            "id": str(secrets.randbelow(10**15) + 10**15),
            "rejected_reason": rejected_reason,
            "components": [{"type": "BODY", "text": body}],
        }
        self.templates.setdefault(waba_id, []).append(template)
        return template

    def _list_templates(self, request: Recorded, waba_id: str):
        error = self._auth(request)
        if error:
            return error
        if waba_id not in self.templates:
            return self._unknown(waba_id)
        items = self.templates[waba_id]
        limit = int(request.params.get("limit") or 25)
        start = int(request.params["after"].removeprefix("QVFIU")) if request.params.get("after") else 0
        page = items[start : start + limit]
        fields = (request.params.get("fields") or "name,language,status,category,id").split(",")
        body: dict[str, Any] = {
            "data": [{k: v for k, v in t.items() if k in fields} for t in page],
            "paging": {"cursors": {"before": f"QVFIU{start}", "after": f"QVFIU{start + len(page)}"}},
        }
        if start + len(page) < len(items):
            body["paging"]["next"] = (
                f"{self.base_url}/{self.version}/{waba_id}/message_templates?limit={limit}&after=QVFIU{start + limit}"
            )
        return reply(200, body)

    def _template_error(self, body: dict[str, Any]):
        """Meta's synchronous refusals of a template message, or ``None`` with the rendered body text."""
        template = body.get("template") or {}
        name, language = template.get("name"), (template.get("language") or {}).get("code")
        found = next(
            (t for items in self.templates.values() for t in items if (t["name"], t["language"]) == (name, language)),
            None,
        )
        if found is None or found["status"] in ("REJECTED", "PENDING"):
            return graph_error(
                404,
                132001,
                "(#132001) Template name does not exist in the translation",
                details=f"template name ({name}) does not exist in {language}",
            ), ""
        if found["status"] == "PAUSED":
            return graph_error(400, 132015, "(#132015) Template is Paused", details="Template is paused."), ""
        if found["status"] == "DISABLED":
            return graph_error(400, 132016, "(#132016) Template is disabled", details="Template is disabled."), ""
        text = next(c["text"] for c in found["components"] if c["type"] == "BODY")
        expected = len(set(re.findall(r"\{\{(\d+)\}\}", text)))
        body_parts = [c for c in template.get("components") or [] if c.get("type") == "body"]
        values = [p.get("text", "") for p in (body_parts[0].get("parameters") or [])] if body_parts else []
        if len(values) != expected:
            return graph_error(
                400,
                132000,
                "(#132000) Number of parameters does not match the expected number of params",
                details=f"body: number of localizable_params ({len(values)}) does not match the expected number of "
                f"params ({expected})",
            ), ""
        return None, re.sub(r"\{\{(\d+)\}\}", lambda m: values[int(m.group(1)) - 1], text)

    def _auth(self, request: Recorded):
        authorization = request.header("authorization") or ""
        if not authorization.startswith("Bearer ") or authorization[7:] not in self.tokens:
            return graph_error(401, 190, "Error validating access token: Session has expired.", subcode=463)
        return None

    def _unknown(self, number_id: str):
        return graph_error(
            400,
            100,
            f"Unsupported get request. Object with ID '{number_id}' does not exist, cannot be loaded due to missing "
            "permissions, or does not support this operation.",
            subcode=33,
        )

    def _get_number(self, request: Recorded, number_id: str):
        error = self._auth(request)
        if error:
            return error
        number = self.numbers.get(number_id)
        if number is None:
            return self._unknown(number_id)
        fields = (request.params.get("fields") or "id").split(",")
        body = {"id": number.id}
        for name in fields:
            if hasattr(number, name) and name != "id":
                body[name] = getattr(number, name)
        return reply(200, body)

    def _update_number(self, request: Recorded, number_id: str):
        error = self._auth(request)
        if error:
            return error
        number = self.numbers.get(number_id)
        if number is None:
            return self._unknown(number_id)
        config = (request.json or {}).get("webhook_configuration") or {}
        number.override_callback_uri = config.get("override_callback_uri", "")
        number.override_verify_token = config.get("verify_token", "")
        return reply(200, {"success": True})

    def _send(self, request: Recorded, number_id: str):
        error = self._auth(request)
        if error:
            return error
        if number_id not in self.numbers:
            return self._unknown(number_id)
        body = request.json or {}
        if body.get("messaging_product") != "whatsapp" or body.get("type") not in ("text", "template"):
            return graph_error(400, 100, "(#100) Invalid parameter")
        to = str(body.get("to", "")).lstrip("+")
        wamid = "wamid.HBgL" + secrets.token_hex(12).upper()
        if body["type"] == "template":
            error, text = self._template_error(body)
            if error is not None:
                return error
            self.sent[wamid] = {"to": to, "number_id": number_id, "text": text, "template": body["template"]["name"]}
        else:
            self.sent[wamid] = {"to": to, "number_id": number_id, "text": (body.get("text") or {}).get("body", "")}
        return reply(
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body.get("to"), "wa_id": to}],
                "messages": [{"id": wamid}],
            },
        )

    def in_window(self, digits: str) -> bool:
        wrote = self.last_inbound.get(digits)
        return wrote is not None and time.time() - wrote < 24 * 3600

    # --- webhooks Meta would post --------------------------------------------------------------------------

    def callback(self, number_id: str, value: dict[str, Any], *, field: str = "messages") -> Callback:
        number = self.numbers[number_id]
        payload = {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": WABA_ID,
                    "changes": [
                        {
                            "field": field,
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "".join(
                                        c for c in number.display_phone_number if c.isdigit()
                                    ),
                                    "phone_number_id": number_id,
                                },
                                **value,
                            },
                        }
                    ],
                }
            ],
        }
        body = json.dumps(payload).encode()
        return Callback(body=body, headers=self.sign(body))

    def sign(self, body: bytes, *, secret: str | None = None) -> dict[str, str]:
        digest = hmac.new((secret or self.app_secret).encode(), body, hashlib.sha256).hexdigest()
        return {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}

    def status_callback(self, wamid: str, status: str) -> Callback:
        """The status Meta reports for a sent message; outside the 24 h window every status is ``failed``."""
        sent = self.sent[wamid]
        entry: dict[str, Any] = {
            "id": wamid,
            "status": status,
            "timestamp": str(int(time.time())),
            "recipient_id": sent["to"],
        }
        if not sent.get("template") and not self.in_window(sent["to"]):  # templates are delivered outside it
            entry["status"] = "failed"
            entry["errors"] = [
                {
                    "code": 131047,
                    "title": "Re-engagement message",
                    "message": "Re-engagement message",
                    "error_data": {
                        "details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."
                    },
                }
            ]
        else:
            entry["conversation"] = {"id": "62d2" + secrets.token_hex(8), "origin": {"type": "service"}}
            entry["pricing"] = {"billable": True, "pricing_model": "CBP", "category": "service"}
        return self.callback(sent["number_id"], {"statuses": [entry]})

    def inbound(self, number_id: str, *, phone: str, text: str, name: str = "Sheena Nelson") -> Callback:
        digits = phone.lstrip("+")
        self.last_inbound[digits] = time.time()
        return self.callback(
            number_id,
            {
                "contacts": [{"profile": {"name": name}, "wa_id": digits}],
                "messages": [
                    {
                        "from": digits,
                        "id": "wamid.HBgL" + secrets.token_hex(12).upper(),
                        "timestamp": str(int(time.time())),
                        "type": "text",
                        "text": {"body": text},
                    }
                ],
            },
        )
