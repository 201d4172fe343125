"""Cross-account isolation on the 3CX paths: credentials, DIDs, conversation windows, suppressions, call events and
cooldowns belong to one account; another account's integration, instance or customer history never counts."""

from __future__ import annotations

import json

import pytest

from tests.factories import make_instance
from tests.threecx.conftest import webhook_path
from tests.threecx.helpers import customer_wrote, suppress
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.messaging.models import Message
from whatsapp_gateway.threecx.models import DidMapping, IntegrationEvent
from whatsapp_gateway.threecx.services import integration_create
from whatsapp_gateway.webhooks.models import Event

pytestmark = pytest.mark.django_db

CUSTOMER = "+966512345678"


@pytest.fixture
def charlie_line(outsider_charlie):
    return make_instance(
        outsider_charlie.account,
        name="charlie-line",
        provider="fake",
        connected=True,
        phone_number="+966500000009",
        paired_at=now(),
        state_changed_at=now(),
    )


@pytest.fixture
def charlie_integration(outsider_charlie, charlie_line):
    return integration_create(
        account=outsider_charlie.account,
        name="Charlie PBX",
        default_instance=charlie_line,
        endpoint_url="https://pbx2.example.com/sms/generic/0123456789abcdef0123456789abcdef",
        call_event_enabled=True,
    )


def test_alices_secret_and_key_do_not_open_charlies_integration(post_native, post_generic, charlie_integration):
    charlie, _ = charlie_integration
    native = post_native({"event_type": "test"}, integration_id=charlie.public_id)
    generic = post_generic({"from": "+13052314933", "to": CUSTOMER, "text": "hi"}, integration_id=charlie.public_id)
    for response in (native, generic):
        assert response.status_code == 401
        assert response.json() == {
            "success": False,
            "error": "invalid_3cx_webhook",
            "message": "Invalid 3CX webhook request.",
        }
    reasons = list(IntegrationEvent.objects.filter(integration=charlie).values_list("reason", flat=True))
    assert sorted(reasons) == ["wrong Bearer API key", "wrong X-WhatsApp-Gateway-3CX-Secret"]


def test_a_did_cannot_be_mapped_to_another_accounts_instance(alice_client, integration, charlie_line):
    response = alice_client.post(
        f"/integrations/3cx/{integration.public_id}/dids",
        {"did": "+13052314933", "instance": charlie_line.public_id},
        follow=True,
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not DidMapping.objects.exists()


def test_a_did_mapped_by_another_account_does_not_route_alices_replies(
    post_generic, alice_threecx_instance, charlie_integration
):
    from whatsapp_gateway.threecx.services import did_mapping_add

    charlie, _ = charlie_integration
    did_mapping_add(integration=charlie, did="+13052314933", instance=charlie.default_instance)
    customer_wrote(alice_threecx_instance, CUSTOMER)
    response = post_generic({"from": "+13052314933", "to": CUSTOMER, "text": "Your order shipped."})
    assert response.status_code == 200, response.json()
    message = Message.objects.get(public_id=response.json()["data"]["id"])
    assert message.instance_id == alice_threecx_instance.pk and message.account_id == alice_threecx_instance.account_id


def test_a_customer_who_wrote_to_another_account_has_no_open_window_here(post_generic, charlie_line):
    customer_wrote(charlie_line, CUSTOMER)
    response = post_generic({"from": "+13052314933", "to": CUSTOMER, "text": "Hello"})
    assert response.status_code == 409
    assert response.json()["error"] == "conversation_window_closed"


def test_another_accounts_suppression_does_not_block_a_reply_here(
    post_native, alice_threecx_instance, outsider_charlie
):
    suppress(outsider_charlie.account, CUSTOMER)
    customer_wrote(alice_threecx_instance, CUSTOMER)
    response = post_native({"event_type": "outbound_message", "to": CUSTOMER, "message_text": "Hi"})
    assert response.status_code == 202, response.json()


def test_call_events_and_cooldowns_stay_in_their_account(
    post_native, client, integration, alice_threecx_instance, charlie_integration, charlie_line, owner_alice
):
    charlie, charlie_credentials = charlie_integration
    customer_wrote(alice_threecx_instance, CUSTOMER)
    customer_wrote(charlie_line, CUSTOMER)
    missed = {"event_type": "missed_call", "caller": CUSTOMER}
    assert post_native(missed).status_code == 202
    # Charlie's PBX reports a missed call from the same number: his own cooldown, his own webhook event.
    answer = client.post(
        webhook_path(charlie),
        data=json.dumps(missed).encode(),
        content_type="application/json",
        HTTP_X_WHATSAPP_GATEWAY_3CX_SECRET=charlie_credentials.secret,
    )
    assert answer.status_code == 202, answer.json()
    assert Event.objects.filter(account=owner_alice.account, event_type="call.missed").count() == 1
    assert Event.objects.filter(account=charlie.account, event_type="call.missed").count() == 1
    sent = Message.objects.filter(source="threecx")
    assert {m.account_id for m in sent} == {owner_alice.account.pk, charlie.account_id}
