"""The delivery worker: retry schedule, Retry-After, 410, 5-day disable, redirects, blocked URLs, leases, sweeper."""

from __future__ import annotations

import datetime as dt
import gzip

import pytest
import time_machine
from django.core import mail

from whatsapp_gateway.webhooks import endpoints, sweep, worker
from whatsapp_gateway.webhooks.models import (
    Delivery,
    DeliveryState,
    DisabledReason,
    Endpoint,
    EndpointLease,
)
from whatsapp_gateway.webhooks.outbox import event_emit
from whatsapp_gateway.webhooks.worker import RETRY_SCHEDULE, endpoint_deliver_due

START = dt.datetime(2026, 11, 24, 10, 0, 0, tzinfo=dt.UTC)
DATA = {"from": "+966512345678", "message_text": "Hello", "message_type": "text"}


def emit(instance):
    return event_emit(account=instance.account, instance=instance, event_type="message.received", data=DATA)


def run(endpoint):
    return endpoint_deliver_due(endpoint_id=endpoint.pk)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def test_failures_follow_the_retry_schedule_with_jitter_then_fail_for_good(
    alice_endpoint, alice_sandbox_instance, httpserver, clock
):
    httpserver.expect_request("/hook").respond_with_data("down", status=500)
    delivery = Delivery.objects.get(event=emit(alice_sandbox_instance))
    run(alice_endpoint)
    for number, base in enumerate(RETRY_SCHEDULE, start=1):
        delivery.refresh_from_db()
        assert delivery.state == DeliveryState.PENDING
        assert delivery.attempts == number
        waited = (delivery.next_attempt_at - worker.now()).total_seconds()
        assert base * 0.9 <= waited <= base * 1.1, (number, waited)
        clock.shift(waited - 1)
        assert run(alice_endpoint).attempted == 0  # not due yet
        clock.shift(1)
        assert run(alice_endpoint).attempted == 1
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.FAILED
    assert delivery.attempts == len(RETRY_SCHEDULE) + 1 == 10
    assert delivery.attempt_log.count() == 10
    assert delivery.last_status_code == 500
    attempt = delivery.attempt_log.first()
    assert attempt.response_excerpt == "down"
    assert attempt.latency_ms is not None


def test_a_success_after_failures_marks_it_sent_and_resets_the_streak(
    alice_endpoint, alice_sandbox_instance, httpserver, clock
):
    httpserver.expect_oneshot_request("/hook").respond_with_data("no", status=502)
    httpserver.expect_request("/hook").respond_with_data("ok", status=204)
    delivery = Delivery.objects.get(event=emit(alice_sandbox_instance))
    run(alice_endpoint)
    alice_endpoint.refresh_from_db()
    assert alice_endpoint.failing_since == START
    clock.shift(6)
    run(alice_endpoint)
    delivery.refresh_from_db()
    alice_endpoint.refresh_from_db()
    assert delivery.state == DeliveryState.SENT
    assert delivery.last_status_code == 204
    assert alice_endpoint.failing_since is None
    assert alice_endpoint.last_success_at is not None


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured_on_429_and_503(alice_endpoint, alice_sandbox_instance, httpserver, clock, status):
    httpserver.expect_oneshot_request("/hook").respond_with_data(
        "slow down", status=status, headers={"Retry-After": "120"}
    )
    httpserver.expect_request("/hook").respond_with_data("ok")
    first = Delivery.objects.get(event=emit(alice_sandbox_instance))
    second = Delivery.objects.get(event=emit(alice_sandbox_instance))
    result = run(alice_endpoint)
    assert result.attempted == 1  # the batch stops at the first throttle answer
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.next_attempt_at == START + dt.timedelta(seconds=120)
    assert second.attempts == 0
    clock.shift(60)
    assert run(alice_endpoint).stopped == "throttled"  # the whole endpoint waits
    clock.shift(61)
    assert run(alice_endpoint).attempted == 2
    assert set(Delivery.objects.values_list("state", flat=True)) == {DeliveryState.SENT}


def test_retry_after_as_an_http_date_is_honoured(alice_endpoint, alice_sandbox_instance, httpserver, clock):
    httpserver.expect_request("/hook").respond_with_data(
        "", status=429, headers={"Retry-After": "Tue, 24 Nov 2026 10:10:00 GMT"}
    )
    delivery = Delivery.objects.get(event=emit(alice_sandbox_instance))
    run(alice_endpoint)
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == START + dt.timedelta(minutes=10)


def test_410_gone_disables_the_endpoint_and_tells_the_owner(
    alice_endpoint, alice_sandbox_instance, httpserver, alice_client, django_capture_on_commit_callbacks
):
    httpserver.expect_request("/hook").respond_with_data("gone", status=410)
    with django_capture_on_commit_callbacks(execute=True):
        event = emit(alice_sandbox_instance)
    delivery = Delivery.objects.get(event=event)
    alice_endpoint.refresh_from_db()
    assert delivery.state == DeliveryState.FAILED
    assert not alice_endpoint.is_enabled
    assert alice_endpoint.disabled_reason == DisabledReason.GONE
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["alice@example.com"]
    page = alice_client.get("/docs")
    assert b"webhook-disabled-banner" in page.content
    # a disabled endpoint gets no new deliveries
    emit(alice_sandbox_instance)
    assert Delivery.objects.filter(endpoint=alice_endpoint).count() == 1


def test_five_days_of_continuous_failure_disable_the_endpoint(
    alice_endpoint, alice_sandbox_instance, httpserver, clock, alice_client, django_capture_on_commit_callbacks
):
    httpserver.expect_request("/hook").respond_with_data("broken", status=500)
    emit(alice_sandbox_instance)
    run(alice_endpoint)
    for _half_day in range(9):
        clock.shift(12 * 3600)
        emit(alice_sandbox_instance)
        with django_capture_on_commit_callbacks(execute=True):
            run(alice_endpoint)
    alice_endpoint.refresh_from_db()
    assert alice_endpoint.is_enabled  # 4 days 12 hours of failures
    assert mail.outbox == []
    clock.shift(12 * 3600)
    emit(alice_sandbox_instance)
    with django_capture_on_commit_callbacks(execute=True):
        run(alice_endpoint)
    alice_endpoint.refresh_from_db()
    assert not alice_endpoint.is_enabled
    assert alice_endpoint.disabled_reason == DisabledReason.FAILING
    assert len(mail.outbox) == 1
    assert "disabled" in mail.outbox[0].subject
    assert "webhook-disabled-banner" in alice_client.get("/docs").content.decode()
    # what was still pending fails when the worker next looks
    run(alice_endpoint)
    assert not Delivery.objects.filter(endpoint=alice_endpoint, state=DeliveryState.PENDING).exists()


def test_a_redirect_is_a_failure_and_is_not_followed(alice_endpoint, alice_sandbox_instance, httpserver):
    httpserver.expect_request("/hook").respond_with_data("", status=302, headers={"Location": "http://10.0.0.1/"})
    httpserver.expect_request("/elsewhere").respond_with_data("should not be reached")
    delivery = Delivery.objects.get(event=emit(alice_sandbox_instance))
    run(alice_endpoint)
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.PENDING and delivery.attempts == 1
    assert "redirect not followed" in delivery.last_error
    assert [req.path for req, _ in httpserver.log] == ["/hook"]


def test_the_log_keeps_the_first_kilobyte_of_any_answer(alice_endpoint, alice_sandbox_instance, httpserver):
    # Binary with NUL bytes (not storable as PostgreSQL text as is), longer than the excerpt, gzip-compressed by
    # a receiver that compresses although it was not asked to, and larger than what is read at all (64 KB).
    binary = b"ok\x00" + bytes(range(1, 256)) * 20
    compressed = gzip.compress(("accepted " * 500).encode())
    huge = b"x" * (200 * 1024)
    httpserver.expect_ordered_request("/hook").respond_with_data(binary, status=200)
    httpserver.expect_ordered_request("/hook").respond_with_data(
        compressed, status=200, headers={"Content-Encoding": "gzip"}
    )
    httpserver.expect_ordered_request("/hook").respond_with_data(huge, status=200)
    httpserver.expect_ordered_request("/hook").respond_with_data("after", status=200)
    deliveries = [Delivery.objects.get(event=emit(alice_sandbox_instance)) for _ in range(4)]
    assert run(alice_endpoint).counts == {"sent": 4}
    excerpts = [d.attempt_log.get().response_excerpt for d in deliveries]
    assert excerpts[0].startswith("ok\ufffd\x01\x02") and "\x00" not in excerpts[0]
    assert len(excerpts[0]) == 1024
    assert excerpts[1] == ("accepted " * 500)[:1024]
    assert excerpts[2] == "x" * 1024
    assert excerpts[3] == "after"  # the connection dropped after the oversized answer was replaced


def test_a_connection_failure_is_recorded_and_retried(owner_alice, alice_sandbox_instance):
    endpoint, _ = endpoints.endpoint_create(
        account=owner_alice.account,
        instance=alice_sandbox_instance,
        url="http://127.0.0.1:9/hook",
        events=["message.received"],
    )
    delivery = Delivery.objects.get(event=emit(alice_sandbox_instance))
    endpoint_deliver_due(endpoint_id=endpoint.pk)
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.PENDING
    assert delivery.last_error.startswith("connection failed")
    assert delivery.attempt_log.get().status_code is None


def test_a_url_that_became_unsafe_is_blocked_at_delivery_time(
    alice_endpoint, alice_sandbox_instance, httpserver, settings
):
    settings.GATEWAY_ALLOW_PRIVATE_WEBHOOKS = False  # production: the receiver on 127.0.0.1 is not allowed
    delivery = Delivery.objects.get(event=emit(alice_sandbox_instance))
    run(alice_endpoint)
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.BLOCKED
    assert delivery.last_error.startswith("blocked:")
    assert delivery.attempt_log.get().outcome == DeliveryState.BLOCKED
    assert httpserver.log == []


def test_an_endpoint_never_has_more_workers_than_its_limit(alice_endpoint, alice_sandbox_instance, settings, clock):
    settings.GATEWAY_WEBHOOK_BATCH_SIZE = 1
    for _ in range(4):
        emit(alice_sandbox_instance)
    first = worker.delivery_claim_batch(endpoint_id=alice_endpoint.pk)
    second = worker.delivery_claim_batch(endpoint_id=alice_endpoint.pk)
    third = worker.delivery_claim_batch(endpoint_id=alice_endpoint.pk)
    assert (first.status, second.status, third.status) == ("claimed", "claimed", "busy")
    assert first.deliveries[0].pk != second.deliveries[0].pk
    # a crashed worker's lease runs out and the endpoint is free again
    clock.shift(settings.GATEWAY_WEBHOOK_LEASE_SECONDS + 1)
    assert worker.delivery_claim_batch(endpoint_id=alice_endpoint.pk).status == "claimed"


def test_a_claim_is_a_conditional_update_that_only_one_worker_wins(alice_endpoint, alice_sandbox_instance, settings):
    settings.GATEWAY_WEBHOOK_MAX_IN_FLIGHT = 5
    emit(alice_sandbox_instance)
    first = worker.delivery_claim_batch(endpoint_id=alice_endpoint.pk)
    second = worker.delivery_claim_batch(endpoint_id=alice_endpoint.pk)
    assert first.status == "claimed" and len(first.deliveries) == 1
    assert second.status == "empty"


def test_the_sweeper_re_enqueues_due_deliveries_whose_job_was_lost(
    alice_endpoint, alice_sandbox_instance, receiver, clock, django_capture_on_commit_callbacks
):
    delivery = Delivery.objects.get(event=emit(alice_sandbox_instance))  # no on_commit: the job was "lost"
    assert sweep.deliveries_sweep() == 0  # within the grace period a job may still be queued
    clock.shift(31)
    assert sweep.deliveries_sweep() == 1  # Huey runs eagerly in tests: the job ran
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.SENT


def test_the_sweeper_frees_a_dead_workers_lease(alice_endpoint, alice_sandbox_instance, receiver, clock, settings):
    delivery = Delivery.objects.get(event=emit(alice_sandbox_instance))
    claim = worker.delivery_claim_batch(endpoint_id=alice_endpoint.pk)
    assert claim.status == "claimed"  # ... and the worker is killed here
    clock.shift(settings.GATEWAY_WEBHOOK_LEASE_SECONDS + 1)
    sweep.deliveries_sweep()
    assert not EndpointLease.objects.exists()
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.SENT


def test_pending_deliveries_of_a_deleted_endpoint_go_with_it(alice_endpoint, alice_sandbox_instance):
    emit(alice_sandbox_instance)
    endpoints.endpoint_delete(endpoint=alice_endpoint)
    assert not Endpoint.objects.exists()
    assert not Delivery.objects.exists()


def test_cookies_set_by_one_receiver_are_never_sent_with_any_delivery(
    owner_alice, alice_sandbox_instance, outsider_charlie, charlie_sandbox_instance, httpserver
):
    # Clients are shared per worker thread and destination address, so a stored cookie would travel from one
    # customer's endpoint to another customer's endpoint on the same host. Nothing is stored.
    httpserver.expect_request("/alice").respond_with_data("ok", headers={"Set-Cookie": "session=alice-secret; Path=/"})
    httpserver.expect_request("/charlie").respond_with_data("ok")
    alice, _ = endpoints.endpoint_create(
        account=owner_alice.account,
        instance=alice_sandbox_instance,
        url=httpserver.url_for("/alice"),
        events=["message.received"],
    )
    charlie, _ = endpoints.endpoint_create(
        account=outsider_charlie.account,
        instance=charlie_sandbox_instance,
        url=httpserver.url_for("/charlie"),
        events=["message.received"],
    )
    emit(alice_sandbox_instance)
    run(alice)
    event_emit(
        account=charlie_sandbox_instance.account,
        instance=charlie_sandbox_instance,
        event_type="message.received",
        data=DATA,
    )
    run(charlie)
    emit(alice_sandbox_instance)
    run(alice)
    assert [req.path for req, _ in httpserver.log] == ["/alice", "/charlie", "/alice"]
    assert all("Cookie" not in req.headers for req, _ in httpserver.log)


def test_a_dns_failure_at_delivery_time_is_retried_not_blocked(
    alice_endpoint, alice_sandbox_instance, receiver, clock, monkeypatch
):
    import socket

    port = receiver.port
    alice_endpoint.url = f"http://hooks.example.test:{port}/hook"
    alice_endpoint.save(update_fields=["url"])
    dns_up = False

    def flaky_getaddrinfo(host, port, *args, **kwargs):
        if not dns_up:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", flaky_getaddrinfo)
    delivery = Delivery.objects.get(event=emit(alice_sandbox_instance))
    run(alice_endpoint)
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.PENDING and delivery.attempts == 1
    assert delivery.last_error.startswith("DNS lookup failed: ")
    assert delivery.attempt_log.get().outcome == DeliveryState.FAILED
    dns_up = True
    clock.shift(6)
    run(alice_endpoint)
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.SENT
    assert [req.path for req, _ in receiver.log] == ["/hook"]


def test_a_batch_resolves_its_host_once_and_the_next_batch_checks_again(
    alice_endpoint, alice_sandbox_instance, receiver, monkeypatch, settings
):
    import socket

    port = receiver.port
    alice_endpoint.url = f"http://hooks.example.test:{port}/hook"
    alice_endpoint.save(update_fields=["url"])
    answer = "127.0.0.1"
    lookups: list[str] = []

    def counting_getaddrinfo(host, port, *args, **kwargs):
        if host == "hooks.example.test":  # the pinned connection itself looks up only the checked IP
            lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer, port))]

    monkeypatch.setattr(socket, "getaddrinfo", counting_getaddrinfo)
    first = [Delivery.objects.get(event=emit(alice_sandbox_instance)) for _ in range(5)]
    run(alice_endpoint)
    assert lookups == ["hooks.example.test"]  # one check for the whole batch, not one per delivery
    assert [d.state for d in Delivery.objects.filter(pk__in=[d.pk for d in first])] == [DeliveryState.SENT] * 5
    # The next batch checks again: an answer that turned private is refused before any connection.
    settings.GATEWAY_ALLOW_PRIVATE_WEBHOOKS = False
    answer = "10.0.0.9"
    later = Delivery.objects.get(event=emit(alice_sandbox_instance))
    run(alice_endpoint)
    later.refresh_from_db()
    assert later.state == DeliveryState.BLOCKED
    assert len(receiver.log) == 5


@pytest.fixture
def trickling_receiver():
    """Answers 200 but sends its headers one byte every 0.2 s (about 4 s in all): each read is quick, the whole is not."""
    import socket
    import threading
    import time

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        data += conn.recv(65536)
                    head, _, body = data.partition(b"\r\n\r\n")
                    length = int(
                        next(
                            line.split(b":")[1]
                            for line in head.lower().split(b"\r\n")
                            if line.startswith(b"content-length")
                        )
                    )
                    while len(body) < length:
                        body += conn.recv(65536)
                    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 15 + b"\r\nContent-Length: 2\r\n\r\nok":
                        if stop.is_set():
                            break
                        conn.sendall(bytes([byte]))
                        time.sleep(0.2) if byte == ord("a") else None
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=10)
    server.close()


def test_a_receiver_that_trickles_its_answer_is_cut_off_at_the_total_timeout(
    owner_alice, alice_sandbox_instance, trickling_receiver, settings
):
    # httpx's timeout is per socket read; the delivery timeout is for the whole request, so one slow receiver cannot
    # keep a worker thread for longer than that.
    settings.GATEWAY_WEBHOOK_TIMEOUT_SECONDS = 1
    endpoint, _ = endpoints.endpoint_create(
        account=owner_alice.account,
        instance=alice_sandbox_instance,
        url=f"http://127.0.0.1:{trickling_receiver}/hook",
        events=["message.received"],
    )
    delivery = Delivery.objects.get(event=emit(alice_sandbox_instance))
    endpoint_deliver_due(endpoint_id=endpoint.pk)
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.PENDING and delivery.attempts == 1
    assert delivery.last_error == "timed out after 1 s"
