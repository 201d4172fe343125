"""Fixtures for the 3CX tests: Alice's connected sandbox instance, an integration, and request helpers."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from whatsapp_gateway.threecx.services import integration_create

PUBLIC_TEST_ADDRESS = "93.184.215.14"  # a public address; nothing in the tests ever connects to it


@pytest.fixture(autouse=True)
def _public_dns(monkeypatch):
    """``pbx.example.com`` and friends resolve to a public address (the sandbox has no DNS); 127.0.0.1 and other
    literals are still checked for real."""
    from whatsapp_gateway.lib import urlsafety

    real = urlsafety.system_resolver

    def resolver(host: str, port: int) -> list[str]:
        if host.endswith("example.com"):
            return [PUBLIC_TEST_ADDRESS]
        return real(host, port)

    monkeypatch.setattr(urlsafety, "system_resolver", resolver)


@pytest.fixture
def alice_threecx_instance(owner_alice, fake_provider):
    """Alice's connected instance on the fake provider, with the phone number 3CX calls."""
    from tests.factories import make_instance
    from whatsapp_gateway.lib.clock import now

    return make_instance(
        owner_alice.account,
        name="support-line",
        provider="fake",
        connected=True,
        phone_number="+966500000001",
        paired_at=now(),
        state_changed_at=now(),
    )


@pytest.fixture
def integration_and_credentials(owner_alice, alice_threecx_instance):
    integration, credentials = integration_create(
        account=owner_alice.account,
        name="Head office 3CX",
        default_instance=alice_threecx_instance,
        endpoint_url="https://pbx.example.com/sms/generic/155e0123456789abcdef0123456789ab",
        call_event_enabled=True,
    )
    return integration, credentials


@pytest.fixture
def integration(integration_and_credentials):
    return integration_and_credentials[0]


@pytest.fixture
def secret(integration_and_credentials):
    return integration_and_credentials[1].secret


@pytest.fixture
def api_key(integration_and_credentials):
    return integration_and_credentials[1].api_key


def webhook_path(integration_or_id) -> str:
    public_id = getattr(integration_or_id, "public_id", integration_or_id)
    return f"/integrations/3cx/webhook/{public_id}"


def sign(secret: str, body: bytes, timestamp: int | None = None, *, prefix: bool = True) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {
        "HTTP_X_WHATSAPP_GATEWAY_TIMESTAMP": ts,
        "HTTP_X_WHATSAPP_GATEWAY_SIGNATURE": f"sha256={digest}" if prefix else digest,
    }


@pytest.fixture
def post_native(client, integration, secret):
    def post(payload, *, secret_value=None, extra=None, integration_id=None, raw: bytes | None = None, **headers):
        body = raw if raw is not None else json.dumps(payload).encode()
        meta = {"HTTP_X_WHATSAPP_GATEWAY_3CX_SECRET": secret if secret_value is None else secret_value}
        meta.update(extra or {})
        meta.update(headers)
        return client.post(
            webhook_path(integration_id or integration), data=body, content_type="application/json", **meta
        )

    return post


@pytest.fixture
def post_generic(client, integration, api_key):
    def post(payload, *, key=None, integration_id=None, **headers):
        return client.post(
            webhook_path(integration_id or integration),
            data=json.dumps(payload).encode(),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {api_key if key is None else key}",
            **headers,
        )

    return post
