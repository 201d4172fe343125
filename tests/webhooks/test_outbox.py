"""The transactional outbox: deliveries are written with the event, sent after commit, never after a rollback."""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from standardwebhooks.webhooks import Webhook

from tests.factories import make_instance
from whatsapp_gateway.webhooks.endpoints import endpoint_create, endpoint_update
from whatsapp_gateway.webhooks.models import Delivery, DeliveryState, Event
from whatsapp_gateway.webhooks.outbox import event_emit

STATUS_DATA = {
    "message_id": "msg_1",
    "log_id": 7,
    "phone": "+966512345678",
    "status": "sent",
    "previous_status": "sending",
}


def test_it_delivers_a_signed_event_after_commit(
    alice_endpoint, alice_sandbox_instance, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        event = event_emit(
            account=alice_sandbox_instance.account,
            instance=alice_sandbox_instance,
            event_type="message.sent",
            data=STATUS_DATA,
        )
        assert Delivery.objects.get(event=event).state == DeliveryState.PENDING
        assert len(receiver.log) == 0  # nothing leaves before the commit
    delivery = Delivery.objects.get(event=event)
    assert delivery.state == DeliveryState.SENT
    request, _response = receiver.log[0]
    body = request.get_data()
    assert json.loads(body)["event_id"] == event.public_id
    assert request.headers["webhook-id"] == event.public_id
    assert request.headers["X-WhatsApp-Gateway-Event"] == "message.sent"
    assert request.headers["User-Agent"].startswith("WhatsAppGateway-Webhooks/")
    Webhook(alice_endpoint.plain_secret).verify(body, dict(request.headers))


def test_nothing_is_delivered_for_an_event_whose_transaction_rolled_back(
    alice_endpoint, alice_sandbox_instance, receiver, django_capture_on_commit_callbacks
):
    class Boom(Exception):
        pass

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(Boom), transaction.atomic():
        event_emit(
            account=alice_sandbox_instance.account,
            instance=alice_sandbox_instance,
            event_type="message.sent",
            data=STATUS_DATA,
        )
        raise Boom
    assert callbacks == []
    assert not Event.objects.filter(event_type="message.sent").exists()
    assert Delivery.objects.count() == 0
    assert receiver.log == []


def test_only_enabled_subscribed_endpoints_of_the_instance_get_a_delivery(
    owner_alice, alice_sandbox_instance, httpserver
):
    account = owner_alice.account
    other_instance = make_instance(account, name="other-line")
    url = httpserver.url_for("/hook")
    httpserver.expect_request("/hook").respond_with_data("ok")
    subscribed, _ = endpoint_create(
        account=account, instance=alice_sandbox_instance, url=url, events=["message.received"]
    )
    not_subscribed, _ = endpoint_create(
        account=account, instance=alice_sandbox_instance, url=url, events=["message.sent"]
    )
    other, _ = endpoint_create(account=account, instance=other_instance, url=url, events=["message.received"])
    account_wide, _ = endpoint_create(account=account, instance=None, url=url, events=["message.received"])
    disabled, _ = endpoint_create(
        account=account, instance=alice_sandbox_instance, url=url, events=["message.received"]
    )
    endpoint_update(endpoint=disabled, is_enabled=False)

    event = event_emit(
        account=account, instance=alice_sandbox_instance, event_type="message.received", data={"from": "+1"}
    )

    assert set(Delivery.objects.filter(event=event).values_list("endpoint_id", flat=True)) == {
        subscribed.pk,
        account_wide.pk,
    }
    assert {not_subscribed.pk, other.pk, disabled.pk}.isdisjoint(Delivery.objects.values_list("endpoint_id", flat=True))


def test_it_refuses_unknown_event_types(owner_alice):
    with pytest.raises(ValueError):
        event_emit(account=owner_alice.account, event_type="message.exploded", data={})


def test_the_payload_is_flat_with_the_common_fields_first(alice_sandbox_instance):
    event = event_emit(
        account=alice_sandbox_instance.account,
        instance=alice_sandbox_instance,
        event_type="message.sent",
        data=STATUS_DATA,
    )
    assert list(event.payload)[:5] == ["event", "event_id", "occurred_at", "instance_id", "instance_name"]
    assert event.payload["instance_id"] == alice_sandbox_instance.public_id
    assert event.payload["error_code"] is None
    assert event.payload["occurred_at"].endswith("Z")
