"""The public API: a key of another account never sees or uses this account's instances or messages."""

from __future__ import annotations

import pytest

from tests.messaging.conftest import ApiClient, body
from tests.tallies import SECURITY as TALLY
from whatsapp_gateway.apikeys.services import api_key_create

pytestmark = pytest.mark.django_db


def test_another_accounts_key_gets_404_for_messages_and_instances(alice_world, outsider_charlie):
    charlie = ApiClient(api_key_create(account=outsider_charlie.account, name="c").full_key)
    response = charlie.get(f"/api/messages/{alice_world['message']}")
    assert response.status_code == 404
    for ref in (alice_world["instance"], "world-line"):
        response = charlie.send(body(instance_id=ref))
        assert response.status_code == 404 and response.json()["error"] == "invalid_instance"
    TALLY["isolation requests (api)"] += 3


def test_the_owner_key_sees_its_message(alice_world):
    alice = ApiClient(alice_world["api_key_plain"])
    assert alice.get(f"/api/messages/{alice_world['message']}").status_code == 200
