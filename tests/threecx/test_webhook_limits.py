"""Post-auth limits: 256 KB cap, 60 requests/minute per integration, JSON, module."""

from __future__ import annotations

import json

import pytest
import time_machine

from tests.threecx.conftest import webhook_path
from whatsapp_gateway.threecx.models import IntegrationEvent


@pytest.mark.django_db
def test_a_body_over_256_kb_gets_413(post_native, integration):
    payload = {"event_type": "test", "padding": "x" * (256 * 1024)}
    response = post_native(payload)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


@pytest.mark.django_db
def test_a_body_of_exactly_256_kb_is_accepted(post_native):
    base = json.dumps({"event_type": "test", "padding": ""}).encode()
    body = json.dumps({"event_type": "test", "padding": "x" * (256 * 1024 - len(base))}).encode()
    assert len(body) == 256 * 1024
    assert post_native(None, raw=body).status_code == 200


@pytest.mark.django_db
def test_an_oversized_body_with_a_wrong_secret_still_gets_the_uniform_401(post_native):
    response = post_native({"event_type": "test", "padding": "x" * (300 * 1024)}, secret_value="wrong")
    assert response.status_code == 401


@pytest.mark.django_db
def test_the_61st_request_in_a_minute_gets_429_with_retry_after(post_native, integration):
    with time_machine.travel("2026-11-24 10:00:05Z", tick=False):
        for _ in range(60):
            assert post_native({"event_type": "test"}).status_code == 200
        response = post_native({"event_type": "test"})
    assert response.status_code == 429
    assert response.json()["error"] == "webhook_rate_limited"
    assert response["Retry-After"] == "55"
    assert IntegrationEvent.objects.filter(integration=integration, code="webhook_rate_limited").count() == 1
    with time_machine.travel("2026-11-24 10:01:00Z", tick=False):
        assert post_native({"event_type": "test"}).status_code == 200


@pytest.mark.django_db
def test_the_rate_limit_is_per_integration(post_native, integration, owner_alice, alice_threecx_instance):
    from whatsapp_gateway.threecx.services import integration_create

    other, creds = integration_create(
        account=owner_alice.account, name="Branch", default_instance=alice_threecx_instance
    )
    with time_machine.travel("2026-11-24 10:00:00Z", tick=False):
        for _ in range(61):
            post_native({"event_type": "test"})
        assert post_native({"event_type": "test"}).status_code == 429
        response = post_native({"event_type": "test"}, integration_id=other.public_id, secret_value=creds.secret)
    assert response.status_code == 200


@pytest.mark.django_db
def test_requests_with_bad_credentials_do_not_use_up_the_rate_limit(post_native, settings):
    # The per-IP throttle of authentication failures is a separate guard (tests/security/test_auth_throttling.py).
    settings.GATEWAY_AUTH_FAILURES_PER_MINUTE = 1000
    with time_machine.travel("2026-11-24 10:00:00Z", tick=False):
        for _ in range(70):
            post_native({"event_type": "test"}, secret_value="wrong")
        assert post_native({"event_type": "test"}).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"[1, 2]",
        b"",
        b"\xff\xfe",
        b'"text"',
        b'{"event_type": "test", "x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    ],
    ids=["broken", "array", "empty", "not-utf8", "string", "nested-50000-deep"],
)
def test_a_body_that_is_not_a_json_object_gets_400(post_native, raw):
    response = post_native(None, raw=raw)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_json"


@pytest.mark.django_db
def test_without_the_threecx_module_an_authenticated_request_gets_403(post_native, owner_alice):
    account = owner_alice.account
    account.enabled_modules = ["api_send"]
    account.save()
    response = post_native({"event_type": "test"})
    assert response.status_code == 403
    assert response.json()["error"] == "module_not_enabled"


@pytest.mark.django_db
def test_only_post_is_allowed(client, integration):
    assert client.get(webhook_path(integration)).status_code == 405
