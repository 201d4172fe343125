"""Both signature schemes, verified by the official standardwebhooks library and an independent seed HMAC."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from whatsapp_gateway.lib.signing import secret_generate, signature_headers, verify_seed_signature


def independent_seed_hmac(secret: str, timestamp: str, body: bytes) -> str:
    # Written from docs/api.md "Signatures" only: key = the secret string as shown, msg = timestamp + "." + raw body.
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def test_it_generates_whsec_secrets_of_32_random_bytes():
    secret = secret_generate()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[len("whsec_") :])) == 32
    assert secret != secret_generate()


def test_standardwebhooks_library_verifies_our_signature():
    secret = secret_generate()
    body = json.dumps({"event": "message.received", "event_id": "evt_1"}).encode()
    ts = int(dt.datetime.now(dt.UTC).timestamp())
    headers = signature_headers([secret], msg_id="evt_1", timestamp=ts, body=body)
    assert Webhook(secret).verify(body, headers) == {"event": "message.received", "event_id": "evt_1"}


def test_standardwebhooks_library_rejects_a_tampered_body():
    secret = secret_generate()
    ts = int(dt.datetime.now(dt.UTC).timestamp())
    headers = signature_headers([secret], msg_id="evt_1", timestamp=ts, body=b'{"a":1}')
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"a":2}', headers)


def test_the_seed_header_matches_an_independent_hmac():
    secret = secret_generate()
    body = b'{"event":"message.sent"}'
    headers = signature_headers([secret], msg_id="evt_2", timestamp=1764000000, body=body)
    assert headers["X-WhatsApp-Gateway-Timestamp"] == "1764000000"
    assert headers["X-WhatsApp-Gateway-Signature"] == independent_seed_hmac(secret, "1764000000", body)


def test_during_rotation_both_secrets_sign_and_each_verifies_alone():
    old, new = secret_generate(), secret_generate()
    body = b'{"event":"message.read"}'
    ts = int(dt.datetime.now(dt.UTC).timestamp())
    headers = signature_headers([new, old], msg_id="evt_3", timestamp=ts, body=body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert all(part.startswith("v1,") for part in headers["webhook-signature"].split(" "))
    Webhook(new).verify(body, headers)
    Webhook(old).verify(body, headers)
    seeds = headers["X-WhatsApp-Gateway-Signature"].split(",")
    assert seeds == [independent_seed_hmac(new, str(ts), body), independent_seed_hmac(old, str(ts), body)]
    assert verify_seed_signature(old, ts, body, headers["X-WhatsApp-Gateway-Signature"])
    assert not verify_seed_signature(secret_generate(), ts, body, headers["X-WhatsApp-Gateway-Signature"])
