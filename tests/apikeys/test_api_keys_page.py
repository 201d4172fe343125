"""The /api-keys portal page: list, create (shown once), scope, revoke with confirmation, roles, isolation."""

from __future__ import annotations

import re

import pytest

from tests.isolation import assert_other_account_gets_404
from whatsapp_gateway.apikeys.models import ApiKey
from whatsapp_gateway.apikeys.services import api_key_authenticate, api_key_create
from whatsapp_gateway.instances.models import Instance

pytestmark = pytest.mark.django_db


def test_it_creates_a_key_and_shows_it_once(alice_client, owner_alice):
    response = alice_client.post("/api-keys", {"name": "CRM production"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    full_key = re.search(r"wg_live_[0-9a-z]{40}", response.content.decode()).group(0)
    assert api_key_authenticate(token=full_key).account == owner_alice.account
    listing = alice_client.get("/api-keys").content.decode()
    assert full_key not in listing
    key = ApiKey.objects.get()
    assert f"{key.prefix}…" in listing and "CRM production" in listing and "All instances" in listing


def test_it_scopes_a_key_to_chosen_instances(alice_client, owner_alice):
    line = Instance.objects.create(account=owner_alice.account, name="sales-line")
    alice_client.post("/api-keys", {"name": "Sales", "instances": [line.pk]})
    assert list(ApiKey.objects.get().instances.all()) == [line]
    assert "sales-line" in alice_client.get("/api-keys").content.decode()


def test_it_refuses_another_accounts_instance_in_the_scope(alice_client, outsider_charlie):
    theirs = Instance.objects.create(account=outsider_charlie.account, name="theirs")
    response = alice_client.post("/api-keys", {"name": "Sneaky", "instances": [theirs.pk]})
    assert response.status_code == 400 and not ApiKey.objects.exists()


def test_it_shows_last_use_and_revokes(alice_client, owner_alice):
    created = api_key_create(account=owner_alice.account, name="CRM")
    api_key_authenticate(token=created.full_key, client_ip="203.0.113.9")
    page = alice_client.get("/api-keys").content.decode()
    assert "203.0.113.9" in page and 'data-confirm="Revoke' in page
    response = alice_client.post(f"/api-keys/{created.api_key.public_id}/revoke")
    assert response.status_code == 302
    created.api_key.refresh_from_db()
    assert created.api_key.revoked_at is not None and created.api_key.revoked_by == owner_alice.user
    assert "Revoked" in alice_client.get("/api-keys").content.decode()


def test_members_see_keys_but_cannot_create_or_revoke(bob_client, owner_alice):
    created = api_key_create(account=owner_alice.account, name="CRM")
    assert bob_client.get("/api-keys").status_code == 200
    assert bob_client.post("/api-keys", {"name": "x"}).status_code == 403
    assert bob_client.post(f"/api-keys/{created.api_key.public_id}/revoke").status_code == 403
    assert ApiKey.objects.count() == 1


def test_another_accounts_key_is_404(charlie_client, owner_alice):
    created = api_key_create(account=owner_alice.account, name="CRM")
    assert_other_account_gets_404(charlie_client, f"/api-keys/{created.api_key.public_id}/revoke", methods=("post",))
    created.api_key.refresh_from_db()
    assert created.api_key.revoked_at is None


def test_it_needs_login(client):
    assert client.get("/api-keys").status_code == 302


def test_the_reveal_shows_a_curl_example_with_a_usable_instance(alice_client, owner_alice):
    Instance.objects.create(account=owner_alice.account, name="support-line")
    page = alice_client.post("/api-keys", {"name": "CRM"}).content.decode()
    assert '"instance_id": "support-line"' in page
