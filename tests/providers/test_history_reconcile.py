"""Reconciliation of lost provider webhooks: the periodic job reads message history and dispatches what no
callback delivered, deduplicated together with the callback route."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from tests.providers.conftest import post_callback
from whatsapp_gateway.instances.models import Instance, InstanceState
from whatsapp_gateway.providers.base import InboundMessage
from whatsapp_gateway.providers.http import use_transport
from whatsapp_gateway.providers.models import ProcessedProviderEvent
from whatsapp_gateway.providers.reconcile import instances_due_for_history_reconcile, provider_history_reconcile
from whatsapp_gateway.providers.tasks import provider_history_reconcile_periodic

pytestmark = pytest.mark.django_db
CUSTOMER = "+5511988887777"


@pytest.fixture(params=["evolution", "waha"])
def paired(request, client, django_capture_on_commit_callbacks):
    """(provider name, fake, connected instance) — paired through the real callback route."""
    name = request.param
    fake = request.getfixturevalue(f"fake_{name}")
    instance = request.getfixturevalue(f"{name}_instance")
    ref = instance.provider_ref
    if name == "waha":
        fake.sessions[ref].status = "SCAN_QR_CODE"
    callback = fake.pair(ref, phone="+5511900001111")
    assert post_callback(client, instance, callback, capture=django_capture_on_commit_callbacks).status_code == 200
    instance = Instance.objects.get(pk=instance.pk)
    assert instance.state == InstanceState.CONNECTED
    fake.clear()
    return name, fake, instance


def inbound(events):
    return [e for e in events if isinstance(e, InboundMessage)]


def test_a_message_whose_webhook_was_lost_is_recovered_from_history(paired, events_seen):
    _, fake, instance = paired
    fake.inbound(instance.provider_ref, phone=CUSTOMER, text="STOP")  # the webhook never reaches us

    result = provider_history_reconcile(instance=instance)

    (event,) = inbound(events_seen)
    assert (event.text, event.sender_phone, event.from_me) == ("STOP", CUSTOMER, False)
    assert (result.fetched, result.dispatched, result.duplicates) == (1, 1, 0)
    assert ProcessedProviderEvent.objects.filter(instance=instance, dedup_key=event.dedup_key).exists()


def test_a_message_the_webhook_delivered_is_not_dispatched_again(
    paired, events_seen, client, django_capture_on_commit_callbacks
):
    _, fake, instance = paired
    callback = fake.inbound(instance.provider_ref, phone=CUSTOMER, text="Where is my order?")
    post_callback(client, instance, callback, capture=django_capture_on_commit_callbacks)
    assert len(inbound(events_seen)) == 1

    result = provider_history_reconcile(instance=instance)

    assert len(inbound(events_seen)) == 1
    assert (result.dispatched, result.duplicates) == (0, 1)


def test_a_webhook_arriving_after_reconciliation_is_a_duplicate(
    paired, events_seen, client, django_capture_on_commit_callbacks
):
    _, fake, instance = paired
    late = fake.inbound(instance.provider_ref, phone=CUSTOMER, text="Hello")
    provider_history_reconcile(instance=instance)

    post_callback(client, instance, late, capture=django_capture_on_commit_callbacks)

    assert [e.text for e in inbound(events_seen)] == ["Hello"]


def test_running_twice_recovers_once(paired, events_seen):
    _, fake, instance = paired
    fake.inbound(instance.provider_ref, phone=CUSTOMER, text="Hi")
    provider_history_reconcile(instance=instance)
    second = provider_history_reconcile(instance=instance)
    assert len(inbound(events_seen)) == 1 and second.dispatched == 0


def test_only_the_lookback_window_is_read(paired, events_seen):
    _, fake, instance = paired
    fake.inbound(instance.provider_ref, phone=CUSTOMER, text="Old")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    assert provider_history_reconcile(instance=instance, since=later).dispatched == 0
    assert inbound(events_seen) == []


def test_a_provider_outage_is_logged_not_raised(paired, events_seen):
    *_, instance = paired
    with use_transport(httpx.MockTransport(lambda request: httpx.Response(503))):
        result = provider_history_reconcile(instance=instance)
    assert result.fetched == 0 and events_seen == []


def test_a_failing_handler_does_not_block_the_other_messages(paired, events_seen):
    from whatsapp_gateway.providers import dispatch

    _, fake, instance = paired
    fake.inbound(instance.provider_ref, phone=CUSTOMER, text="boom")
    fake.inbound(instance.provider_ref, phone="+5511977776666", text="fine")

    def explode(instance, event):
        if event.text == "boom":
            raise RuntimeError("handler bug")

    dispatch.register(InboundMessage, explode)
    try:
        result = provider_history_reconcile(instance=instance)
    finally:
        dispatch._HANDLERS[InboundMessage].remove(explode)

    assert (result.dispatched, result.failed) == (1, 1)
    processed = ProcessedProviderEvent.objects.filter(instance=instance, dedup_key__startswith="msg:")
    assert processed.count() == 1  # "boom" rolled back: not recorded as processed
    again = provider_history_reconcile(instance=instance)  # the handler is fixed: "boom" is recovered now
    assert (again.dispatched, again.duplicates, again.failed) == (1, 1, 0)


def test_the_periodic_job_covers_connected_history_instances_only(paired, owner_alice, events_seen):
    from tests.factories import make_instance as make_sandbox

    _, fake, instance = paired
    make_sandbox(owner_alice.account, name="sandbox-line", connected=True)
    fake.inbound(instance.provider_ref, phone=CUSTOMER, text="via the job")

    assert instances_due_for_history_reconcile() == [instance.pk]
    provider_history_reconcile_periodic.call_local()

    assert [e.text for e in inbound(events_seen)] == ["via the job"]


def test_a_disconnected_instance_is_not_read(paired, events_seen):
    _, fake, instance = paired
    Instance.objects.filter(pk=instance.pk).update(state=InstanceState.DISCONNECTED)
    instance.refresh_from_db()
    assert provider_history_reconcile(instance=instance).fetched == 0
    assert fake.requests == []
