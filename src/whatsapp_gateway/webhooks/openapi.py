"""The customer webhooks in ``/openapi.json``: an OpenAPI 3.1 ``webhooks`` entry per event type, generated from the
catalogue, with the payload schema, one example and the signature headers (docs/api.md "Webhooks")."""

from __future__ import annotations

from typing import Any

from whatsapp_gateway.webhooks.catalogue import COMMON_FIELDS, EVENT_TYPES, OPTIONAL_FIELDS, Field

SIGNATURE_DESCRIPTION = (
    "Every request is signed twice with the endpoint's secret `whsec_…`. "
    "`X-WhatsApp-Gateway-Signature: sha256=<hex HMAC-SHA256(key = the secret string as shown, "
    'msg = X-WhatsApp-Gateway-Timestamp + "." + raw body)>`; and Standard Webhooks `webhook-id` (= `event_id`, '
    "stable across retries), `webhook-timestamp`, `webhook-signature: v1,<base64>` (verify with the "
    "`standardwebhooks` library). During a 24 h secret rotation both secrets sign: two space-separated `v1,` "
    "entries and two comma-separated `sha256=` values. Answer 2xx within 15 s; see /docs/webhooks for retries."
)

_TYPES = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "object": {"type": "object"},
    "array": {"type": "array"},
}


def _field_schema(field: Field) -> dict[str, Any]:
    kinds = field.type.split("|")
    schema: dict[str, Any] = {"description": field.description}
    types = [_TYPES.get(k, {"type": "string"})["type"] for k in kinds if k != "null"]
    schema["type"] = [*types, "null"] if "null" in kinds else (types[0] if len(types) == 1 else types)
    if "array" in kinds:
        schema["items"] = {"type": "string"}  # the catalogue's lists are lists of ids or numbers
    return schema


def _header(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": True, "schema": {"type": "string"}, "description": description}


HEADERS = [
    _header("X-WhatsApp-Gateway-Event", "The event type."),
    _header("X-WhatsApp-Gateway-Timestamp", "Unix seconds of this attempt."),
    _header("X-WhatsApp-Gateway-Signature", "sha256=<hex>; two comma-separated values during a rotation."),
    _header("webhook-id", "The event id (evt_…), the same on every retry."),
    _header("webhook-timestamp", "Unix seconds of this attempt."),
    _header("webhook-signature", "v1,<base64>; two space-separated entries during a rotation."),
]


def add_webhooks(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    webhooks = schema.setdefault("webhooks", {})
    for spec in EVENT_TYPES:
        name = "WebhookEvent_" + spec.name.replace(".", "_")
        fields = (*COMMON_FIELDS, *spec.fields)
        components[name] = {
            "type": "object",
            "title": spec.name,
            "description": spec.description,
            "properties": {f.name: _field_schema(f) for f in fields},
            "required": [f.name for f in fields if f.name not in OPTIONAL_FIELDS],
            "examples": [spec.example],
        }
        webhooks[spec.name] = {
            "post": {
                "summary": spec.description,
                "description": SIGNATURE_DESCRIPTION,
                "tags": ["Webhooks"],
                "parameters": HEADERS,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{name}"},
                            "example": spec.example,
                        }
                    },
                },
                "responses": {"2XX": {"description": "Received. Anything else (or no answer in 15 s) is retried."}},
            }
        }
