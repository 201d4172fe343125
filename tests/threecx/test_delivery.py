"""Inbound WhatsApp → 3CX: the delivery endpoint behind an integration, the request bodies, the portal's test send."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.threecx.delivery import build_threecx_request
from whatsapp_gateway.threecx.models import IntegrationEvent, IntegrationStatus
from whatsapp_gateway.threecx.pbx_simulator import PbxSimulator
from whatsapp_gateway.threecx.services import (
    did_mapping_add,
    integration_delete,
    integration_set_status,
    integration_update,
)
from whatsapp_gateway.webhooks.models import Delivery, Endpoint, Event

CUSTOMER = "+966512345678"


@pytest.fixture
def pbx(settings):
    settings.GATEWAY_ALLOW_PRIVATE_WEBHOOKS = True  # the fake 3CX listens on 127.0.0.1
    with PbxSimulator() as fake:
        yield fake


def received_event(instance, **data) -> Event:
    payload = {
        "event": "message.received",
        "event_id": "evt_test",
        "occurred_at": "2026-11-24T10:00:00Z",
        "instance_id": instance.public_id,
        "instance_name": instance.name,
        "from": CUSTOMER,
        "from_name": "Maria",
        "message_text": "Hello, is my order ready?",
        "message_type": "text",
        "external_message_id": "ABC",
        "message_id": "in_0123456789",
        **data,
    }
    return Event.objects.create(
        account=instance.account,
        instance=instance,
        event_type="message.received",
        payload=payload,
        occurred_at=now(),
    )


@pytest.mark.django_db
def test_an_integration_with_a_url_gets_a_3cx_delivery_endpoint(integration):
    endpoint = integration.delivery_endpoint
    assert (endpoint.kind, endpoint.events, endpoint.instance, endpoint.is_enabled) == (
        "threecx",
        ["message.received"],
        None,
        True,
    )
    assert endpoint.url.startswith("https://pbx.example.com/sms/generic/")


@pytest.mark.django_db
def test_the_endpoint_is_on_only_while_the_integration_is_active_with_inbound_on(integration):
    integration_set_status(integration=integration, status=IntegrationStatus.DISABLED)
    assert not Endpoint.objects.get().is_enabled
    integration_set_status(integration=integration, status=IntegrationStatus.ACTIVE)
    assert Endpoint.objects.get().is_enabled
    integration_update(integration=integration, inbound_enabled=False)
    assert not Endpoint.objects.get().is_enabled


@pytest.mark.django_db
def test_changing_the_url_updates_the_endpoint_and_deleting_removes_it(integration):
    integration_update(integration=integration, endpoint_url="https://pbx2.example.com/sms/generic/ffff0000ffff")
    integration.refresh_from_db()
    assert integration.delivery_endpoint.url == "https://pbx2.example.com/sms/generic/ffff0000ffff"
    assert integration.endpoint_url_hint == "https://pbx2.example.com/sms/…ffff"
    integration_delete(integration=integration)
    assert not Endpoint.objects.exists()


@pytest.mark.django_db
def test_the_generic_sms_envelope_is_what_3cx_expects(integration, alice_threecx_instance):
    did_mapping_add(integration=integration, did="+13052314933", instance=alice_threecx_instance)
    event = received_event(alice_threecx_instance)
    request = build_threecx_request(integration.delivery_endpoint, event, None, 1_800_000_000)
    body = json.loads(request.body)
    assert body == {
        "data": {
            "event_type": "message.received",
            "id": event.public_id,
            "occurred_at": body["data"]["occurred_at"],
            "record_type": "event",
            "payload": {
                "id": "in_0123456789",
                "direction": "inbound",
                "type": "SMS",
                "record_type": "message",
                "received_at": body["data"]["occurred_at"],
                "text": "Hello, is my order ready?",
                "from": {"phone_number": CUSTOMER},
                "to": [{"phone_number": "+13052314933"}],
            },
        }
    }
    assert body["data"]["occurred_at"].endswith("Z")
    assert request.headers == {"Content-Type": "application/json"}  # 3CX sends no auth; the URL is the token


@pytest.mark.django_db
def test_without_a_mapping_the_default_instance_number_is_the_did(integration, alice_threecx_instance):
    body = json.loads(
        build_threecx_request(integration.delivery_endpoint, received_event(alice_threecx_instance), None, 1).body
    )
    assert body["data"]["payload"]["to"] == [{"phone_number": alice_threecx_instance.phone_number}]


@pytest.mark.django_db
def test_media_becomes_a_label_caption_and_link(integration, alice_threecx_instance):
    event = received_event(
        alice_threecx_instance,
        message_text="",
        message_type="image",
        metadata={"caption": "my receipt", "url": "https://media.example.com/r.jpg"},
    )
    body = json.loads(build_threecx_request(integration.delivery_endpoint, event, None, 1).body)
    assert body["data"]["payload"]["text"] == "my receipt\nhttps://media.example.com/r.jpg"
    event = received_event(alice_threecx_instance, message_text="", message_type="audio", metadata={})
    body = json.loads(build_threecx_request(integration.delivery_endpoint, event, None, 1).body)
    assert body["data"]["payload"]["text"] == "[audio]"


@pytest.mark.django_db
def test_signed_native_json_can_be_verified_with_the_integration_secret(integration, alice_threecx_instance, secret):
    integration_update(integration=integration, inbound_format="native_json")
    event = received_event(alice_threecx_instance)
    request = build_threecx_request(integration.delivery_endpoint, event, None, 1_800_000_000)
    body = json.loads(request.body)
    assert body["event"] == "message.received" and body["integration_id"] == integration.public_id
    assert (body["from"], body["message_text"], body["message_id"]) == (
        CUSTOMER,
        "Hello, is my order ready?",
        "in_0123456789",
    )
    assert request.headers["X-WhatsApp-Gateway-Timestamp"] == "1800000000"
    expected = hmac.new(secret.encode(), b"1800000000." + request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-WhatsApp-Gateway-Signature"] == f"sha256={expected}"


@pytest.mark.django_db
def test_the_portal_test_send_reaches_3cx_and_is_logged(alice_client, integration, pbx):
    integration_update(integration=integration, endpoint_url=pbx.url())
    response = alice_client.post(f"/integrations/3cx/{integration.public_id}/send-test", follow=True)
    assert "3CX answered HTTP 200" in response.content.decode()
    got = pbx.wait_for(1)[0]
    assert got.path == "/sms/generic/0123456789abcdef0123456789abcdef"
    assert got.json["data"]["event_type"] == "message.received"
    assert got.json["data"]["payload"]["text"].startswith("WhatsApp Gateway test")
    row = IntegrationEvent.objects.filter(integration=integration, direction="to_3cx").get()
    assert (row.event_type, row.decision, row.http_status) == ("test", "delivered", 200)


@pytest.mark.django_db
def test_a_failing_test_send_says_why(alice_client, integration, pbx):
    integration_update(integration=integration, endpoint_url=pbx.url())
    pbx.respond_with(500, {"error": "boom"})
    response = alice_client.post(f"/integrations/3cx/{integration.public_id}/send-test", follow=True)
    assert "The test did not reach 3CX: HTTP 500" in response.content.decode()
    assert IntegrationEvent.objects.get(direction="to_3cx").decision == "failed"


@pytest.mark.django_db
def test_forwarding_can_be_turned_back_on_after_3cx_answered_410(alice_client, integration):
    endpoint = integration.delivery_endpoint
    Endpoint.objects.filter(pk=endpoint.pk).update(is_enabled=False, disabled_reason="gone")
    page = alice_client.get(f"/integrations/3cx/{integration.public_id}").content.decode()
    assert "3CX stopped accepting our deliveries" in page
    alice_client.post(f"/integrations/3cx/{integration.public_id}/resume-forwarding")
    assert Endpoint.objects.get().is_enabled


@pytest.mark.django_db
def test_the_event_log_lists_deliveries_to_3cx(alice_client, integration, alice_threecx_instance):
    event = received_event(alice_threecx_instance)
    Delivery.objects.create(
        account=integration.account,
        endpoint=integration.delivery_endpoint,
        event=event,
        event_type=event.event_type,
        state="failed",
        attempts=10,
        last_status_code=503,
        last_error="HTTP 503",
    )
    page = alice_client.get(f"/integrations/3cx/{integration.public_id}/events").content.decode()
    assert "in_0123456789" in page and "HTTP 503" in page
