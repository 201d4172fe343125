"""Old webhook data goes with the retention job: bodies redacted, old deliveries and events deleted."""

from __future__ import annotations

import datetime as dt

import time_machine

from whatsapp_gateway.lib.retention import purgers, retention_run
from whatsapp_gateway.webhooks.models import Delivery, DeliveryAttempt, DeliveryState, Event
from whatsapp_gateway.webhooks.outbox import event_emit
from whatsapp_gateway.webhooks.worker import endpoint_deliver_due

DATA = {
    "from": "+966512345678",
    "from_name": "Maria",
    "message_text": "My address is 5 Secret St",
    "message_type": "text",
}


def test_the_purger_is_registered():
    assert "webhook_deliveries" in purgers()


def test_retention_redacts_bodies_then_deletes_old_rows(alice_endpoint, alice_sandbox_instance, httpserver, settings):
    settings.GATEWAY_RETENTION_BODY_DAYS = 30
    settings.GATEWAY_RETENTION_METADATA_DAYS = 365
    httpserver.expect_request("/hook").respond_with_data("thanks Maria")
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        sent = event_emit(
            account=alice_sandbox_instance.account,
            instance=alice_sandbox_instance,
            event_type="message.received",
            data=DATA,
        )
        endpoint_deliver_due(endpoint_id=alice_endpoint.pk)
        httpserver.clear()  # the receiver is gone: the next event stays pending
        pending = event_emit(
            account=alice_sandbox_instance.account,
            instance=alice_sandbox_instance,
            event_type="message.received",
            data=DATA,
        )
    with time_machine.travel(start + dt.timedelta(days=31), tick=False):
        result = retention_run()["webhook_deliveries"]
    assert result["events_redacted"] == 1
    sent.refresh_from_db()
    assert sent.is_redacted and sent.payload["message_text"] is None and sent.payload["from"] == "+966512345678"
    assert not DeliveryAttempt.objects.exclude(response_excerpt="").exists()
    pending.refresh_from_db()
    assert pending.payload["message_text"] == DATA["message_text"]  # still to be delivered
    with time_machine.travel(start + dt.timedelta(days=366), tick=False):
        Delivery.objects.filter(event=pending).update(state=DeliveryState.FAILED)
        result = retention_run()["webhook_deliveries"]
    assert result["deliveries_deleted"] == 2
    assert not Event.objects.filter(pk__in=[sent.pk, pending.pk]).exists()
