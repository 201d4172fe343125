"""The public 3CX webhook route and its OpenAPI description (docs/api.md "3CX integration").

It lives at ``/integrations/3cx/webhook/{integration_id}``, outside ``/api/``, so it runs on its own small NinjaAPI
that the public API (``whatsapp_gateway.api``) includes in ``/openapi.json``. The body is read raw (signatures are over the exact bytes, the
size cap and the uniform pre-auth answer come before any parsing); the schemas below document both forms.
"""

from __future__ import annotations

from typing import Literal

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from ninja import Field, NinjaAPI, Schema

from whatsapp_gateway.lib.client_ip import client_ip
from whatsapp_gateway.threecx.call_templates import EVENT_TYPES
from whatsapp_gateway.threecx.incoming.handler import webhook_handle
from whatsapp_gateway.threecx.incoming.request import (
    MAX_BODY_BYTES,
    SECRET_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookRequest,
)

threecx_api = NinjaAPI(
    title="WhatsApp Gateway 3CX webhook",
    urls_namespace="threecx_api",
    docs_url=None,
    openapi_url=None,
)

EventTypeName = Literal[tuple(EVENT_TYPES)]  # type: ignore[valid-type]


class ThreeCXNativeIn(Schema):
    """Native JSON (custom middleware, Call Flow Designer apps, the gateway's 3CX CRM template)."""

    event_type: EventTypeName = Field(..., description="One of the ten event types.")  # type: ignore[valid-type]
    to: str | None = Field(
        None,
        description="Customer phone, E.164 (`+9665…`). Aliases, first non-empty wins: "
        "`to`, `from`, `customer_phone`, `caller`, `phone`.",
    )
    message_text: str | None = Field(None, description="Text for `outbound_message`. Alias: `message`. 1–4096 chars.")
    message_purpose: str | None = Field(
        None,
        description="Defaults to `support`. Allowed: transactional, operational, support, internal_team, "
        "authentication. `unknown` and the disallowed purposes are refused (message_purpose_not_allowed).",
    )
    conversation_id: str | None = Field(None, description="The 3CX chat id, logged.")
    agent_extension: str | None = Field(None, description="The agent's extension (`{{agent_extension}}`).")
    instance_id: str | None = Field(
        None, description="Instance public id or name; default: by `did`, else the integration's default instance."
    )
    did: str | None = Field(None, description="The 3CX DID the call or chat came in on (mapped to an instance).")
    queue: str | None = Field(None, description="Queue name or number (`{{queue}}`).")
    call_id: str | None = Field(None, description="3CX call id, if the sender has one (derived otherwise).")
    call_type: str | None = Field(
        None, description="3CX `[CallType]`; `call_ended` with `Missed`/`Notanswered` is treated as `missed_call`."
    )
    call_time: str | None = Field(None, description="ISO 8601 call start (`{{call_time}}`); default: now.")
    is_video: bool | None = Field(None, description="Video call (call events).")


class ThreeCXGenericSmsIn(Schema):
    """Stock 3CX "Generic" SMS provider (a subset of Telnyx Messaging v2), authenticated with the Bearer key."""

    from_: str = Field(..., alias="from", description="The 3CX trunk DID (the business number), E.164.")
    to: str = Field(..., description="The customer, E.164.")
    text: str = Field(..., description="The agent's message, 1–4096 characters.")
    media_urls: list[str] | None = Field(None, description="Attachments; sent as links under the text.")


class ThreeCXGenericSmsData(Schema):
    id: str = Field(..., description="The gateway message id (`msg_…`).")
    record_type: Literal["message"] = "message"
    status: Literal["queued"] = "queued"


class ThreeCXGenericSmsOut(Schema):
    data: ThreeCXGenericSmsData


class ThreeCXWebhookOut(Schema):
    success: Literal[True] = True
    status: str = Field(..., description="`queued`, `logged`, `ok` (test) or `skipped`.")
    event_type: str | None = None
    message_id: str | None = Field(None, description="When a message was queued.")
    log_id: int | None = Field(None, description="The message log number within the account.")
    reason: str | None = Field(None, description="Why it was skipped: `cooldown`, `template_disabled`.")


class ThreeCXErrorOut(Schema):
    success: Literal[False] = False
    error: str = Field(..., description="Error code, e.g. `invalid_3cx_webhook`, `conversation_window_closed`.")
    message: str
    details: dict | None = None


_REQUEST_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    ThreeCXNativeIn.model_json_schema(ref_template="#/components/schemas/{model}"),
                    ThreeCXGenericSmsIn.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}"),
                ]
            },
            "examples": {
                "native": {
                    "summary": "Native JSON: an agent reply",
                    "value": {
                        "event_type": "outbound_message",
                        "to": "+966512345678",
                        "message_text": "Hello, this is Sara from support.",
                        "message_purpose": "support",
                        "conversation_id": "3cx-chat-123",
                        "agent_extension": "101",
                    },
                },
                "missed_call": {
                    "summary": "Native JSON: a missed call (sends the missed-call template)",
                    "value": {"event_type": "missed_call", "caller": "+966512345678", "agent_extension": "101"},
                },
                "generic_sms": {
                    "summary": "Stock 3CX Generic SMS provider (Bearer integration API key)",
                    "value": {"from": "+13052314933", "to": "+966512345678", "text": "Hello"},
                },
            },
        }
    },
}

_HEADERS = [
    {
        "name": SECRET_HEADER,
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": "The integration secret (native JSON form). Compared in constant time.",
    },
    {
        "name": TIMESTAMP_HEADER,
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": "Unix seconds; with the signature. Older or newer than 300 s is rejected.",
    },
    {
        "name": SIGNATURE_HEADER,
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": "`sha256=<hex>` or bare hex of HMAC-SHA256(key = the secret, msg = timestamp + '.' + raw "
        "body). Required when the integration's auth mode is secret + HMAC.",
    },
    {
        "name": "Authorization",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": "`Bearer <integration API key>` (stock 3CX Generic SMS form).",
    },
    {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": "Optional for `outbound_message`: a retry with the same key gets the first answer.",
    },
]

_DESCRIPTION = f"""
Agent replies and call events from 3CX. Two forms share the route:

1. **Native JSON** with header `{SECRET_HEADER}` (optionally signed: `{TIMESTAMP_HEADER}` +
   `{SIGNATURE_HEADER}`), body `{{"event_type": …}}`. Event types: {", ".join(f"`{e}`" for e in EVENT_TYPES)}.
2. **Stock 3CX Generic SMS provider**: `Authorization: Bearer <integration API key>`, body
   `{{"from": "+<3CX DID>", "to": "+<customer>", "text": "…"}}`, answered
   `{{"data": {{"id": "msg_…", "record_type": "message", "status": "queued"}}}}`.

Every pre-auth failure (unknown or disabled integration, wrong secret or key, IP not allowed, stale timestamp, bad
signature) answers the same 401 `invalid_3cx_webhook`. Then: body over {MAX_BODY_BYTES // 1024} KB →
`payload_too_large` 413; over 60 requests a minute per integration → `webhook_rate_limited` 429 (`Retry-After`);
`invalid_json` 400; `module_not_enabled`, `outbound_disabled`, `call_events_disabled` 403; `missing_phone`,
`missing_message_text`, `message_purpose_not_allowed`, `validation_error` 422; `invalid_instance` 404;
`conversation_window_closed` 409 (strict mode: the customer has not written in 24 h); then the send guard's codes,
exactly as `POST /api/send-message`.

Call events with templates (`missed_call`, `voicemail`, `call_ended`, `queue_callback`, `after_hours`) send the
rendered template at most once per 15 minutes per (integration, event type, phone); inside the cooldown the answer is
200 `{{"success": true, "status": "skipped", "reason": "cooldown"}}`. Call events also emit the `call.received` /
`call.missed` customer webhooks. Identical message requests (same sender, recipient and text) within 120 s are
treated as 3CX retries and get the first answer (`Idempotent-Replayed: true`); nothing is sent twice. The same holds
for a call event reported twice (same `call_id`, or same `call_time`, event type and number).
"""


@threecx_api.post(
    "/webhook/{integration_id}",
    response={
        200: ThreeCXWebhookOut | ThreeCXGenericSmsOut,
        202: ThreeCXWebhookOut,
        400: ThreeCXErrorOut,
        401: ThreeCXErrorOut,
        403: ThreeCXErrorOut,
        404: ThreeCXErrorOut,
        409: ThreeCXErrorOut,
        413: ThreeCXErrorOut,
        422: ThreeCXErrorOut,
        429: ThreeCXErrorOut,
        502: ThreeCXErrorOut,
    },
    summary="3CX webhook: agent replies and call events",
    description=_DESCRIPTION,
    tags=["3CX"],
    operation_id="threecx_webhook",
    openapi_extra={"requestBody": _REQUEST_BODY, "parameters": _HEADERS},
)
def threecx_webhook(request: HttpRequest, integration_id: str):
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    too_large = length > MAX_BODY_BYTES
    body: bytes | None = None
    if not too_large:
        try:
            body = request.body
        except RequestDataTooBig:
            too_large = True
    result = webhook_handle(
        WebhookRequest(
            integration_ref=integration_id[:80],
            headers=request.headers,
            body=body,
            client_ip=client_ip(request),
            body_too_large=too_large,
        )
    )
    response = JsonResponse(result.body, status=result.status, json_dumps_params={"ensure_ascii": False})
    for name, value in result.headers.items():
        response[name] = value
    return response
