"""Setting up a Cloud API instance from the connection tab, and Meta's GET handshake through the callback route."""

from __future__ import annotations

import json

import pytest

from tests.factories import make_instance
from tests.isolation import assert_other_account_gets_404
from whatsapp_gateway.accounts.models import AuditLog
from whatsapp_gateway.instances.models import Instance, InstanceState
from whatsapp_gateway.providers.registry import get_provider

pytestmark = pytest.mark.django_db
PNID = "106540352242922"


@pytest.fixture
def new_cloud_instance(owner_alice, fake_cloud):
    instance = make_instance(owner_alice.account, provider="cloud", name="meta-line")
    result = get_provider("cloud").create_instance(instance)
    instance.provider_credentials = json.dumps(result.credentials)
    instance.save()
    return instance


def setup_url(instance) -> str:
    return f"/instances/{instance.public_id}/cloud-setup"


def test_the_connection_tab_of_a_cloud_instance_explains_the_24_hour_window(alice_client, new_cloud_instance):
    page = alice_client.get(f"/instances/{new_cloud_instance.public_id}/manage?tab=connection").content.decode()
    assert 'data-testid="cloud-window-note"' in page
    assert "conversation_window_closed" in page and "outside_24h_window" in page
    assert "Meta templates" in page and 'href="/templates"' in page
    assert 'data-testid="cloud-setup-form"' in page
    assert new_cloud_instance.callback_token in page  # the callback URL an admin pastes into Meta
    assert "Connect with a phone number instead" not in page and 'data-testid="qr-code"' not in page


def test_the_sandbox_connection_tab_has_no_cloud_card(alice_client, owner_alice):
    from tests.factories import make_instance as make_sandbox

    instance = make_sandbox(owner_alice.account, name="sandbox-line")
    page = alice_client.get(f"/instances/{instance.public_id}/manage?tab=connection").content.decode()
    assert "cloud-window-note" not in page


def test_a_member_sees_the_note_but_not_the_form_or_the_webhook_secrets(bob_client, new_cloud_instance):
    page = bob_client.get(f"/instances/{new_cloud_instance.public_id}/manage?tab=connection").content.decode()
    assert 'data-testid="cloud-window-note"' in page
    assert "cloud-setup-form" not in page and new_cloud_instance.callback_token not in page


def test_an_admin_connects_the_number_with_its_phone_number_id(alice_client, new_cloud_instance, fake_cloud, settings):
    response = alice_client.post(setup_url(new_cloud_instance), {"phone_number_id": PNID})

    assert response.status_code == 302
    assert response["Location"].endswith(f"/instances/{new_cloud_instance.public_id}/manage?tab=connection")
    instance = Instance.objects.get(pk=new_cloud_instance.pk)
    assert (instance.state, instance.provider_ref, instance.phone_number) == (
        InstanceState.CONNECTED,
        PNID,
        "+15550783881",
    )
    credentials = json.loads(instance.provider_credentials)
    assert credentials["webhook_override"] is True and "access_token" not in credentials
    number = fake_cloud.numbers[PNID]
    assert number.override_callback_uri == (
        f"{settings.GATEWAY_BASE_URL}/providers/cloud/callback/{instance.callback_token}"
    )
    assert number.override_verify_token == credentials["verify_token"]
    entry = AuditLog.objects.get(action="instance.cloud_configured")
    assert entry.target_id == instance.public_id
    assert entry.metadata["phone_number_id"] == PNID and entry.metadata["own_access_token"] is False


def test_a_customer_s_own_token_is_stored_encrypted_and_never_audited(alice_client, new_cloud_instance, fake_cloud):
    from django.db import connection

    fake_cloud.tokens.add("customer-token-123")
    alice_client.post(
        setup_url(new_cloud_instance),
        {"phone_number_id": PNID, "access_token": "customer-token-123", "app_secret": "customer-secret-456"},
    )

    instance = Instance.objects.get(pk=new_cloud_instance.pk)
    assert json.loads(instance.provider_credentials)["access_token"] == "customer-token-123"
    with connection.cursor() as cursor:
        cursor.execute("SELECT provider_credentials FROM instances_instance WHERE id = %s", [instance.pk])
        raw = cursor.fetchone()[0]
    assert "customer-token-123" not in raw and "customer-secret-456" not in raw
    entry = AuditLog.objects.get(action="instance.cloud_configured")
    assert "customer-token-123" not in json.dumps(entry.metadata) and entry.metadata["own_access_token"] is True


def test_a_phone_number_id_meta_does_not_know_is_refused_and_nothing_is_stored(alice_client, new_cloud_instance):
    response = alice_client.post(setup_url(new_cloud_instance), {"phone_number_id": "99999999"}, follow=True)

    assert "Meta did not accept this phone number ID" in response.content.decode()
    instance = Instance.objects.get(pk=new_cloud_instance.pk)
    assert (instance.provider_ref, instance.state) == ("", InstanceState.CREATED)
    assert not AuditLog.objects.filter(action="instance.cloud_configured").exists()


def test_a_phone_number_instead_of_its_id_is_refused_by_the_form(alice_client, new_cloud_instance, fake_cloud):
    response = alice_client.post(setup_url(new_cloud_instance), {"phone_number_id": "+1 555 078 3881"}, follow=True)
    assert "Digits only" in response.content.decode()
    assert fake_cloud.requests == []


def test_a_member_cannot_configure(bob_client, new_cloud_instance, fake_cloud):
    assert bob_client.post(setup_url(new_cloud_instance), {"phone_number_id": PNID}).status_code == 403
    assert fake_cloud.requests == []


def test_another_account_gets_404(charlie_client, new_cloud_instance):
    assert_other_account_gets_404(charlie_client, setup_url(new_cloud_instance), methods=("post",))


def test_only_cloud_instances_can_be_configured(alice_client, owner_alice):
    from tests.factories import make_instance as make_sandbox

    instance = make_sandbox(owner_alice.account, name="sandbox-line")
    response = alice_client.post(setup_url(instance), {"phone_number_id": PNID}, follow=True)
    assert "Only a live Cloud API instance" in response.content.decode()


# --- Meta's GET verification handshake on the callback URL -------------------------------------------------------


def handshake(client, instance, **params):
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444", **params}
    return client.get(f"/providers/cloud/callback/{instance.callback_token}", query)


def test_meta_s_handshake_is_answered_with_the_challenge(client, new_cloud_instance):
    token = json.loads(new_cloud_instance.provider_credentials)["verify_token"]
    response = handshake(client, new_cloud_instance, **{"hub.verify_token": token})
    assert (response.status_code, response.content, response["Content-Type"]) == (
        200,
        b"1158201444",
        "text/plain",
    )


def test_meta_s_handshake_with_a_wrong_verify_token_is_refused(client, new_cloud_instance):
    response = handshake(client, new_cloud_instance, **{"hub.verify_token": "guess"})
    assert response.status_code == 403 and b"1158201444" not in response.content


def test_meta_s_handshake_on_an_unknown_callback_token_is_refused(client, new_cloud_instance):
    response = client.get(
        "/providers/cloud/callback/not-a-token",
        {"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": "operator-verify-token"},
    )
    assert response.status_code == 401


def test_an_evolution_instance_says_it_uses_evolution_api(alice_client, owner_alice, fake_evolution):
    # Evolution API's licence asks products built on it to show a visible "uses Evolution API" notice.
    instance = make_instance(owner_alice.account, provider="evolution", name="evo-line")
    page = alice_client.get(f"/instances/{instance.public_id}/manage?tab=connection").content.decode()
    assert 'data-testid="provider-notice"' in page and "Evolution API" in page
