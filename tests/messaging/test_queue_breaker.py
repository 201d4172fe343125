"""Order per recipient, pacing per instance, and the circuit breaker that pauses a failing provider's queue.

The clock is simulated (time-machine) and the loop stands in for the worker: it runs the lane's job when scheduled.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
import time_machine
from django.test import Client

from tests.fakes import retryable
from whatsapp_gateway.instances.models import InstanceState
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.messaging import policy, queue
from whatsapp_gateway.messaging.models import LanePause, Message, MessageStatus, SendLane
from whatsapp_gateway.messaging.services import send_message
from whatsapp_gateway.providers.base import ProviderError

pytestmark = pytest.mark.django_db

FAILING = "+966501234500"


def _queue(account, instance, phone: str, text: str) -> Message:
    outcome = send_message(
        account=account, instance_ref=instance, phone=phone, text=text, purpose="transactional", source="api"
    )
    return Message.objects.get(public_id=outcome.message_id)


def _drive(instance, *, start: dt.datetime, seconds: int) -> dict[str, dt.datetime]:
    """Run the lane's job whenever it is scheduled (its ``wakeup_at``), as the worker would, for ``seconds`` of
    simulated time. Returns when each message text was first seen as sent."""
    sent_at: dict[str, dt.datetime] = {}
    moment, end = start, start + dt.timedelta(seconds=seconds)
    while moment < end:
        with time_machine.travel(moment, tick=False):
            queue.lane_run(instance_id=instance.pk)
        for text in Message.objects.filter(status=MessageStatus.SENT).values_list("text", flat=True):
            sent_at.setdefault(text, moment)
        wakeup = SendLane.objects.get(instance=instance).wakeup_at
        moment = max(wakeup, moment + dt.timedelta(milliseconds=1)) if wakeup else moment + dt.timedelta(seconds=60)
    return sent_at


@pytest.fixture
def one_failing_recipient(fake_provider, monkeypatch):
    """The provider fails every send to ``FAILING`` with a retryable error and accepts everyone else's."""
    original = type(fake_provider).send_text

    def send_text(self, instance, *, to, text, typing_ms=0):
        if to == FAILING:
            self.sent.append({"to": to, "text": text, "failed": True})
            raise retryable("upstream 503 for this chat")
        return original(self, instance, to=to, text=text, typing_ms=typing_ms)

    monkeypatch.setattr(type(fake_provider), "send_text", send_text)
    return fake_provider


def test_a_failing_recipient_does_not_hold_nine_healthy_ones(owner_alice, alice_fake_instance, one_failing_recipient):
    start = now()
    stuck = _queue(owner_alice.account, alice_fake_instance, FAILING, "To the failing number, first.")
    healthy = [
        _queue(owner_alice.account, alice_fake_instance, f"+9665012345{n:02d}", f"Order {n} has shipped.")
        for n in range(1, 10)
    ]
    later_to_failing = _queue(owner_alice.account, alice_fake_instance, FAILING, "To the failing number, second.")

    sent_at = _drive(alice_fake_instance, start=start, seconds=16 * 60)

    # Each healthy message went within its normal pacing: one gap per message before it, the failing message's
    # tries taking their slots too (its first try and the retries due meanwhile) — not behind the failing
    # message's 13 minutes of retries.
    max_gap = policy.PACING_MIN_GAP_SECONDS + policy.PACING_MAX_JITTER_SECONDS
    retry_due = list(itertools.accumulate(policy.SEND_RETRY_BACKOFF_SECONDS))
    for position, message in enumerate(healthy, start=1):
        assert message.text in sent_at
        retries_before = sum(1 for delay in retry_due if start + dt.timedelta(seconds=delay) < sent_at[message.text])
        assert (sent_at[message.text] - start).total_seconds() <= (position + retries_before) * max_gap
    # The failing one kept all its retries and then failed; the later message to the same number waited behind it
    # (order per recipient) and then had its own attempts.
    stuck.refresh_from_db()
    assert stuck.status == MessageStatus.FAILED and stuck.attempts == policy.SEND_MAX_ATTEMPTS
    tries = [s["text"] for s in one_failing_recipient.sent if s.get("failed")]
    assert tries[: policy.SEND_MAX_ATTEMPTS] == [stuck.text] * policy.SEND_MAX_ATTEMPTS
    assert later_to_failing.text in tries[policy.SEND_MAX_ATTEMPTS :]
    # One recipient failing is not the provider failing: the queue never paused.
    lane = SendLane.objects.get(instance=alice_fake_instance)
    assert lane.pause_code == "" and lane.probes == 0
    assert sorted(m.text for m in Message.objects.filter(status=MessageStatus.SENT)) == sorted(m.text for m in healthy)
    healthy_sends = [s["text"] for s in one_failing_recipient.sent if not s.get("failed")]
    assert len(healthy_sends) == len(set(healthy_sends)) == 9  # nothing sent twice


def test_a_failing_provider_pauses_the_queue_probes_and_resumes(
    owner_alice, alice_fake_instance, fake_provider, monkeypatch
):
    start = now()
    messages = [
        _queue(owner_alice.account, alice_fake_instance, f"+9665012345{n:02d}", f"Order {n} has shipped.")
        for n in range(6)
    ]
    fake_provider.script.extend([retryable("provider is down")] * (policy.BREAKER_FAILURES + 1))

    sent_at = _drive(alice_fake_instance, start=start, seconds=20)
    lane = SendLane.objects.get(instance=alice_fake_instance)
    assert lane.pause_code == LanePause.PROVIDER_FAILING
    assert "failed in a row" in lane.pause_reason and "provider_unavailable" in lane.pause_reason
    assert len(fake_provider.sent) == policy.BREAKER_FAILURES and sent_at == {}
    probe_at = lane.probe_at
    assert probe_at == lane.paused_at + dt.timedelta(seconds=policy.BREAKER_PROBE_DELAYS_SECONDS[0])

    # Paused: nothing goes before the probe; the first probe fails, the queue stays paused with a longer delay.
    with time_machine.travel(probe_at - dt.timedelta(seconds=1), tick=False):
        assert queue.lane_run(instance_id=alice_fake_instance.pk) == "paused"
    with time_machine.travel(probe_at, tick=False):
        assert queue.lane_run(instance_id=alice_fake_instance.pk) == "probe_failed"
    lane.refresh_from_db()
    assert lane.pause_code == LanePause.PROVIDER_FAILING and lane.probes == 1
    assert lane.probe_at == probe_at + dt.timedelta(seconds=policy.BREAKER_PROBE_DELAYS_SECONDS[1])
    first = Message.objects.get(pk=messages[0].pk)
    assert first.status == MessageStatus.QUEUED and first.attempts == 1  # the probe did not use up a retry
    assert "probe failed" in first.history[-1]["note"]

    # The provider answers again: the next probe succeeds, the queue resumes, everything goes once, in order.
    sent_at = _drive(alice_fake_instance, start=lane.probe_at, seconds=60)
    lane.refresh_from_db()
    assert lane.pause_code == "" and lane.probes == 0 and lane.failure_streak == []
    assert sorted(sent_at, key=sent_at.get) == [m.text for m in messages]
    accepted = [s["text"] for s in fake_provider.sent][policy.BREAKER_FAILURES + 1 :]
    assert accepted == [m.text for m in messages]


def test_the_provider_saying_the_session_is_down_pauses_at_once(owner_alice, alice_fake_instance, fake_provider):
    _queue(owner_alice.account, alice_fake_instance, "+966501234501", "Order 1 has shipped.")
    _queue(owner_alice.account, alice_fake_instance, "+966501234502", "Order 2 has shipped.")
    fake_provider.script.append(ProviderError("session STOPPED", permanent=False, code="instance_not_connected"))
    assert queue.lane_run(instance_id=alice_fake_instance.pk) == "retry"
    lane = SendLane.objects.get(instance=alice_fake_instance)
    assert lane.pause_code == LanePause.PROVIDER_FAILING and "session is down" in lane.pause_reason


def test_a_disconnected_instance_pauses_its_queue_and_resumes_when_connected(
    owner_alice, alice_fake_instance, fake_provider
):
    message = _queue(owner_alice.account, alice_fake_instance, "+966501234501", "Order 1 has shipped.")
    alice_fake_instance.state = InstanceState.DISCONNECTED
    alice_fake_instance.save(update_fields=["state"])
    assert queue.lane_run(instance_id=alice_fake_instance.pk) == "unavailable"
    lane = SendLane.objects.get(instance=alice_fake_instance)
    assert lane.pause_code == LanePause.INSTANCE_DISCONNECTED and "disconnected" in lane.pause_reason
    alice_fake_instance.state = InstanceState.CONNECTED
    alice_fake_instance.save(update_fields=["state"])
    assert queue.lane_run(instance_id=alice_fake_instance.pk) == "sent"
    lane.refresh_from_db()
    message.refresh_from_db()
    assert lane.pause_code == "" and message.status == MessageStatus.SENT


def test_the_pause_shows_in_the_portal_and_in_metrics(owner_alice, alice_fake_instance, fake_provider, settings):
    settings.METRICS_TOKEN = "scrape-token-123"
    messages = [
        _queue(owner_alice.account, alice_fake_instance, f"+9665012345{n:02d}", f"Order {n} has shipped.")
        for n in range(4)
    ]
    fake_provider.script.extend([retryable("provider is down")] * policy.BREAKER_FAILURES)
    _drive(alice_fake_instance, start=now(), seconds=20)
    client = Client()
    client.force_login(owner_alice.user)

    page = client.get(f"/instances/{alice_fake_instance.public_id}/manage?tab=logs").content.decode()
    assert 'data-testid="queue-status"' in page and "Send queue paused" in page
    assert "The provider is failing" in page and "Next probe" in page

    detail = client.get(f"/messages/{messages[3].public_id}").content.decode()
    assert 'data-testid="wait-reason"' in detail and "paused because the provider is failing" in detail

    metrics = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-123").content.decode()
    assert 'gateway_send_queues_paused{reason="provider_failing"} 1.0' in metrics
    assert 'gateway_send_queues_paused{reason="instance_disconnected"} 0.0' in metrics


def test_the_detail_page_says_a_message_waits_for_its_retry_or_for_the_same_recipient(
    owner_alice, alice_fake_instance, fake_provider
):
    first = _queue(owner_alice.account, alice_fake_instance, "+966501234501", "Order 1 has shipped.")
    second = _queue(owner_alice.account, alice_fake_instance, "+966501234501", "Order 1: the courier is on the way.")
    fake_provider.script.append(retryable())
    assert queue.lane_run(instance_id=alice_fake_instance.pk) == "retry"
    client = Client()
    client.force_login(owner_alice.user)
    detail = client.get(f"/messages/{first.public_id}").content.decode()
    assert "Attempt 1 failed (provider_unavailable" in detail and "next try at" in detail
    detail = client.get(f"/messages/{second.public_id}").content.decode()
    assert f"Waiting for message #{first.log_id} to the same recipient" in detail
