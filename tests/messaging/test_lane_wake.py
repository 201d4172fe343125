"""A send wakes its instance's lane inside its own write transaction (``queue.lane_wake_statement``): one job per
idle lane, none for a lane that is busy or already woken, and a lane that releases while the send is still open
waits for its commit, so it cannot miss the message."""

from __future__ import annotations

import threading

import pytest
from django.db import OperationalError, connection, transaction

from tests.messaging.conftest import body
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.messaging import queue
from whatsapp_gateway.messaging.models import Message, SendLane


@pytest.fixture
def enqueued(monkeypatch) -> list[int]:
    jobs: list[int] = []
    monkeypatch.setattr(queue, "_enqueue", lambda instance_id, delay=0: jobs.append(instance_id))
    return jobs


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_sends_to_an_idle_lane_makes_one_job(alice_api, alice_fake_instance, enqueued):
    for n in range(3):
        assert alice_api.send(body(phone=f"+96650123000{n}", message=f"Ticket {n} updated")).status_code == 202
    assert enqueued == [alice_fake_instance.pk]
    assert SendLane.objects.get(instance=alice_fake_instance).wakeup_at is not None
    # The job clears the wake-up when it runs: the next send wakes the lane again.
    SendLane.objects.filter(instance=alice_fake_instance).update(wakeup_at=None)
    assert alice_api.send(body(phone="+966501230009", message="Ticket 9 updated")).status_code == 202
    assert enqueued == [alice_fake_instance.pk, alice_fake_instance.pk]


@pytest.mark.django_db(transaction=True)
def test_a_send_to_a_lane_with_a_message_in_flight_makes_no_job(alice_api, alice_fake_instance, enqueued):
    assert alice_api.send(body(phone="+966501230001", message="Ticket 1 updated")).status_code == 202
    first = Message.objects.get()
    SendLane.objects.filter(instance=alice_fake_instance).update(in_flight=first, in_flight_since=now(), wakeup_at=None)
    assert alice_api.send(body(phone="+966501230002", message="Ticket 2 updated")).status_code == 202
    assert enqueued == [alice_fake_instance.pk]  # the first send's only


@pytest.mark.django_db(transaction=True)
def test_dry_runs_and_blocked_sends_leave_the_lane_alone(alice_api, alice_fake_instance, enqueued):
    assert alice_api.send(body(dry_run=True)).status_code == 200
    assert alice_api.send(body(message_purpose="marketing")).status_code == 422
    assert enqueued == [] and not SendLane.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_lane_releasing_during_a_send_waits_for_its_commit(owner_alice, alice_fake_instance, fake_provider):
    """The race the statement closes: the lane has a message in flight, a send's transaction finds it busy (so it
    makes no job), and the lane releases before that send commits. Had the release gone through, the lane would
    look at the queue without the new message and go idle with it queued. The statement locks the lane row, so the
    release waits for the send's commit and then sees the message."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite admits one writer at a time: the send's transaction and the release cannot overlap")
    first = Message.objects.create(
        account=owner_alice.account, log_id=1, instance=alice_fake_instance, phone_e164="+966501230001", text="x"
    )
    SendLane.objects.create(instance=alice_fake_instance, in_flight=first, in_flight_since=now())
    inside, finish, woken = threading.Event(), threading.Event(), []

    def send_transaction() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(*queue.lane_wake_statement(alice_fake_instance.pk))
                woken.append(cursor.fetchone())
                inside.set()
                finish.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=send_transaction)
    thread.start()
    try:
        assert inside.wait(10)
        assert woken == [None]  # busy: no job from this send
        release = SendLane.objects.filter(instance=alice_fake_instance)
        with pytest.raises(OperationalError), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '300ms'")
            release.update(in_flight=None, in_flight_since=None)
    finally:
        finish.set()
        thread.join(10)
    assert release.update(in_flight=None, in_flight_since=None) == 1  # once the send committed
