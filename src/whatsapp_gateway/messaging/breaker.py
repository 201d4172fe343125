"""The circuit breaker of an instance's send queue.

A retryable error for one recipient (the provider hiccupped on that chat, or a sandbox test number) only delays that
recipient's messages: the queue keeps order per recipient, so everyone else's messages go on. When sends fail in a
row across several recipients, or the provider says the WhatsApp session is down, the provider itself is failing:
the whole queue pauses with the reason recorded on the lane, and after a growing delay one message goes as a
*probe*. A probe that the provider answers (even with a permanent "not on WhatsApp") resumes the queue; a failed
probe keeps it paused and does not use up that message's retries. A queue paused because the instance is not
connected resumes as soon as it is.

Every change here runs while the caller holds the lane (one message in flight per instance), so the streak and
pause fields are never written by two jobs at once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from whatsapp_gateway.lib import metrics
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.messaging import policy
from whatsapp_gateway.messaging.models import LanePause, Message, MessageStatus, SendLane

STREAK_KEEP = 20  # message ids remembered per streak (only the last few decide)


@dataclass(frozen=True)
class Attempt:
    """What one provider call came to, as the breaker needs it."""

    outcome: str  # the lane outcome: sent | accepted | retry | failed | probe_failed | lost_claim
    provider_failed: bool = False  # a retryable provider error (timeout, 5xx, session down …)
    code: str = ""
    text: str = ""


def probe_delay(probes_failed: int) -> dt.timedelta:
    delays = policy.BREAKER_PROBE_DELAYS_SECONDS
    return dt.timedelta(seconds=delays[min(probes_failed, len(delays) - 1)])


def _pause_fields(code: str, reason: str, *, probe_at: dt.datetime | None) -> dict:
    return {
        "pause_code": code,
        "pause_reason": reason[:300],
        "paused_at": now(),
        "probe_at": probe_at,
        "probes": 0,
        "failure_streak": [],
    }


_RUNNING = {"pause_code": "", "pause_reason": "", "paused_at": None, "probe_at": None, "probes": 0}


def pause_disconnected(lane: SendLane, *, state_label: str) -> None:
    """The instance is not connected: the queue waits for it (recorded once, for the portal and ``/metrics``)."""
    if lane.pause_code == LanePause.INSTANCE_DISCONNECTED:
        return
    reason = f"The instance is {state_label.lower()}: messages wait until it is connected again."
    changed = (
        SendLane.objects.filter(pk=lane.pk)
        .exclude(pause_code=LanePause.INSTANCE_DISCONNECTED)
        .update(**_pause_fields(LanePause.INSTANCE_DISCONNECTED, reason, probe_at=None))
    )
    if changed:
        metrics.send_queue_paused(reason=LanePause.INSTANCE_DISCONNECTED)


def resume_connected(lane: SendLane) -> None:
    """The instance is connected again: a queue paused for the disconnect runs (a fresh start, no streak)."""
    if lane.pause_code == LanePause.INSTANCE_DISCONNECTED:
        SendLane.objects.filter(pk=lane.pk, pause_code=LanePause.INSTANCE_DISCONNECTED).update(
            **_RUNNING, failure_streak=[]
        )
        lane.refresh_from_db()


def record(lane: SendLane, attempt: Attempt, *, message_pk: int, probing: bool) -> None:
    """Update the breaker after one send attempt of ``lane`` (which the caller still holds)."""
    if attempt.outcome == "lost_claim":
        return
    if not attempt.provider_failed:  # the provider answered: it works, whatever it said about this message
        if probing:
            SendLane.objects.filter(pk=lane.pk).update(**_RUNNING, failure_streak=[])
            metrics.send_queue_probe(outcome="ok")
        elif lane.failure_streak:
            SendLane.objects.filter(pk=lane.pk).update(failure_streak=[])
        return
    if probing:
        SendLane.objects.filter(pk=lane.pk).update(
            probes=lane.probes + 1,
            probe_at=now() + probe_delay(lane.probes + 1),
            pause_reason=_reason(lane.pause_reason, attempt, probe=True),
        )
        metrics.send_queue_probe(outcome="failed")
        return
    streak = [*lane.failure_streak, message_pk][-STREAK_KEEP:]
    if attempt.code in policy.BREAKER_DISCONNECTED_CODES:
        _open(lane, streak, f"The provider says the WhatsApp session is down ({attempt.code}: {attempt.text}).")
        return
    recent = streak[-policy.BREAKER_FAILURES :]
    recipients = set(Message.objects.filter(pk__in=recent).values_list("phone_e164", flat=True))
    if len(recent) >= policy.BREAKER_FAILURES and len(recipients) >= policy.BREAKER_MIN_RECIPIENTS:
        _open(
            lane,
            streak,
            f"{len(recent)} sends to {len(recipients)} recipients failed in a row ({attempt.code}: {attempt.text}).",
        )
        return
    SendLane.objects.filter(pk=lane.pk).update(failure_streak=streak)


def _reason(previous: str, attempt: Attempt, *, probe: bool) -> str:
    if not probe:
        return previous
    base = previous.split(" Last probe:")[0]
    return f"{base} Last probe: {attempt.code}: {attempt.text}"[:300]


def _open(lane: SendLane, streak: list[int], reason: str) -> None:
    SendLane.objects.filter(pk=lane.pk).update(
        **_pause_fields(LanePause.PROVIDER_FAILING, reason, probe_at=now() + probe_delay(0))
    )
    # The streak's messages failed because of the provider, not their recipients: they go first, in their order,
    # once it answers again (instead of each waiting out its own backoff).
    Message.objects.filter(pk__in=streak, status=MessageStatus.QUEUED).update(next_attempt_at=None)
    metrics.send_queue_paused(reason=LanePause.PROVIDER_FAILING)
