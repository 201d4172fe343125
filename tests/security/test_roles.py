"""Roles: changing an instance's connection and bulk-importing the suppression list are for owners and admins;
members keep the day-to-day actions (block one number, sandbox simulations, sending tests)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import make_instance
from tests.tallies import SECURITY as TALLY
from whatsapp_gateway.suppression.models import Suppression

pytestmark = pytest.mark.django_db


def test_members_cannot_change_connections_or_bulk_import(bob_client, alice_client, owner_alice):
    instance = make_instance(owner_alice.account, name="role-line")
    for path in (f"/instances/{instance.public_id}/connect", f"/instances/{instance.public_id}/restart"):
        assert bob_client.post(path).status_code == 403, path
        assert alice_client.post(path).status_code == 302, path
        TALLY["roles: member actions refused"] += 1
    page = bob_client.get(f"/instances/{instance.public_id}/manage?tab=connection").content.decode()
    assert 'data-testid="restart"' not in page and 'data-testid="connect"' not in page
    upload = SimpleUploadedFile("list.csv", b"phone\n+966512345670\n")
    assert bob_client.post("/suppressed-recipients/import", {"file": upload}).status_code == 403
    assert not Suppression.objects.exists()
    TALLY["roles: member actions refused"] += 1
    # Blocking one number stays open to members: it can only stop messages.
    response = bob_client.post("/suppressed-recipients", {"phone": "+966512345671", "note": "asked to stop"})
    assert response.status_code in (200, 302) and Suppression.objects.filter(phone_e164="+966512345671").exists()
