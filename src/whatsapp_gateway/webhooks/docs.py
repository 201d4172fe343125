"""Content of ``/docs/webhooks``, generated from the catalogue and the engine's constants.

The verification samples live here as plain strings so tests can run them against real signed deliveries
(tests/webhooks/test_docs.py executes the Python and Node.js samples).
"""

from __future__ import annotations

import json
from typing import Any

from whatsapp_gateway.webhooks.catalogue import COMMON_FIELDS, TEST_EVENT, events_by_group
from whatsapp_gateway.webhooks.worker import RETRY_SCHEDULE

PYTHON_SAMPLE = '''\
# pip install standardwebhooks
import hashlib
import hmac
import os
import time

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SECRET = os.environ["WEBHOOK_SECRET"]  # whsec_… from the instance's Webhook tab


def verify_standard(body: bytes, headers: dict) -> dict:
    """Standard Webhooks: checks webhook-signature and a ±5 minute timestamp window; returns the parsed JSON.
    Raises WebhookVerificationError when the request is not from the gateway."""
    return Webhook(SECRET).verify(body, headers)


def verify_seed(body: bytes, headers: dict, tolerance: int = 300) -> bool:
    """X-WhatsApp-Gateway-Signature: sha256=<hex HMAC-SHA256(key=SECRET as shown, msg=timestamp + "." + body)>."""
    h = {k.lower(): v for k, v in headers.items()}
    timestamp = h.get("x-whatsapp-gateway-timestamp", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    # During a secret rotation the header carries two comma-separated values: accept either.
    values = [v.strip().removeprefix("sha256=") for v in h.get("x-whatsapp-gateway-signature", "").split(",")]
    return any(hmac.compare_digest(v, expected) for v in values)


# Flask example: use the raw body, answer 2xx fast, deduplicate on webhook-id (= event_id).
# @app.post("/whatsapp-webhook")
# def receive():
#     try:
#         event = verify_standard(request.get_data(), dict(request.headers))
#     except WebhookVerificationError:
#         return "bad signature", 401
#     queue_for_processing(event)
#     return "", 204
'''

NODE_SAMPLE = """\
// Node.js 18+, no dependencies (or: npm install standardwebhooks; new Webhook(secret).verify(body, headers)).
// Pass the raw body as a Buffer, e.g. express.raw({ type: "application/json" }); header names in lower case.
const crypto = require("crypto");
const SECRET = process.env.WEBHOOK_SECRET; // whsec_… from the instance's Webhook tab

function fresh(timestamp, toleranceSeconds = 300) {
  return /^[0-9]+$/.test(timestamp || "") && Math.abs(Date.now() / 1000 - Number(timestamp)) <= toleranceSeconds;
}

function sameBytes(a, b) {
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

// Standard Webhooks: HMAC-SHA256 over "<webhook-id>.<webhook-timestamp>.<body>" keyed with the base64 part of the secret.
function verifyStandard(rawBody, headers) {
  const id = headers["webhook-id"], ts = headers["webhook-timestamp"], signatures = headers["webhook-signature"];
  if (!id || !signatures || !fresh(ts)) return false;
  const key = Buffer.from(SECRET.replace(/^whsec_/, ""), "base64");
  const expected = crypto.createHmac("sha256", key).update(`${id}.${ts}.`).update(rawBody).digest();
  return signatures.split(" ").some((entry) => {
    const [version, signature] = entry.split(",");
    return version === "v1" && sameBytes(Buffer.from(signature || "", "base64"), expected);
  });
}

// Seed header: sha256=<hex HMAC-SHA256 over "<timestamp>.<body>" keyed with the secret string as shown>.
function verifySeed(rawBody, headers) {
  const ts = headers["x-whatsapp-gateway-timestamp"], header = headers["x-whatsapp-gateway-signature"];
  if (!header || !fresh(ts)) return false;
  const expected = Buffer.from(crypto.createHmac("sha256", SECRET).update(`${ts}.`).update(rawBody).digest("hex"));
  // During a secret rotation the header carries two comma-separated values: accept either.
  return header.split(",").some((value) => sameBytes(Buffer.from(value.trim().replace(/^sha256=/, "")), expected));
}

module.exports = { verifyStandard, verifySeed };
"""

PHP_SAMPLE = """\
<?php
// PHP 7.4+, no dependencies.
// $body = file_get_contents('php://input'); $headers = array_change_key_case(getallheaders(), CASE_LOWER);
$secret = getenv('WEBHOOK_SECRET'); // whsec_… from the instance's Webhook tab

function wg_fresh(string $ts, int $tolerance = 300): bool {
    return ctype_digit($ts) && abs(time() - (int) $ts) <= $tolerance;
}

// Standard Webhooks: HMAC-SHA256 over "<webhook-id>.<webhook-timestamp>.<body>" keyed with the base64 part of the secret.
function wg_verify_standard(string $secret, string $body, array $headers): bool {
    $id = $headers['webhook-id'] ?? '';
    $ts = $headers['webhook-timestamp'] ?? '';
    if ($id === '' || !wg_fresh($ts)) return false;
    $key = base64_decode(preg_replace('/^whsec_/', '', $secret));
    $expected = base64_encode(hash_hmac('sha256', "$id.$ts.$body", $key, true));
    foreach (explode(' ', $headers['webhook-signature'] ?? '') as $entry) {
        [$version, $signature] = array_pad(explode(',', $entry, 2), 2, '');
        if ($version === 'v1' && hash_equals($expected, $signature)) return true;
    }
    return false;
}

// Seed header: sha256=<hex HMAC-SHA256 over "<timestamp>.<body>" keyed with the secret string as shown>.
function wg_verify_seed(string $secret, string $body, array $headers): bool {
    $ts = $headers['x-whatsapp-gateway-timestamp'] ?? '';
    if (!wg_fresh($ts)) return false;
    $expected = hash_hmac('sha256', "$ts.$body", $secret);
    // During a secret rotation the header carries two comma-separated values: accept either.
    foreach (explode(',', $headers['x-whatsapp-gateway-signature'] ?? '') as $value) {
        if (hash_equals($expected, preg_replace('/^sha256=/', '', trim($value)))) return true;
    }
    return false;
}
"""

SAMPLES = [("python", "Python", PYTHON_SAMPLE), ("node", "Node.js", NODE_SAMPLE), ("php", "PHP", PHP_SAMPLE)]


def pretty_json(payload: Any) -> str:
    return json.dumps(payload, indent=2, ensure_ascii=False)


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h" + (f" {rest // 60} min" if rest else "")


def retry_rows() -> list[dict[str, Any]]:
    rows = [{"attempt": 1, "delay": "immediately", "elapsed": "0 s"}]
    elapsed = 0
    for number, delay in enumerate(RETRY_SCHEDULE, start=2):
        elapsed += delay
        rows.append({"attempt": number, "delay": _duration(delay), "elapsed": _duration(elapsed)})
    return rows


URL_RULES = [
    "The URL must use https:// (plain http:// and private addresses are accepted only when the operator runs the "
    "gateway in development mode with GATEWAY_ALLOW_PRIVATE_WEBHOOKS=1).",
    "Port 443, 8443 or 1024–65535.",
    "No user name or password in the URL, no #fragment. Authenticate requests with the signatures instead.",
    "The host is resolved before every attempt and every address must be public: loopback (127.0.0.0/8, ::1), "
    "private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local and cloud metadata (169.254.0.0/16, fe80::/10), "
    "CGNAT (100.64.0.0/10), multicast, reserved, unspecified (0.0.0.0, ::) and IPv4-mapped IPv6 (::ffff:…) "
    "addresses are refused.",
    "Numeric host tricks (2130706433, 0x7f.0.0.1, 0177.0.0.1, 127.1) are refused; write IP addresses as a.b.c.d.",
    "The connection goes to the address that was checked, so a second DNS answer cannot redirect it.",
    "Redirects are never followed: a 3xx answer is a failed attempt. Update the URL instead.",
    "A URL that breaks these rules is rejected in the form; if its DNS later points somewhere private, the "
    "delivery is recorded as blocked, with the reason, and not retried (resend it after fixing the URL). A host "
    "name that does not resolve at that moment is a failed attempt and is retried on the schedule.",
]


def example_headers() -> list[tuple[str, str]]:
    return [
        ("Content-Type", "application/json"),
        ("User-Agent", "WhatsAppGateway-Webhooks/0.1.0"),
        ("X-WhatsApp-Gateway-Event", "message.received"),
        ("X-WhatsApp-Gateway-Timestamp", "1795514400"),
        ("X-WhatsApp-Gateway-Signature", "sha256=5f1c…e9 (64 hex characters)"),
        ("webhook-id", "evt_0b3kq9x2m4v7n8p1r5t6"),
        ("webhook-timestamp", "1795514400"),
        ("webhook-signature", "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="),
    ]


def docs_context() -> dict[str, Any]:
    groups = [
        (group, [{"spec": e, "example": pretty_json(e.example)} for e in events]) for group, events in events_by_group()
    ]
    return {
        "event_groups": groups,
        "common_fields": COMMON_FIELDS,
        "samples": SAMPLES,
        "retry_rows": retry_rows(),
        "url_rules": URL_RULES,
        "example_headers": example_headers(),
        "test_event": TEST_EVENT,
    }
