"""The webhook's pre-auth checks: one uniform 401 for every reason, the real reason only in the event log."""

from __future__ import annotations

import json
import time

import pytest
import time_machine

from tests.threecx.conftest import sign, webhook_path
from whatsapp_gateway.threecx.models import AuthMode, IntegrationEvent, IntegrationStatus
from whatsapp_gateway.threecx.services import integration_set_status, integration_update

UNIFORM = {"success": False, "error": "invalid_3cx_webhook", "message": "Invalid 3CX webhook request."}
TEST_EVENT = {"event_type": "test"}


def assert_uniform_401(response):
    assert response.status_code == 401
    assert response.json() == UNIFORM


def last_event(**filters) -> IntegrationEvent:
    return IntegrationEvent.objects.filter(**filters).order_by("-id").first()


@pytest.mark.django_db
def test_it_accepts_the_native_test_event_with_the_right_secret(post_native, integration):
    response = post_native(TEST_EVENT)
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["status"] == "ok"
    assert body["integration_id"] == integration.public_id
    event = last_event(integration=integration)
    assert (event.decision, event.request_form, event.event_type, event.http_status) == ("ok", "native", "test", 200)


@pytest.mark.django_db
def test_an_unknown_integration_gets_the_uniform_401_and_the_reason_is_logged(post_native):
    response = post_native(TEST_EVENT, integration_id="tcx_doesnotexist0000000")
    assert_uniform_401(response)
    event = last_event(integration_ref="tcx_doesnotexist0000000")
    assert event.integration is None and event.decision == "rejected"
    assert event.reason == "unknown integration id"


@pytest.mark.django_db
def test_a_disabled_integration_gets_the_uniform_401(post_native, integration):
    integration_set_status(integration=integration, status=IntegrationStatus.DISABLED)
    assert_uniform_401(post_native(TEST_EVENT))
    assert last_event(integration=integration).reason == "integration is disabled"


@pytest.mark.django_db
def test_a_wrong_secret_gets_the_uniform_401(post_native, integration):
    assert_uniform_401(post_native(TEST_EVENT, secret_value="tcxs_wrong"))
    event = last_event(integration=integration)
    assert event.reason == "wrong X-WhatsApp-Gateway-3CX-Secret"
    assert "tcxs_wrong" not in json.dumps(event.summary) + event.reason


@pytest.mark.django_db
def test_a_wrong_bearer_key_gets_the_uniform_401(post_generic, integration):
    assert_uniform_401(post_generic({"from": "+13052314933", "to": "+966512345678", "text": "hi"}, key="tcxk_nope"))
    assert last_event(integration=integration).reason == "wrong Bearer API key"


@pytest.mark.django_db
def test_the_secret_is_not_accepted_as_the_bearer_key(post_generic, integration, secret):
    assert_uniform_401(post_generic({"from": "+13052314933", "to": "+966512345678", "text": "hi"}, key=secret))


@pytest.mark.django_db
def test_a_request_without_credentials_gets_the_uniform_401(client, integration):
    response = client.post(webhook_path(integration), data=b"{}", content_type="application/json")
    assert_uniform_401(response)
    assert last_event(integration=integration).reason.startswith("no credentials")


@pytest.mark.django_db
def test_an_ip_outside_the_allowlist_gets_the_uniform_401(post_native, integration):
    integration_update(integration=integration, allowed_ips=["203.0.113.0/24"])
    assert_uniform_401(post_native(TEST_EVENT))  # the test client comes from 127.0.0.1
    assert last_event(integration=integration).reason == "client IP 127.0.0.1 is not in the allowlist"


@pytest.mark.django_db
def test_an_ip_inside_the_allowlist_is_accepted(post_native, integration):
    integration_update(integration=integration, allowed_ips=["203.0.113.0/24", "127.0.0.0/8"])
    assert post_native(TEST_EVENT).status_code == 200


@pytest.mark.django_db
def test_a_signature_with_the_sha256_prefix_is_accepted(post_native, secret):
    body = json.dumps(TEST_EVENT).encode()
    assert post_native(None, raw=body, extra=sign(secret, body)).status_code == 200


@pytest.mark.django_db
def test_a_signature_as_bare_hex_is_accepted(post_native, secret):
    body = json.dumps(TEST_EVENT).encode()
    assert post_native(None, raw=body, extra=sign(secret, body, prefix=False)).status_code == 200


@pytest.mark.django_db
def test_a_bad_signature_gets_the_uniform_401(post_native, integration, secret):
    body = json.dumps(TEST_EVENT).encode()
    headers = sign(secret, body + b" ")  # signed a different body
    assert_uniform_401(post_native(None, raw=body, extra=headers))
    assert last_event(integration=integration).reason == "signature does not match the body"


@pytest.mark.django_db
def test_a_stale_timestamp_gets_the_uniform_401_even_when_correctly_signed(post_native, integration, secret):
    body = json.dumps(TEST_EVENT).encode()
    with time_machine.travel(1_800_000_000, tick=False):
        assert_uniform_401(post_native(None, raw=body, extra=sign(secret, body, 1_800_000_000 - 301)))
        assert last_event(integration=integration).reason.startswith("stale timestamp (301 s")
        # A timestamp from the future is just as stale.
        assert_uniform_401(post_native(None, raw=body, extra=sign(secret, body, 1_800_000_000 + 301)))


@pytest.mark.django_db
def test_a_timestamp_just_inside_five_minutes_is_accepted(post_native, secret):
    body = json.dumps(TEST_EVENT).encode()
    with time_machine.travel(1_800_000_000, tick=False):
        assert post_native(None, raw=body, extra=sign(secret, body, 1_800_000_000 - 299)).status_code == 200


@pytest.mark.django_db
def test_hmac_mode_requires_a_signature(post_native, integration, secret):
    integration_update(integration=integration, auth_mode=AuthMode.SECRET_HMAC)
    assert_uniform_401(post_native(TEST_EVENT))
    assert "HMAC signature required" in last_event(integration=integration).reason
    body = json.dumps(TEST_EVENT).encode()
    assert post_native(None, raw=body, extra=sign(secret, body)).status_code == 200


@pytest.mark.django_db
def test_a_signature_without_timestamp_gets_the_uniform_401(post_native, integration, secret):
    body = json.dumps(TEST_EVENT).encode()
    headers = sign(secret, body)
    del headers["HTTP_X_WHATSAPP_GATEWAY_TIMESTAMP"]
    assert_uniform_401(post_native(None, raw=body, extra=headers))


@pytest.mark.django_db
def test_every_failure_reason_answers_byte_for_byte_the_same(client, post_native, post_generic, integration, secret):
    integration_update(integration=integration, allowed_ips=[])
    body = json.dumps(TEST_EVENT).encode()
    responses = [
        post_native(TEST_EVENT, integration_id="tcx_unknown000000000000"),
        post_native(TEST_EVENT, secret_value="nope"),
        post_generic({"to": "+966512345678", "text": "x"}, key="nope"),
        post_native(None, raw=body, extra=sign(secret, body, int(time.time()) - 1000)),
        post_native(None, raw=body, extra=sign(secret, b"other")),
    ]
    assert {(r.status_code, r.content) for r in responses} == {(401, responses[0].content)}


@pytest.mark.django_db
def test_the_event_log_never_stores_secrets_or_message_text(post_native, integration, secret):
    post_native({"event_type": "inbound_reply", "from": "+966512345678", "message_text": "my secret order 42"})
    event = last_event(integration=integration)
    dumped = json.dumps(event.summary) + event.reason + event.phone_masked
    assert "my secret order" not in dumped and secret not in dumped and "+966512345678" not in dumped
    assert event.phone_masked == "+9665****5678" and event.text_length == len("my secret order 42")


# Every pre-auth failure reason: (set-up, request, the reason the event log and the operator's back office show).
def _native(secret_value=None, *, raw_headers=None, body=None):
    return lambda post_native, post_generic, secret: post_native(
        None if body is not None else TEST_EVENT, secret_value=secret_value, raw=body, extra=raw_headers or {}
    )


PRE_AUTH_FAILURES = {
    "unknown integration": (
        None,
        lambda post_native, post_generic, secret: post_native(TEST_EVENT, integration_id="tcx_unknown0000000000000"),
        "unknown integration id",
    ),
    "disabled integration": (
        lambda integration: integration_set_status(integration=integration, status=IntegrationStatus.DISABLED),
        _native(),
        "integration is disabled",
    ),
    "IP not allowed": (
        lambda integration: integration_update(integration=integration, allowed_ips=["203.0.113.0/24"]),
        _native(),
        "client IP 127.0.0.1 is not in the allowlist",
    ),
    "wrong secret": (None, _native("tcxs_nope"), "wrong X-WhatsApp-Gateway-3CX-Secret"),
    "wrong Bearer key": (
        None,
        lambda post_native, post_generic, secret: post_generic({"to": "+966512345678", "text": "x"}, key="tcxk_nope"),
        "wrong Bearer API key",
    ),
    "Basic instead of Bearer": (
        None,
        lambda post_native, post_generic, secret: post_native(
            TEST_EVENT, secret_value="", HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz"
        ),
        "Authorization header is not a Bearer key",
    ),
    "no credentials": (None, _native(""), "no credentials"),
    "stale timestamp": (
        None,
        lambda post_native, post_generic, secret: post_native(
            None,
            raw=json.dumps(TEST_EVENT).encode(),
            extra=sign(secret, json.dumps(TEST_EVENT).encode(), int(time.time()) - 301),
        ),
        "stale timestamp",
    ),
    "bad signature": (
        None,
        lambda post_native, post_generic, secret: post_native(
            None, raw=json.dumps(TEST_EVENT).encode(), extra=sign(secret, b"another body")
        ),
        "signature does not match the body",
    ),
    "signature missing in HMAC mode": (
        lambda integration: integration_update(integration=integration, auth_mode=AuthMode.SECRET_HMAC),
        _native(),
        "HMAC signature required",
    ),
    "malformed timestamp": (
        None,
        _native(
            raw_headers={"HTTP_X_WHATSAPP_GATEWAY_TIMESTAMP": "yesterday", "HTTP_X_WHATSAPP_GATEWAY_SIGNATURE": "00"}
        ),
        "malformed timestamp",
    ),
}


@pytest.mark.django_db
def test_every_pre_auth_failure_is_the_same_401_and_its_reason_is_in_the_admin_log(
    client, post_native, post_generic, integration, secret, admin_client
):
    answers = {}
    for name, (setup, send, reason) in PRE_AUTH_FAILURES.items():
        integration_update(integration=integration, allowed_ips=[], auth_mode=AuthMode.SECRET)
        integration_set_status(integration=integration, status=IntegrationStatus.ACTIVE)
        if setup:
            setup(integration)
        response = send(post_native, post_generic, secret)
        answers[name] = (response.status_code, response.content, response.get("Content-Type"))
        event = IntegrationEvent.objects.order_by("-id").first()
        assert (event.decision, event.code, event.http_status) == ("rejected", "invalid_3cx_webhook", 401), name
        assert event.reason.startswith(reason), (name, event.reason)
    assert set(answers.values()) == {(401, json.dumps(UNIFORM).encode(), "application/json")}, answers

    # The operator sees every real reason in the back office (Django admin), 3CX saw none of them.
    page = admin_client.get("/admin/threecx/integrationevent/").content.decode()
    for name, (_setup, _send, reason) in PRE_AUTH_FAILURES.items():
        assert reason in page, name
