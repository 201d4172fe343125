"""The delivery log pages: per endpoint, per event, attempts, resend one, resend failed since; tenant isolation."""

from __future__ import annotations

import datetime as dt

from tests.isolation import assert_other_account_gets_404
from whatsapp_gateway.accounts.models import AuditLog
from whatsapp_gateway.webhooks.models import Delivery, DeliveryState
from whatsapp_gateway.webhooks.outbox import event_emit
from whatsapp_gateway.webhooks.worker import endpoint_deliver_due

DATA = {"from": "+966512345678", "message_text": "Hello", "message_type": "text"}


def failed_delivery(endpoint, instance, httpserver):
    httpserver.expect_oneshot_request("/hook").respond_with_data("nope", status=400)
    event = event_emit(account=instance.account, instance=instance, event_type="message.received", data=DATA)
    Delivery.objects.filter(event=event).update(attempts=9)  # the last retry
    endpoint_deliver_due(endpoint_id=endpoint.pk)
    delivery = Delivery.objects.get(event=event)
    assert delivery.state == DeliveryState.FAILED
    return delivery


def test_the_log_lists_deliveries_with_state_and_links(
    alice_client, alice_endpoint, alice_sandbox_instance, httpserver
):
    delivery = failed_delivery(alice_endpoint, alice_sandbox_instance, httpserver)
    page = alice_client.get(f"/webhooks/{alice_endpoint.public_id}/deliveries")
    assert page.status_code == 200
    html = page.content.decode()
    assert delivery.event.public_id in html
    assert "Failed: 1" in html
    by_instance = alice_client.get(f"/instances/{alice_sandbox_instance.public_id}/webhook/deliveries")
    assert delivery.event.public_id in by_instance.content.decode()
    filtered = alice_client.get(f"/webhooks/{alice_endpoint.public_id}/deliveries?state=sent")
    assert delivery.event.public_id not in filtered.content.decode()


def test_the_detail_shows_every_attempt_with_status_latency_and_response(
    alice_client, alice_endpoint, alice_sandbox_instance, httpserver
):
    delivery = failed_delivery(alice_endpoint, alice_sandbox_instance, httpserver)
    html = alice_client.get(f"/webhooks/{alice_endpoint.public_id}/deliveries/{delivery.public_id}").content.decode()
    assert "400" in html and "nope" in html and " ms" in html
    event_page = alice_client.get(f"/webhooks/events/{delivery.event.public_id}").content.decode()
    assert delivery.public_id in event_page


def test_resend_one_delivers_it_again_with_the_same_webhook_id(
    alice_client, alice_endpoint, alice_sandbox_instance, httpserver, django_capture_on_commit_callbacks
):
    delivery = failed_delivery(alice_endpoint, alice_sandbox_instance, httpserver)
    httpserver.expect_request("/hook").respond_with_data("ok")
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(f"/webhooks/{alice_endpoint.public_id}/deliveries/{delivery.public_id}/resend")
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.SENT
    assert delivery.resend_count == 1
    ids = [req.headers["webhook-id"] for req, _ in httpserver.log]
    assert ids == [delivery.event.public_id, delivery.event.public_id]
    assert AuditLog.objects.filter(action="webhook.resent").exists()
    assert list(delivery.attempt_log.values_list("trigger", flat=True)) == ["resend", "auto"]
    html = alice_client.get(f"/webhooks/{alice_endpoint.public_id}/deliveries/{delivery.public_id}").content.decode()
    assert '<span class="badge">resend</span>' in html


def test_resend_all_failed_since_a_time(
    alice_client, alice_endpoint, alice_sandbox_instance, httpserver, django_capture_on_commit_callbacks
):
    old = failed_delivery(alice_endpoint, alice_sandbox_instance, httpserver)
    Delivery.objects.filter(pk=old.pk).update(created_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    recent = [failed_delivery(alice_endpoint, alice_sandbox_instance, httpserver) for _ in range(3)]
    httpserver.expect_request("/hook").respond_with_data("ok")
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            f"/webhooks/{alice_endpoint.public_id}/resend-failed", {"since": "2021-01-01T00:00"}
        )
    assert response.status_code == 302
    assert {d.state for d in Delivery.objects.filter(pk__in=[d.pk for d in recent])} == {DeliveryState.SENT}
    old.refresh_from_db()
    assert old.state == DeliveryState.FAILED


def test_members_can_read_the_log_but_not_resend(bob_client, alice_endpoint, alice_sandbox_instance, httpserver):
    delivery = failed_delivery(alice_endpoint, alice_sandbox_instance, httpserver)
    assert bob_client.get(f"/webhooks/{alice_endpoint.public_id}/deliveries").status_code == 200
    response = bob_client.post(f"/webhooks/{alice_endpoint.public_id}/deliveries/{delivery.public_id}/resend")
    assert response.status_code == 403


def test_another_account_gets_404_for_every_log_url(charlie_client, alice_endpoint, alice_sandbox_instance, httpserver):
    delivery = failed_delivery(alice_endpoint, alice_sandbox_instance, httpserver)
    base = f"/webhooks/{alice_endpoint.public_id}"
    for url in (
        f"{base}/deliveries",
        f"{base}/deliveries/{delivery.public_id}",
        f"/webhooks/events/{delivery.event.public_id}",
        f"/instances/{alice_sandbox_instance.public_id}/webhook/deliveries",
    ):
        assert_other_account_gets_404(charlie_client, url)
    for url in (f"{base}/deliveries/{delivery.public_id}/resend", f"{base}/resend-failed"):
        assert_other_account_gets_404(charlie_client, url, methods=("post",))
    delivery.refresh_from_db()
    assert delivery.resend_count == 0
