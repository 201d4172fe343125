"""The provider down or slow: the instance's queue holds, resumes in order, nothing is sent twice or skipped.

In-process with a controllable clock (time-machine) and the scriptable fake provider of the messaging tests; the
loop stands in for the worker, running the lane's job whenever it is due.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from tests.fakes import retryable
from tests.reliability.cluster import TALLY
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.messaging import policy, queue
from whatsapp_gateway.messaging.models import Message, MessageStatus
from whatsapp_gateway.messaging.services import send_message

pytestmark = pytest.mark.django_db


def _queue(account, instance, count: int) -> list[Message]:
    ids = []
    for number in range(count):
        outcome = send_message(
            account=account,
            instance_ref=instance,
            phone=f"+9665012345{number:02d}",
            text=f"Order {number} has shipped.",
            purpose="transactional",
            source="api",
        )
        ids.append(outcome.message_id)
    return [Message.objects.get(public_id=public_id) for public_id in ids]


def _drive(instance, *, until: dt.datetime, step: dt.timedelta) -> None:
    """Run the lane every ``step`` of simulated time until ``until`` (what scheduled jobs would do)."""
    moment = now()
    while moment < until:
        with time_machine.travel(moment, tick=False):
            queue.lane_run(instance_id=instance.pk)
        moment += step


@pytest.mark.parametrize("outage_minutes", [1, 5, 12])
def test_a_provider_outage_holds_the_queue_and_it_resumes_in_order(
    owner_alice, alice_fake_instance, fake_provider, monkeypatch, outage_minutes
):
    messages = _queue(owner_alice.account, alice_fake_instance, 8)
    recovers_at = now() + dt.timedelta(minutes=outage_minutes)
    accepted: list[str] = []
    original = type(fake_provider).send_text

    def send_text(self, instance, *, to, text, typing_ms=0):
        if now() < recovers_at:
            self.sent.append({"to": to, "text": text, "failed": True})
            raise retryable("provider is down")
        accepted.append(text)
        return original(self, instance, to=to, text=text, typing_ms=typing_ms)

    monkeypatch.setattr(type(fake_provider), "send_text", send_text)
    _drive(alice_fake_instance, until=recovers_at + dt.timedelta(minutes=15), step=dt.timedelta(seconds=5))

    statuses = [Message.objects.get(pk=m.pk).status for m in messages]
    failed_attempts = [s for s in fake_provider.sent if s.get("failed")]
    TALLY["cases tried"] += 1
    TALLY["faults injected"] += 1
    TALLY["items checked"] += len(messages)
    TALLY["items lost"] += sum(1 for s in statuses if s != MessageStatus.SENT)
    TALLY["sent twice"] += len(accepted) - len(set(accepted))
    assert statuses == [MessageStatus.SENT] * len(messages)
    assert accepted == [m.text for m in messages]  # in queue order, each once
    # A few sends failed in a row across recipients, the circuit breaker paused the queue, and from then on only
    # probes went out (the queue's first message), each after a growing delay.
    streak, probes = failed_attempts[: policy.BREAKER_FAILURES], failed_attempts[policy.BREAKER_FAILURES :]
    assert len({s["to"] for s in streak}) >= policy.BREAKER_MIN_RECIPIENTS
    assert {s["text"] for s in probes} <= {messages[0].text}
    assert len(probes) <= len(policy.BREAKER_PROBE_DELAYS_SECONDS) + outage_minutes * 60 // 300
    TALLY["probes"] += len(probes)


def test_a_slow_provider_call_keeps_the_lane_busy_and_the_order(
    owner_alice, alice_fake_instance, fake_provider, monkeypatch
):
    messages = _queue(owner_alice.account, alice_fake_instance, 4)
    original = type(fake_provider).send_text
    concurrent: list[str] = []

    def slow_send_text(self, instance, *, to, text, typing_ms=0):
        # While this call hangs for 40 s, another worker's job for the same instance finds the lane busy.
        with time_machine.travel(now() + dt.timedelta(seconds=40), tick=False):
            concurrent.append(queue.lane_run(instance_id=instance.pk))
        return original(self, instance, to=to, text=text, typing_ms=typing_ms)

    monkeypatch.setattr(type(fake_provider), "send_text", slow_send_text)
    _drive(alice_fake_instance, until=now() + dt.timedelta(minutes=2), step=dt.timedelta(seconds=5))
    TALLY["cases tried"] += 1
    TALLY["faults injected"] += len(concurrent)
    TALLY["items checked"] += len(messages)
    # The concurrent job found the lane busy (or, for the last message, nothing left queued): it never sent.
    assert set(concurrent) <= {"busy", "idle"} and len(concurrent) == len(messages)
    assert [s["text"] for s in fake_provider.sent] == [m.text for m in messages]
    assert all(Message.objects.get(pk=m.pk).status == MessageStatus.SENT for m in messages)
