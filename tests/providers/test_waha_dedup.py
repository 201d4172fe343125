"""WAHA deduplication through the real callback route: the event ``id`` (a ULID) identifies a webhook across WAHA's
retries, and a message delivered as both ``message`` and ``message.any`` is handled once."""

from __future__ import annotations

import pytest

from tests.providers.conftest import post_callback
from whatsapp_gateway.inbound.models import InboundMessage
from whatsapp_gateway.instances.models import Instance, InstanceState
from whatsapp_gateway.providers.base import ConnectionUpdate
from whatsapp_gateway.providers.models import ProcessedProviderEvent, ProviderCallback

pytestmark = pytest.mark.django_db
OWN, CUSTOMER = "+5511900001111", "+5511988887777"


@pytest.fixture
def paired(waha_instance, fake_waha, client, django_capture_on_commit_callbacks):
    post_callback(
        client,
        waha_instance,
        fake_waha.pair(waha_instance.provider_ref, phone=OWN),
        capture=django_capture_on_commit_callbacks,
    )
    instance = Instance.objects.get(pk=waha_instance.pk)
    assert instance.state == InstanceState.CONNECTED
    return instance


def test_a_retried_event_is_stored_once_and_its_event_id_is_the_dedup_key(
    paired, fake_waha, client, events_seen, django_capture_on_commit_callbacks
):
    callback = fake_waha.status_callback(paired.provider_ref, "STOPPED")
    event_id = callback.json["id"]
    retry_headers = fake_waha.sign(paired.provider_ref, callback.body)  # WAHA re-signs: new X-Webhook-Request-Id
    assert retry_headers["X-Webhook-Request-Id"] != callback.headers["X-Webhook-Request-Id"]

    with django_capture_on_commit_callbacks(execute=True):
        first = post_callback(client, paired, callback)
        retry = post_callback(client, paired, type(callback)(body=callback.body, headers=retry_headers))

    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.json() == {"success": True, "duplicate": True}
    assert [e.state for e in events_seen if isinstance(e, ConnectionUpdate)] == [InstanceState.DISCONNECTED]
    assert ProcessedProviderEvent.objects.filter(instance=paired, dedup_key=f"conn:{event_id}").count() == 1


def test_two_events_with_their_own_ids_are_both_handled(paired, fake_waha, client, events_seen, capture_all):
    with capture_all():
        post_callback(client, paired, fake_waha.status_callback(paired.provider_ref, "STOPPED"))
        post_callback(client, paired, fake_waha.status_callback(paired.provider_ref, "STOPPED"))

    assert len([e for e in events_seen if isinstance(e, ConnectionUpdate)]) == 2


def test_message_and_message_any_of_the_same_message_give_one_inbound_message(paired, fake_waha, client, capture_all):
    message = fake_waha.inbound(paired.provider_ref, phone=CUSTOMER, text="Where is my order?")
    echo = fake_waha.callback(paired.provider_ref, "message.any", message.json["payload"])
    assert echo.json["id"] != message.json["id"]

    with capture_all():
        post_callback(client, paired, message)
        post_callback(client, paired, echo)

    assert ProviderCallback.objects.filter(instance=paired).count() == 3  # pairing + both deliveries stored
    row = InboundMessage.objects.get(instance=paired)
    assert (row.sender_phone, row.text) == (CUSTOMER, "Where is my order?")


@pytest.fixture
def capture_all(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)
