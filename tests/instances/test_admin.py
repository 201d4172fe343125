"""The operator back office shows instances and provider callbacks, never credentials or callback tokens."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import make_instance, make_operator
from whatsapp_gateway.providers.models import CallbackRejection, ProviderCallback


@pytest.fixture
def operator_client(db):
    user = make_operator("ops@example.com")
    client = Client()
    client.force_login(user)
    return client


def test_instance_pages_never_show_the_callback_token_or_credentials(operator_client, owner_alice):
    instance = make_instance(owner_alice.account, connected=True)
    for url in ("/admin/instances/instance/", f"/admin/instances/instance/{instance.pk}/change/"):
        response = operator_client.get(url)
        assert response.status_code == 200
        body = response.content.decode()
        assert instance.callback_token not in body
        assert instance.phone_number not in body  # masked
    assert "****" in operator_client.get(f"/admin/instances/instance/{instance.pk}/change/").content.decode()


def test_callbacks_and_rejection_counters_are_listed(operator_client, owner_alice, client):
    instance = make_instance(owner_alice.account, connected=True)
    client.post(f"/providers/sandbox/callback/{instance.callback_token}", data=b"nope", content_type="application/json")

    assert operator_client.get("/admin/providers/providercallback/").status_code == 200
    callback = ProviderCallback.objects.filter(instance=instance).first()
    assert operator_client.get(f"/admin/providers/providercallback/{callback.pk}/change/").status_code == 200
    response = operator_client.get("/admin/providers/callbackrejection/")
    assert response.status_code == 200
    assert CallbackRejection.objects.get(reason="malformed_json").count == 1
    assert "malformed_json" in response.content.decode()


def test_the_reconcile_action_runs_for_selected_instances(operator_client, owner_alice):
    instance = make_instance(owner_alice.account, connected=True)
    response = operator_client.post(
        "/admin/instances/instance/", {"action": "reconcile", "_selected_action": [instance.pk]}, follow=True
    )
    assert response.status_code == 200
    assert "Reconciled." in response.content.decode()
