"""Contract tests: the exact Graph API calls the Cloud API adapter makes against the local fake."""

from __future__ import annotations

import json

import pytest

from whatsapp_gateway.instances.models import InstanceState
from whatsapp_gateway.providers.base import CallbackRejected, ProviderError
from whatsapp_gateway.providers.cloud.adapter import PHONE_FIELDS
from whatsapp_gateway.providers.cloud.client import WINDOW_MESSAGE
from whatsapp_gateway.providers.registry import get_provider

pytestmark = pytest.mark.django_db
cloud = get_provider("cloud")
PNID = "106540352242922"


def test_create_issues_a_verify_token_and_calls_nothing(owner_alice, fake_cloud):
    from tests.factories import make_instance

    result = cloud.create_instance(make_instance(owner_alice.account, provider="cloud"))

    assert fake_cloud.requests == []
    assert result.provider_ref == ""
    assert set(result.credentials) == {"verify_token"} and len(result.credentials["verify_token"]) >= 30


def test_configure_checks_the_number_and_points_its_webhook_at_the_instance(cloud_instance, fake_cloud, settings):
    fake_cloud.clear()

    state, credentials, override_set = cloud.configure(cloud_instance, phone_number_id=PNID)

    check, override = fake_cloud.requests
    assert (check.method, check.path, check.params) == ("GET", f"/v25.0/{PNID}", {"fields": PHONE_FIELDS})
    assert check.header("authorization") == "Bearer operator-cloud-token"
    assert (override.method, override.path) == ("POST", f"/v25.0/{PNID}")
    assert override.json == {
        "webhook_configuration": {
            "override_callback_uri": f"{settings.GATEWAY_BASE_URL}/providers/cloud/callback/{cloud_instance.callback_token}",
            "verify_token": credentials["verify_token"],
        }
    }
    assert credentials["verify_token"] == json.loads(cloud_instance.provider_credentials)["verify_token"]
    assert override_set is True
    assert (state.state, state.phone_number, state.profile_name) == (
        InstanceState.CONNECTED,
        "+15550783881",
        "Acme Support",
    )


def test_configure_with_the_customer_s_own_token_and_app_secret(cloud_instance, fake_cloud):
    fake_cloud.tokens.add("customer-token")
    fake_cloud.clear()

    _, credentials, _ = cloud.configure(
        cloud_instance, phone_number_id=PNID, access_token="customer-token", app_secret="customer-secret"
    )

    assert {r.header("authorization") for r in fake_cloud.requests} == {"Bearer customer-token"}
    assert (credentials["access_token"], credentials["app_secret"]) == ("customer-token", "customer-secret")


def test_configure_refuses_a_number_meta_does_not_know(cloud_instance, fake_cloud):
    with pytest.raises(ProviderError) as caught:
        cloud.configure(cloud_instance, phone_number_id="123456789")
    assert caught.value.permanent and caught.value.code == "provider_rejected"


def test_connection_state_checks_the_phone_number(cloud_instance, fake_cloud):
    result = cloud.connection_state(cloud_instance)

    (call,) = fake_cloud.requests
    assert (call.method, call.path, call.params) == ("GET", f"/v25.0/{PNID}", {"fields": PHONE_FIELDS})
    assert call.header("authorization") == "Bearer operator-cloud-token"
    assert (result.state, result.phone_number, result.reason) == (
        InstanceState.CONNECTED,
        "+15550783881",
        "Quality rating GREEN.",
    )


def test_a_number_not_on_the_cloud_api_is_disconnected(cloud_instance, fake_cloud):
    fake_cloud.numbers[PNID].platform_type = "ON_PREMISE"
    result = cloud.connection_state(cloud_instance)
    assert result.state == InstanceState.DISCONNECTED and "ON_PREMISE" in result.reason


def test_connect_means_checking_the_configured_number(cloud_instance, fake_cloud):
    assert cloud.connect(cloud_instance).state == InstanceState.CONNECTED


def test_an_unconfigured_instance_cannot_connect(owner_alice, fake_cloud):
    from tests.factories import make_instance

    with pytest.raises(ProviderError) as caught:
        cloud.connect(make_instance(owner_alice.account, provider="cloud"))
    assert caught.value.permanent and caught.value.code == "not_configured"
    assert fake_cloud.requests == []


def test_restart_logout_and_delete_leave_the_meta_registration_alone(cloud_instance, fake_cloud):
    cloud.restart(cloud_instance)
    cloud.logout(cloud_instance)
    cloud.delete_instance(cloud_instance)
    assert fake_cloud.requests == []


def test_send_text_posts_to_the_messages_endpoint_with_a_bearer_token(cloud_instance, fake_cloud):
    result = cloud.send_text(cloud_instance, to="+16505551234", text="Your order shipped", typing_ms=900)

    (call,) = fake_cloud.requests
    assert (call.method, call.path) == ("POST", f"/v25.0/{PNID}/messages")
    assert call.header("authorization") == "Bearer operator-cloud-token"
    assert call.header("content-type") == "application/json"
    assert call.json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+16505551234",
        "type": "text",
        "text": {"preview_url": False, "body": "Your order shipped"},
    }
    assert result.provider_message_id in fake_cloud.sent
    assert result.status == "sending"


def test_the_instance_s_own_token_wins(cloud_instance, fake_cloud):
    fake_cloud.tokens.add("customer-token")
    credentials = json.loads(cloud_instance.provider_credentials)
    cloud_instance.provider_credentials = json.dumps({**credentials, "access_token": "customer-token"})

    cloud.send_text(cloud_instance, to="+16505551234", text="Hi")

    assert fake_cloud.requests[0].header("authorization") == "Bearer customer-token"


def test_an_expired_token_is_a_retryable_credentials_error(cloud_instance, fake_cloud):
    fake_cloud.tokens.clear()
    with pytest.raises(ProviderError) as caught:
        cloud.send_text(cloud_instance, to="+16505551234", text="Hi")
    assert not caught.value.permanent and caught.value.code == "provider_auth_failed"


def test_a_synchronous_24_hour_window_error_is_permanent_and_readable(cloud_instance, fake_cloud):
    from tests.providers.fakes.cloud import graph_error

    fake_cloud.route(
        "POST",
        rf"/v25.0/{PNID}/messages",
        lambda request: graph_error(400, 131047, "Re-engagement message"),
        first=True,
    )

    with pytest.raises(ProviderError) as caught:
        cloud.send_text(cloud_instance, to="+16505551234", text="Hi")

    assert caught.value.permanent and caught.value.code == "outside_24h_window"
    assert caught.value.message == WINDOW_MESSAGE


def test_text_longer_than_4096_characters_is_refused_before_calling(cloud_instance, fake_cloud):
    with pytest.raises(ProviderError) as caught:
        cloud.send_text(cloud_instance, to="+16505551234", text="x" * 4097)
    assert caught.value.permanent and caught.value.code == "text_too_long"
    assert fake_cloud.requests == []


def test_the_verification_handshake_echoes_the_challenge_for_the_instance_token(cloud_instance):
    token = json.loads(cloud_instance.provider_credentials)["verify_token"]
    params = {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1158201444"}
    assert cloud.answer_verification(cloud_instance, params=params) == "1158201444"


def test_the_verification_handshake_accepts_the_operator_verify_token(cloud_instance):
    params = {"hub.mode": "subscribe", "hub.verify_token": "operator-verify-token", "hub.challenge": "42"}
    assert cloud.answer_verification(cloud_instance, params=params) == "42"


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"}, 403),
        ({"hub.mode": "subscribe", "hub.challenge": "1"}, 403),
        ({"hub.mode": "unsubscribe", "hub.verify_token": "operator-verify-token", "hub.challenge": "1"}, 400),
        ({"hub.mode": "subscribe", "hub.verify_token": "operator-verify-token"}, 400),
    ],
)
def test_the_verification_handshake_refuses_wrong_requests(cloud_instance, params, status):
    with pytest.raises(CallbackRejected) as caught:
        cloud.answer_verification(cloud_instance, params=params)
    assert caught.value.status == status


def test_the_health_check_of_an_unconfigured_instance_asks_meta_nothing(owner_alice, fake_cloud):
    from tests.factories import make_instance

    result = cloud.connection_state(make_instance(owner_alice.account, provider="cloud"))
    assert result.state == InstanceState.CREATED and "phone number ID" in result.reason
    assert fake_cloud.requests == []
