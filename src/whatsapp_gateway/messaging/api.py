"""``POST /api/send-message`` and ``GET /api/messages/{message_id}`` (docs/api.md "Send a message"). Thin: authenticate, read
the body, call ``send_message``, render."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, JsonResponse
from ninja import Router

from whatsapp_gateway.apikeys.auth import ApiKeyAuth
from whatsapp_gateway.lib import errors
from whatsapp_gateway.lib.client_ip import client_ip
from whatsapp_gateway.lib.text import surrogate_path
from whatsapp_gateway.messaging import policy
from whatsapp_gateway.messaging.idempotency import request_fingerprint
from whatsapp_gateway.messaging.schemas import (
    DryRunOut,
    ErrorOut,
    MessageStatusOut,
    SendAcceptedOut,
    SendMessageIn,
    error_responses,
)
from whatsapp_gateway.messaging.selectors import message_get_for_api, message_status_body
from whatsapp_gateway.messaging.services import message_log_rejection, send_message

router = Router(tags=["Messages"], auth=ApiKeyAuth())

_SEND_ERRORS = [code for code, _, _ in policy.ERROR_TABLE] + [
    "unsupported_media_type",
    "method_not_allowed",
    "sending_disabled",
    "too_many_auth_failures",
]


def read_json_object(request: HttpRequest, *, max_bytes: int = policy.API_BODY_MAX_BYTES) -> dict[str, Any]:
    """The body as a JSON object: size first (before reading it), then the content type, then JSON."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > max_bytes:
        raise errors.PayloadTooLarge(f"The body is over {max_bytes // 1024} KB.", details={"limit": max_bytes})
    body = request.body
    if len(body) > max_bytes:
        raise errors.PayloadTooLarge(f"The body is over {max_bytes // 1024} KB.", details={"limit": max_bytes})
    content_type = (request.content_type or "").lower()
    if content_type != "application/json" and not (
        content_type.startswith("application/") and content_type.endswith("+json")
    ):
        raise errors.UnsupportedMediaType("Send the body as JSON with Content-Type: application/json.")
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise errors.InvalidJson("The body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise errors.InvalidJson("The body must be a JSON object.")
    field = surrogate_path(payload)
    if field is not None:  # a "\ud800" escape: text no database can store
        raise errors.ValidationFailed(f"{field} is not valid Unicode text.", details={"field": field})
    return payload


def inline_schema(schema: Any, defs: dict[str, Any] | None = None) -> Any:
    """A pydantic JSON schema with its ``$defs`` inlined: inside an OpenAPI document ``#/$defs/…`` resolves
    against the document, not the schema, so nested models must not be references."""
    if defs is None and isinstance(schema, dict):
        schema = dict(schema)
        defs = schema.pop("$defs", {})
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return inline_schema(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: inline_schema(v, defs) for k, v in schema.items()}
    if isinstance(schema, list):
        return [inline_schema(v, defs) for v in schema]
    return schema


def _response(body: dict, status: int, headers: dict[str, str]) -> JsonResponse:
    response = JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})
    for name, value in headers.items():
        response[name] = value
    return response


_SEND_EXAMPLES = {
    "transactional": {
        "summary": "A shipping notice",
        "value": {
            "instance_id": "demo-support-line",
            "phone": "+966501234567",
            "message": "Your order #1042 has shipped.",
            "message_purpose": "transactional",
        },
    },
    "template": {
        "summary": "An approved template by name",
        "value": {
            "instance_id": "cloud-line",
            "phone": "+966501234567",
            "template": {"name": "order_shipped", "language": "en", "variables": ["#1042", "Thursday"]},
            "message_purpose": "transactional",
        },
    },
    "dry_run": {
        "summary": "Test a text without sending it",
        "value": {
            "instance_id": "inst_3k9x2m4q8r7t1v5w0y6z",
            "phone": "0501234567",
            "message": "Your code is 482913",
            "message_purpose": "authentication",
            "dry_run": True,
        },
    },
}


@router.post(
    "/send-message",
    response={
        202: SendAcceptedOut,
        200: DryRunOut,
        frozenset({400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 502, 503}): ErrorOut,
    },
    summary="Send one guarded WhatsApp text message",
    description=(
        "Queues one text message after the responsible-messaging guard accepts it (202), or answers the first "
        "guard that blocks it. Messages are sent one at a time per instance with human-like pacing; follow the "
        "status with `GET /api/messages/{message_id}` or the `message.*` webhooks.\n\n"
        "**Idempotency-Key** (optional header, ≤255 characters): the same key with the same body within 24 h "
        "returns the first response again with `Idempotent-Replayed: true`; the same key with a different body "
        "answers 422 `idempotency_key_reused`; while the first request still runs, 409 `idempotency_in_progress`. "
        "Answers a client should retry (429, `instance_not_connected`, 5xx) are not stored.\n\n"
        "**template**: instead of `message`, name an approved utility or authentication template and give its "
        "variables; Meta's templates go out as WhatsApp template messages from their Cloud API instance. A "
        "free-form `message` to a Cloud API recipient who has not written in 24 hours answers 409 "
        "`conversation_window_closed` at once (send a Meta template instead).\n\n"
        "**dry_run**: `true` runs every guard and answers 200 `validated` with the risk score, without queueing, "
        "sending or counting toward any limit.\n\n"
        "Errors, in the order the guards run: "
        + ", ".join(f"`{c}` ({s})" for c, s, _ in policy.ERROR_TABLE)
        + ". Bodies over 64 KB answer 413 before they are parsed; a body that is not sent as `application/json` "
        "answers 415 `unsupported_media_type`."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": inline_schema(SendMessageIn.model_json_schema()),
                    "examples": _SEND_EXAMPLES,
                }
            },
        },
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "A unique key per logical send (e.g. a UUID), kept 24 hours.",
                "schema": {"type": "string", "maxLength": policy.IDEMPOTENCY_KEY_MAX_LENGTH},
            }
        ],
        "responses": {
            202: {
                "description": "Accepted and queued.",
                "headers": {
                    "RateLimit-Policy": {"schema": {"type": "string"}, "description": "The per-number minute policy."},
                    "RateLimit": {"schema": {"type": "string"}, "description": "What is left of it."},
                },
                "content": {
                    "application/json": {
                        "example": {
                            "success": True,
                            "status": "queued",
                            "message_id": "msg_3k9x2m4q8r7t1v5w0y6z",
                            "log_id": 123,
                        }
                    }
                },
            },
            200: {
                "description": "Dry run: every guard passed.",
                "content": {
                    "application/json": {
                        "example": {"success": True, "status": "validated", "risk_score": 0, "reasons": []}
                    }
                },
            },
            **error_responses(_SEND_ERRORS),
        },
    },
)
def send_message_view(request: HttpRequest):
    api_key = request.auth
    ip = client_ip(request)
    try:
        payload = read_json_object(request)
        dry_run = payload.get("dry_run", False)
        if not isinstance(dry_run, bool):
            raise errors.ValidationFailed("dry_run must be true or false.", details={"field": "dry_run"})
    except errors.GatewayError as exc:
        message_log_rejection(account=api_key.account, source="api", error=exc, api_key=api_key, client_ip=ip)
        raise
    idempotency_key = request.headers.get("Idempotency-Key")
    outcome = send_message(
        account=api_key.account,
        instance_ref=payload.get("instance_id"),
        phone=payload.get("phone"),
        text=payload.get("message"),
        template=payload.get("template"),
        purpose=payload.get("message_purpose"),
        source="api",
        api_key=api_key,
        idempotency_key=idempotency_key,
        request_hash=request_fingerprint(payload) if idempotency_key is not None else None,
        dry_run=dry_run,
        client_ip=ip,
    )
    headers = dict(outcome.headers)
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    return _response(outcome.body, outcome.http_status, headers)


@router.get(
    "/messages/{message_id}",
    response={200: MessageStatusOut, frozenset({401, 404}): ErrorOut},
    summary="Status and history of one message",
    description="Any message of your account (accepted, blocked or dry run), by the `message_id` the send returned.",
    openapi_extra={"responses": error_responses(["invalid_api_key", "revoked_api_key", "not_found"])},
)
def message_status_view(request: HttpRequest, message_id: str):
    message = message_get_for_api(api_key=request.auth, public_id=message_id)
    return _response(message_status_body(message), 200, {})
