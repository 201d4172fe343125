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
