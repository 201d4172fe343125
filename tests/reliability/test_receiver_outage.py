"""A customer's webhook receiver down for hours: deliveries wait on the retry schedule and all arrive once it is
back; nothing is lost and the endpoint is not disabled (that takes 5 days). Controllable clock (time-machine)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from tests.factories import make_instance
from tests.reliability.cluster import TALLY, Receiver
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.webhooks.endpoints import endpoint_create
from whatsapp_gateway.webhooks.models import Delivery, DeliveryState
from whatsapp_gateway.webhooks.outbox import event_emit
from whatsapp_gateway.webhooks.sweep import deliveries_sweep
from whatsapp_gateway.webhooks.worker import endpoint_deliver_due

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _local_receivers(settings):
    settings.GATEWAY_ALLOW_PRIVATE_WEBHOOKS = True


@pytest.mark.parametrize(("down_hours", "status"), [(3, 500), (7, 503), (30, 502)])
def test_deliveries_survive_a_receiver_outage_of_hours(owner_alice, down_hours, status):
    from whatsapp_gateway.webhooks.delivery import close_thread_clients

    receiver = Receiver()
    receiver.status = status
    try:
        instance = make_instance(owner_alice.account, connected=True)
        endpoint, _ = endpoint_create(
            account=owner_alice.account, instance=instance, url=receiver.url, events=["message.received"]
        )
        start = now()
        events = [
            event_emit(account=owner_alice.account, instance=instance, event_type="message.received", data={"n": n})
            for n in range(5)
        ]
        back_at = start + dt.timedelta(hours=down_hours)
        moment, attempts_while_down = start, 0
        # The worker: every 5 simulated minutes the due deliveries are attempted and the sweeper runs.
        while moment < back_at + dt.timedelta(hours=30):
            if moment >= back_at:
                receiver.status = 200
            with time_machine.travel(moment, tick=False):
                drained = endpoint_deliver_due(endpoint_id=endpoint.pk, time_budget=60)
                deliveries_sweep()
            if moment < back_at:
                attempts_while_down += drained.attempted
            if not Delivery.objects.filter(endpoint=endpoint, state=DeliveryState.PENDING).exists():
                break
            moment += dt.timedelta(minutes=5)
        endpoint.refresh_from_db()
    finally:
        close_thread_clients()
        receiver.close()
    delivered = {event.public_id for event in events if receiver.received[event.public_id] >= 1}
    TALLY["cases tried"] += 1
    TALLY["faults injected"] += attempts_while_down
    TALLY["items checked"] += len(events)
    TALLY["items lost"] += len(events) - len(delivered)
    assert len(delivered) == len(events)
    assert all(receiver.received[event.public_id] == 1 for event in events)  # a failed attempt delivered nothing
    assert endpoint.is_enabled
    assert attempts_while_down >= 5  # they were retried while it was down, on the schedule
    assert moment - back_at < dt.timedelta(hours=25)  # arrived on the next scheduled retry after recovery
