"""End to end through the delivery worker: the 24 h rotation overlap on real requests (both signatures, checked by
the standardwebhooks library and an independent seed HMAC), and the SSRF matrix refused at delivery time too."""

from __future__ import annotations

import datetime as dt
import socket

import pytest
import time_machine
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.lib.test_urlsafety import BLOCKED_URLS
from tests.webhooks.test_signing import independent_seed_hmac
from whatsapp_gateway.webhooks import sweep
from whatsapp_gateway.webhooks.endpoints import endpoint_rotate_secret
from whatsapp_gateway.webhooks.models import Delivery, DeliveryState, Endpoint
from whatsapp_gateway.webhooks.outbox import event_emit
from whatsapp_gateway.webhooks.worker import endpoint_deliver_due

START = dt.datetime(2026, 11, 24, 10, 0, 0, tzinfo=dt.UTC)
DATA = {"from": "+966512345678", "message_text": "Hello", "message_type": "text"}


def emit_and_run(endpoint: Endpoint) -> Delivery:
    event = event_emit(account=endpoint.account, instance=endpoint.instance, event_type="message.received", data=DATA)
    endpoint_deliver_due(endpoint_id=endpoint.pk)
    return Delivery.objects.get(event=event)


def last_request(httpserver):
    request, _response = httpserver.log[-1]
    return request.get_data(), dict(request.headers)


def seed_parts(headers: dict) -> list[str]:
    return headers["X-Whatsapp-Gateway-Signature"].split(",")


def test_during_the_24_hour_overlap_deliveries_carry_both_signatures_then_only_the_new_one(alice_endpoint, receiver):
    old = alice_endpoint.plain_secret
    with time_machine.travel(START, tick=False) as clock:
        emit_and_run(alice_endpoint)
        body, headers = last_request(receiver)
        assert len(headers["Webhook-Signature"].split(" ")) == 1
        assert seed_parts(headers) == [independent_seed_hmac(old, headers["Webhook-Timestamp"], body)]

        _endpoint, new = endpoint_rotate_secret(endpoint=alice_endpoint)
        clock.shift(23 * 3600 + 59 * 60)  # still inside the overlap
        delivery = emit_and_run(alice_endpoint)
        assert delivery.state == DeliveryState.SENT
        body, headers = last_request(receiver)
        assert headers["Webhook-Id"] == delivery.event.public_id
        assert len(headers["Webhook-Signature"].split(" ")) == 2
        # A receiver still on the old secret and one already on the new secret both accept the same request.
        Webhook(old).verify(body, headers)
        Webhook(new).verify(body, headers)
        timestamp = headers["Webhook-Timestamp"]
        assert seed_parts(headers) == [
            independent_seed_hmac(new, timestamp, body),
            independent_seed_hmac(old, timestamp, body),
        ]

        clock.shift(2 * 60)  # the overlap is over
        emit_and_run(alice_endpoint)
        body, headers = last_request(receiver)
        assert len(headers["Webhook-Signature"].split(" ")) == 1
        Webhook(new).verify(body, headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(old).verify(body, headers)
        assert seed_parts(headers) == [independent_seed_hmac(new, headers["Webhook-Timestamp"], body)]

        sweep.deliveries_sweep()  # the sweeper forgets the expired secret
        alice_endpoint.refresh_from_db()
        assert alice_endpoint.previous_secret == "" and alice_endpoint.previous_secret_expires_at is None


@pytest.fixture
def public_dns(monkeypatch):
    """Every host name resolves to a public address, except names under ``internal.test`` (10.0.0.7)."""
    asked: list[str] = []

    def fake_getaddrinfo(host, port, *args, **kwargs):
        asked.append(host)
        address = "10.0.0.7" if str(host).endswith("internal.test") else "93.184.216.34"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 443))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    return asked


def store_url(endpoint: Endpoint, url: str) -> None:
    # Bypass the form check: the URL was accepted once (or the rules/DNS changed since); every attempt re-checks.
    endpoint.url = url
    endpoint.save(update_fields=["url"])


@pytest.mark.parametrize("url", [*BLOCKED_URLS, "https://hooks.internal.test/in"])
def test_every_blocked_form_is_refused_at_delivery_time_without_a_connection(
    alice_endpoint, receiver, settings, public_dns, url
):
    settings.GATEWAY_ALLOW_PRIVATE_WEBHOOKS = False
    store_url(alice_endpoint, url)
    delivery = emit_and_run(alice_endpoint)
    assert delivery.state == DeliveryState.BLOCKED
    attempt = delivery.attempt_log.get()
    assert attempt.outcome == DeliveryState.BLOCKED and attempt.status_code is None
    assert attempt.error.startswith("blocked: ") and len(attempt.error) > len("blocked: ")
    assert receiver.log == []


def test_a_host_that_starts_resolving_to_a_private_address_is_blocked_at_the_next_attempt(
    alice_endpoint, receiver, settings, public_dns
):
    settings.GATEWAY_ALLOW_PRIVATE_WEBHOOKS = False
    store_url(alice_endpoint, "https://hooks.internal.test/in")
    delivery = emit_and_run(alice_endpoint)
    assert delivery.last_error == (
        "blocked: hooks.internal.test resolves to 10.0.0.7, which is in the non-public range 10.0.0.0/8"
    )
    assert "hooks.internal.test" in public_dns  # resolved at attempt time, not taken from the form's check
