"""Customers' WhatsApp messages reach 3CX: through the sandbox pipeline, the inbound forwarder and the delivery
engine, to a fake 3CX on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import pytest
import time_machine

from tests.factories import make_instance
from whatsapp_gateway.inbound.models import InboundMessage
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.providers.sandbox import simulate
from whatsapp_gateway.threecx.delivery import threecx_deliveries_sync
from whatsapp_gateway.threecx.models import IntegrationEvent
from whatsapp_gateway.threecx.pbx_simulator import PbxSimulator
from whatsapp_gateway.threecx.services import did_mapping_add, integration_create, integration_update
from whatsapp_gateway.webhooks.models import Delivery
from whatsapp_gateway.webhooks.sweep import deliveries_sweep

CUSTOMER = "+966512345678"


@pytest.fixture
def pbx(settings):
    settings.GATEWAY_ALLOW_PRIVATE_WEBHOOKS = True  # the fake 3CX listens on 127.0.0.1
    with PbxSimulator() as fake:
        yield fake


@pytest.fixture
def line(owner_alice):
    return make_instance(owner_alice.account, name="support-line", connected=True)


@pytest.fixture
def bridge(owner_alice, line, pbx):
    integration, credentials = integration_create(
        account=owner_alice.account, name="3CX", default_instance=line, endpoint_url=pbx.url()
    )
    integration.plain_secret = credentials.secret
    return integration


def customer_writes(instance, text, capture, phone=CUSTOMER):
    with capture(execute=True):
        simulate.inbound(instance=instance, from_phone=phone, text=text, from_name="Maria")
    return InboundMessage.objects.filter(instance=instance).latest("id")


@pytest.mark.django_db
def test_a_customers_message_reaches_3cx_in_the_generic_sms_envelope(
    bridge, line, pbx, django_capture_on_commit_callbacks
):
    did_mapping_add(integration=bridge, did="+13052314933", instance=line)
    inbound = customer_writes(line, "Hello, is my order ready?", django_capture_on_commit_callbacks)

    got = pbx.wait_for(1)[0]
    assert got.path == "/sms/generic/0123456789abcdef0123456789abcdef"
    assert got.headers["Content-Type"] == "application/json"
    assert "Authorization" not in got.headers
    data = got.json["data"]
    assert (data["event_type"], data["record_type"]) == ("message.received", "event")
    assert data["payload"]["id"] == inbound.public_id
    assert data["payload"]["text"] == "Hello, is my order ready?"
    assert data["payload"]["from"] == {"phone_number": CUSTOMER}
    assert data["payload"]["to"] == [{"phone_number": "+13052314933"}]
    assert (data["payload"]["direction"], data["payload"]["type"]) == ("inbound", "SMS")

    assert threecx_deliveries_sync() == 1
    row = IntegrationEvent.objects.get(integration=bridge, direction="to_3cx")
    assert (row.decision, row.http_status, row.message_id, row.phone_masked) == (
        "delivered",
        200,
        inbound.public_id,
        "+9665****5678",
    )
    inbound.refresh_from_db()
    assert inbound.forwarding_status == "forwarded"


@pytest.mark.django_db
def test_an_opt_out_is_not_forwarded_as_a_message(bridge, line, pbx, django_capture_on_commit_callbacks):
    inbound = customer_writes(line, "STOP", django_capture_on_commit_callbacks)
    assert inbound.is_opt_out
    assert pbx.received == []
    assert not Delivery.objects.filter(endpoint=bridge.delivery_endpoint).exists()
    row = IntegrationEvent.objects.get(integration=bridge, direction="to_3cx")
    assert (row.decision, row.code) == ("skipped", "opt_out")
    inbound.refresh_from_db()
    assert inbound.forwarding_status == "skipped"


@pytest.mark.django_db
def test_group_messages_and_other_instances_are_not_forwarded(
    bridge, owner_alice, line, pbx, django_capture_on_commit_callbacks
):
    other = make_instance(owner_alice.account, name="sales-line", connected=True)
    with django_capture_on_commit_callbacks(execute=True):
        simulate.group_message(instance=line, from_phone=CUSTOMER, text="Hi all", group_name="Team")
    customer_writes(other, "Hello sales", django_capture_on_commit_callbacks)
    assert pbx.received == []
    assert not IntegrationEvent.objects.filter(direction="to_3cx").exists()


@pytest.mark.django_db
def test_nothing_is_forwarded_when_inbound_is_off(bridge, line, pbx, django_capture_on_commit_callbacks):
    integration_update(integration=bridge, inbound_enabled=False)
    customer_writes(line, "Hello?", django_capture_on_commit_callbacks)
    assert pbx.received == []


@pytest.mark.django_db
def test_a_failed_delivery_is_retried_until_3cx_accepts_it(bridge, line, pbx, django_capture_on_commit_callbacks):
    pbx.respond_with(503)
    start = now()
    with time_machine.travel(start, tick=False):
        inbound = customer_writes(line, "Anyone there?", django_capture_on_commit_callbacks)
    pbx.wait_for(1)
    delivery = Delivery.objects.get(endpoint=bridge.delivery_endpoint)
    assert (delivery.state, delivery.last_status_code) == ("pending", 503)
    assert threecx_deliveries_sync() == 0  # still pending

    with (
        time_machine.travel(start + dt.timedelta(minutes=10), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        deliveries_sweep()
    second = pbx.wait_for(2)[1]
    assert second.json["data"]["id"] == pbx.received[0].json["data"]["id"]  # the same event id on every retry
    delivery.refresh_from_db()
    assert delivery.state == "sent"
    threecx_deliveries_sync()
    inbound.refresh_from_db()
    assert inbound.forwarding_status == "forwarded"


@pytest.mark.django_db
def test_signed_native_json_is_delivered_when_chosen(bridge, line, pbx, django_capture_on_commit_callbacks):
    integration_update(integration=bridge, inbound_format="native_json")
    inbound = customer_writes(line, "Hi there", django_capture_on_commit_callbacks)
    got = pbx.wait_for(1)[0]
    assert got.json["event"] == "message.received" and got.json["message_id"] == inbound.public_id
    assert got.json["from"] == CUSTOMER and got.json["from_name"] == "Maria"
    timestamp = got.headers["X-WhatsApp-Gateway-Timestamp"]
    expected = hmac.new(bridge.plain_secret.encode(), timestamp.encode() + b"." + got.body, hashlib.sha256)
    assert got.headers["X-WhatsApp-Gateway-Signature"] == f"sha256={expected.hexdigest()}"


@pytest.mark.django_db
def test_the_event_log_page_shows_the_delivery(alice_client, bridge, line, pbx, django_capture_on_commit_callbacks):
    inbound = customer_writes(line, "Hello", django_capture_on_commit_callbacks)
    pbx.wait_for(1)
    page = alice_client.get(f"/integrations/3cx/{bridge.public_id}/events").content.decode()
    assert "Delivered to 3CX" in page and inbound.public_id in page


@pytest.mark.django_db
def test_the_delivery_pages_never_show_the_3cx_webhook_url_in_full(
    alice_client, bridge, line, pbx, django_capture_on_commit_callbacks
):
    customer_writes(line, "Hello", django_capture_on_commit_callbacks)
    pbx.wait_for(1)
    delivery = Delivery.objects.get(endpoint=bridge.delivery_endpoint)
    endpoint_id = bridge.delivery_endpoint.public_id
    pages = {
        "delivery log": f"/webhooks/{endpoint_id}/deliveries",
        "delivery": f"/webhooks/{endpoint_id}/deliveries/{delivery.public_id}",
        "event": f"/webhooks/events/{delivery.event.public_id}",
        "instance deliveries": f"/instances/{line.public_id}/webhook/deliveries",
    }
    token = "0123456789abcdef0123456789abcdef"  # the credential in the 3CX Webhook URL path
    for name, path in pages.items():
        response = alice_client.get(path)
        assert response.status_code == 200, name
        page = response.content.decode()
        assert token not in page, name
    assert f"http://127.0.0.1:{pbx.port}/sms/…cdef" in alice_client.get(pages["delivery log"]).content.decode()


@pytest.mark.django_db
def test_nothing_is_forwarded_once_the_operator_turns_the_module_off(
    bridge, line, pbx, owner_alice, django_capture_on_commit_callbacks
):
    account = owner_alice.account
    account.enabled_modules = [m for m in account.enabled_modules if m != "threecx"]
    account.save()
    inbound = customer_writes(line, "Hello?", django_capture_on_commit_callbacks)
    assert pbx.received == []
    assert not Delivery.objects.filter(endpoint=bridge.delivery_endpoint).exists()
    row = IntegrationEvent.objects.get(integration=bridge, direction="to_3cx")
    assert (row.decision, row.code, row.message_id) == ("skipped", "module_not_enabled", inbound.public_id)
