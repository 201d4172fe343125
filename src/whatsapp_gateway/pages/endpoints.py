"""The endpoint map shown on /docs (docs/api.md "Routes")."""

from __future__ import annotations

ENDPOINT_MAP: list[tuple[str, str, str, str]] = [
    ("GET", "/", "anyone", "Landing page for browsers; health JSON for Accept: application/json."),
    ("GET", "/healthz", "operator", "Liveness: the process answers."),
    ("GET", "/readyz", "operator", "Readiness: database and job queue reachable (503 otherwise)."),
    (
        "POST",
        "/api/send-message",
        "your systems, Bearer API key",
        "Guarded send of one WhatsApp text message.",
    ),
    (
        "GET",
        "/api/messages/{message_id}",
        "your systems, Bearer API key",
        "Status and history of one message.",
    ),
    ("GET", "/openapi.json", "anyone", "OpenAPI description of the public API."),
    ("GET", "/api/docs", "anyone", "Interactive API reference."),
    ("POST", "/integrations/3cx/webhook/{integration_id}", "3CX", "Agent replies and call events from 3CX."),
    ("GET", "/docs/webhooks", "anyone", "Webhook events, payloads and signature verification."),
    ("GET", "/docs/sdk/python", "anyone", "The Python client: install, send, errors, retries, webhook verification."),
    ("GET", "/docs/responsible-messaging", "anyone", "Purposes, limits, the guard and its error codes."),
    ("GET", "/acceptable-use", "anyone", "What the gateway may and may not be used for."),
    ("portal", "/instances", "signed-in users", "Connect WhatsApp numbers; manage page with tabs."),
    ("portal", "/api-keys", "signed-in users", "Create (shown once), scope and revoke API keys."),
    (
        "portal",
        "/suppressed-recipients",
        "signed-in users",
        "Opt-outs and blocked numbers; CSV import/export.",
    ),
    ("portal", "/inbound-logs", "signed-in users", "Messages customers sent to your numbers."),
    ("portal", "/integrations/3cx", "signed-in users", "3CX integration settings."),
]
