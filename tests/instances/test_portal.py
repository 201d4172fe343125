"""The /instances pages: list, create (plan limit), rename, delete, manage tabs, connection actions, isolation."""

from __future__ import annotations

import pytest

from tests.factories import make_instance
from tests.isolation import assert_other_account_gets_404
from whatsapp_gateway.accounts.models import AuditLog, Plan
from whatsapp_gateway.instances.models import Instance, InstanceState
from whatsapp_gateway.instances.services import InstanceError, InstanceLimitReached, instance_create


def test_the_list_shows_instances_with_state_badges(alice_client, owner_alice):
    make_instance(owner_alice.account, name="support-line")
    response = alice_client.get("/instances")

    assert response.status_code == 200
    body = response.content.decode()
    assert "support-line" in body
    assert 'class="badge created"' in body


def test_an_owner_creates_an_instance_and_lands_on_its_connection_tab(alice_client, owner_alice):
    response = alice_client.post("/instances/new", {"name": "Sales-Line"})

    instance = Instance.objects.get(account=owner_alice.account)
    assert instance.name == "sales-line"
    assert instance.provider == "sandbox"
    assert instance.callback_token and instance.callback_token_hash
    assert response.status_code == 302
    assert response["Location"] == f"/instances/{instance.public_id}/manage?tab=connection"
    assert AuditLog.objects.filter(action="instance.created", target_id=instance.public_id).exists()


def test_a_duplicate_name_is_refused_with_a_message(alice_client, owner_alice):
    make_instance(owner_alice.account, name="support-line")
    response = alice_client.post("/instances/new", {"name": "support-line"})
    assert response.status_code == 400
    assert "already have an instance named support-line" in response.content.decode()


def test_a_member_cannot_create_instances(bob_client, member_bob):
    response = bob_client.post("/instances/new", {"name": "bobs"})
    assert response.status_code == 403
    assert not Instance.objects.exists()


def test_the_plan_limits_the_number_of_instances(owner_alice):
    account = owner_alice.account
    account.plan = Plan.objects.create(code="tiny", name="Tiny", daily_limit=1, monthly_limit=1, max_instances=1)
    account.save()
    make_instance(account, name="one")
    with pytest.raises(InstanceLimitReached):
        instance_create(account=account, name="two")


def test_a_deleted_instance_frees_its_name_and_its_slot(alice_client, owner_alice):
    instance = make_instance(owner_alice.account, name="support-line")
    response = alice_client.post(f"/instances/{instance.public_id}/delete")

    assert response.status_code == 302
    instance.refresh_from_db()
    assert instance.deleted_at is not None
    assert alice_client.get(f"/instances/{instance.public_id}/manage").status_code == 404
    assert make_instance(owner_alice.account, name="support-line").pk != instance.pk


def test_a_provider_outside_the_allowed_list_is_refused(owner_alice, settings):
    settings.GATEWAY_SELECTABLE_PROVIDERS = []
    settings.GATEWAY_PROVIDER = "sandbox"
    with pytest.raises(InstanceError):
        instance_create(account=owner_alice.account, name="x", provider="evolution")


def test_rename(alice_client, owner_alice):
    instance = make_instance(owner_alice.account, name="support-line")
    alice_client.post(f"/instances/{instance.public_id}/rename", {"name": "help-desk"})
    instance.refresh_from_db()
    assert instance.name == "help-desk"


def test_the_manage_page_shows_registered_tabs_and_unknown_tabs_fall_back_to_connection(alice_client, owner_alice):
    instance = make_instance(owner_alice.account)
    response = alice_client.get(f"/instances/{instance.public_id}/manage?tab=nope")

    assert response.status_code == 200
    body = response.content.decode()
    assert 'href="?tab=connection" aria-current="page"' in body
    assert "No real WhatsApp message is sent" in body


def test_connect_then_scan_then_connected_from_the_portal(alice_client, owner_alice):
    instance = make_instance(owner_alice.account)
    alice_client.post(f"/instances/{instance.public_id}/connect")
    page = alice_client.get(f"/instances/{instance.public_id}/manage?tab=connection").content.decode()
    assert "<svg" in page
    assert 'data-testid="sandbox-scan"' in page

    qr = alice_client.get(f"/instances/{instance.public_id}/qr").json()
    assert qr["state"] == "pairing"
    assert qr["qr_svg"].startswith("<svg")
    assert qr["expires_in"] is not None

    alice_client.post(f"/instances/{instance.public_id}/simulate", {"action": "scan"})
    instance.refresh_from_db()
    assert instance.state == InstanceState.CONNECTED
    assert alice_client.get(f"/instances/{instance.public_id}/qr").json()["state"] == "connected"


def test_connect_with_a_phone_number_shows_a_pairing_code(alice_client, owner_alice):
    instance = make_instance(owner_alice.account)
    alice_client.post(f"/instances/{instance.public_id}/connect", {"phone_number": "0501234567"})
    page = alice_client.get(f"/instances/{instance.public_id}/manage?tab=connection").content.decode()
    instance.refresh_from_db()
    assert instance.pairing_code in page


def test_simulations_and_logout_from_the_portal(alice_client, owner_alice):
    instance = make_instance(owner_alice.account, connected=True)
    response = alice_client.post(
        f"/instances/{instance.public_id}/simulate", {"action": "inbound", "phone": "+12025550142", "text": "Hi"}
    )
    assert response.status_code == 302
    alice_client.post(f"/instances/{instance.public_id}/simulate", {"action": "disconnect"})
    instance.refresh_from_db()
    assert instance.state == InstanceState.DISCONNECTED
    alice_client.post(f"/instances/{instance.public_id}/restart")
    instance.refresh_from_db()
    assert instance.state == InstanceState.CONNECTED
    alice_client.post(f"/instances/{instance.public_id}/logout")
    instance.refresh_from_db()
    assert instance.state == InstanceState.LOGGED_OUT
    page = alice_client.get(f"/instances/{instance.public_id}/manage").content.decode()
    assert "Logged out from the portal" in page


def test_a_member_cannot_log_out_an_instance(bob_client, member_bob):
    instance = make_instance(member_bob.account, connected=True)
    assert bob_client.post(f"/instances/{instance.public_id}/logout").status_code == 403


INSTANCE_URLS = [
    ("get", "/instances/{id}/manage"),
    ("get", "/instances/{id}/manage?tab=connection"),
    ("get", "/instances/{id}/qr"),
    ("post", "/instances/{id}/rename"),
    ("post", "/instances/{id}/delete"),
    ("post", "/instances/{id}/connect"),
    ("post", "/instances/{id}/restart"),
    ("post", "/instances/{id}/logout"),
    ("post", "/instances/{id}/simulate"),
]


@pytest.mark.parametrize(("method", "url"), INSTANCE_URLS)
def test_another_account_gets_404_on_every_instance_url(charlie_client, owner_alice, method, url):
    instance = make_instance(owner_alice.account, connected=True)
    assert_other_account_gets_404(charlie_client, url.format(id=instance.public_id), methods=(method,))
    instance.refresh_from_db()
    assert instance.deleted_at is None
    assert instance.state == InstanceState.CONNECTED
