"""The outbound queue: per instance, one message in flight, paced (minimum gap + jitter), in order per recipient.

Record, enqueue on commit, claim, sweep: ``send_message`` writes a ``queued`` row and wakes the instance's lane
after commit; ``lane_run`` claims the lane and then the message with conditional UPDATEs (so two workers can
never send the same message), calls the provider once, and schedules itself for the next message after the
pacing gap. A periodic sweep re-wakes lanes whose job was lost and reconciles sends whose outcome is unknown —
from the provider's history or callbacks, never by resending.
"""

from __future__ import annotations

import datetime as dt
import logging
import random

from django.db import connection, transaction
from django.db.models import Exists, F, Min, OuterRef, Q

from whatsapp_gateway.instances.models import Instance, InstanceState
from whatsapp_gateway.lib import metrics
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.lib.phone import jid_to_e164
from whatsapp_gateway.lib.write_turn import single_write
from whatsapp_gateway.messaging import breaker, policy
from whatsapp_gateway.messaging.idempotency import idempotency_prune
from whatsapp_gateway.messaging.lifecycle import apply_unmatched_statuses, message_transition
from whatsapp_gateway.messaging.models import LanePause, Message, MessageStatus, SendLane, UnmatchedStatus
from whatsapp_gateway.operations.killswitch import sending_is_enabled
from whatsapp_gateway.providers.base import InboundMessage, ProviderError, SendResult
from whatsapp_gateway.providers.registry import get_provider

logger = logging.getLogger(__name__)

LANE_STUCK_AFTER = dt.timedelta(minutes=2)
WAKEUP_LOST_AFTER = dt.timedelta(minutes=2)


def _enqueue(instance_id: int, *, delay: float = 0) -> None:
    from whatsapp_gateway.messaging import tasks  # the job module imports this one

    if delay > 0:
        tasks.send_lane_run.schedule(args=(instance_id,), delay=delay)
    else:
        tasks.send_lane_run(instance_id)


# Public for a caller that embeds it in a statement of its own (the send's message INSERT on PostgreSQL).
LANE_WAKE_SQL = (
    f"INSERT INTO {SendLane._meta.db_table} AS lane "  # noqa: S608 - model table
    "(instance_id, wakeup_at, failure_streak, pause_code, pause_reason, probes) VALUES (%s, %s, '[]', '', '', 0) "
    "ON CONFLICT (instance_id) DO UPDATE SET wakeup_at = excluded.wakeup_at "
    "WHERE lane.in_flight_id IS NULL AND lane.wakeup_at IS NULL RETURNING 1"
)


def lane_wake_statement(instance_id: int) -> tuple[str, list]:
    """The statement a send runs inside its own write transaction to wake the instance's lane: it creates the lane
    already woken, or marks an idle one woken, and returns a row only then (the caller enqueues the job after its
    commit, ``lane_job_enqueue``). A lane with a message in flight or a wake-up already set is left alone: it looks
    at the queue after it releases / wakes, and sees the message because the statement locks the lane row until
    the send commits (PostgreSQL's upsert locks the row even when its WHERE is false; SQLite has one writer), so
    the lane's release waits for that commit. One statement, and no write transaction of its own."""
    return LANE_WAKE_SQL, [instance_id, connection.ops.adapt_datetimefield_value(now())]


def lane_job_enqueue(instance_id: int) -> None:
    """The job for a lane that ``lane_wake_statement`` woke (after that transaction's commit). If it is lost (the
    process dies first, the job store is down), the sweep re-wakes the lane after ``WAKEUP_LOST_AFTER``."""
    _enqueue(instance_id)


def lane_wake(*, instance_id: int) -> None:
    """Make sure a job will look at this instance's queue, for callers outside a send (resumed accounts and
    instances; a send runs ``lane_wake_statement`` inside its own transaction). The same statement in a write of its
    own: a lane with a message in flight or a wake-up already scheduled is left alone, an idle or missing one is
    woken and gets one job, so a burst of wake-ups enqueues one; the sweep re-wakes a lane whose job was lost. Must
    run after the messages it wakes the lane for are committed: a lane that releases before then looks at the queue
    without them."""
    # single_write: on SQLite the write queues on the write turns' file lock, not in SQLite's polling busy handler.
    # The job's enqueue stays outside it (SqliteHuey commits, and syncs, a file of its own).
    with single_write(), connection.cursor() as cursor:
        cursor.execute(*lane_wake_statement(instance_id))
        woken = cursor.fetchone() is not None
    if woken:
        _enqueue(instance_id)


def lanes_wake_queued(account_id: int | None = None) -> None:
    """After sending is re-enabled (for everyone, or for one account): wake every instance that has queued
    messages, in order, right away instead of at the next sweep."""
    queued = Message.objects.filter(status=MessageStatus.QUEUED, instance__isnull=False)
    if account_id is not None:
        queued = queued.filter(account_id=account_id)
    for instance_id in queued.values_list("instance_id", flat=True).distinct():
        lane_wake(instance_id=instance_id)


def on_account_resumed(sender, *, account_id: int, **kwargs) -> None:
    """An operator resumed a paused account: its queued messages go out once the change is committed."""
    transaction.on_commit(lambda: lanes_wake_queued(account_id), robust=True)


def on_instance_resumed(sender, *, instance_id: int, **kwargs) -> None:
    """An operator resumed a paused instance: its queue wakes once the change is committed."""
    transaction.on_commit(lambda: lane_wake(instance_id=instance_id), robust=True)


def _schedule_wakeup(instance_id: int, at: dt.datetime) -> None:
    changed = SendLane.objects.filter(Q(wakeup_at__isnull=True) | Q(wakeup_at__gt=at), instance_id=instance_id).update(
        wakeup_at=at
    )
    if changed:
        _enqueue(instance_id, delay=max((at - now()).total_seconds(), 0))


_EARLIER_TO_SAME_RECIPIENT = Message.objects.filter(
    instance_id=OuterRef("instance_id"),
    status=MessageStatus.QUEUED,
    phone_e164=OuterRef("phone_e164"),
    id__lt=OuterRef("id"),
)


def _next_due(instance_id: int, at: dt.datetime) -> Message | None:
    """The oldest queued message that is due and is its recipient's oldest queued one. Order is kept per
    recipient: a message waiting for its retry holds only later messages to the same number."""
    return (
        Message.objects.filter(instance_id=instance_id, status=MessageStatus.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=at))
        .exclude(Exists(_EARLIER_TO_SAME_RECIPIENT))
        .order_by("id")
        .first()
    )


def _next_retry_at(instance_id: int) -> dt.datetime | None:
    return Message.objects.filter(instance_id=instance_id, status=MessageStatus.QUEUED).aggregate(
        at=Min("next_attempt_at")
    )["at"]


def typing_ms(text: str) -> int:
    return max(policy.TYPING_MIN_MS, min(policy.TYPING_MAX_MS, len(text) * policy.TYPING_MS_PER_CHAR))


def pacing_gap() -> dt.timedelta:
    return dt.timedelta(seconds=policy.PACING_MIN_GAP_SECONDS + random.uniform(0, policy.PACING_MAX_JITTER_SECONDS))


def lane_run(*, instance_id: int) -> str:
    """Send the instance's next due message, if the lane is free and the pacing gap has passed. Returns what
    happened (``idle``, ``busy``, ``waiting``, ``paused``, ``unavailable``, ``sent``, ``accepted``, ``retry``,
    ``failed``, ``probe_failed``, ``lost_claim``) for logs and tests."""
    lane, _ = SendLane.objects.get_or_create(instance_id=instance_id)
    SendLane.objects.filter(pk=lane.pk).update(wakeup_at=None)  # this job is the wake-up; clear before reading
    instance = Instance.objects.select_related("account").filter(pk=instance_id).first()
    if instance is None or not Message.objects.filter(instance_id=instance_id, status=MessageStatus.QUEUED).exists():
        return "idle"
    if instance.deleted_at is not None:
        return "unavailable"
    if instance.state != InstanceState.CONNECTED:
        breaker.pause_disconnected(lane, state_label=instance.get_state_display())
        return "unavailable"  # messages wait; the sweep wakes the lane once the instance is back
    if instance.is_paused or instance.account.is_paused:
        return "unavailable"  # a paused account's queue holds too, not only its new sends; resuming wakes it
    if not sending_is_enabled():
        return "unavailable"  # the operator's kill switch: messages wait; re-enabling wakes every lane
    lane.refresh_from_db()
    breaker.resume_connected(lane)
    if lane.in_flight_id:
        return "busy"
    at = now()
    probing = lane.pause_code == LanePause.PROVIDER_FAILING
    if probing and lane.probe_at and lane.probe_at > at:
        _schedule_wakeup(instance_id, lane.probe_at)
        return "paused"
    head = _next_due(instance_id, at)
    if head is None:  # every recipient's next message waits for its retry
        retry_at = _next_retry_at(instance_id)
        if retry_at is not None:
            _schedule_wakeup(instance_id, max(d for d in (lane.next_send_at, retry_at) if d is not None))
        return "waiting"
    if lane.next_send_at is not None and lane.next_send_at > at:
        _schedule_wakeup(instance_id, lane.next_send_at)
        return "waiting"
    claimed = (
        SendLane.objects.filter(pk=lane.pk, in_flight__isnull=True)
        .filter(Q(next_send_at__isnull=True) | Q(next_send_at__lte=at))
        .update(in_flight=head, in_flight_since=at)
    )
    if claimed != 1:
        return "busy"
    attempt = breaker.Attempt(outcome="lost_claim")
    try:
        attempt = _send_attempt(instance, head.pk, probe=probing)
    finally:
        breaker.record(lane, attempt, message_pk=head.pk, probing=probing)
        next_at = now() + pacing_gap()
        # Release first, then look at the queue: a message committed meanwhile is seen here or wakes the lane.
        SendLane.objects.filter(pk=lane.pk).update(in_flight=None, in_flight_since=None, next_send_at=next_at)
        if Message.objects.filter(instance_id=instance_id, status=MessageStatus.QUEUED).exists():
            _schedule_wakeup(instance_id, next_at)
    return attempt.outcome


def _send_one(instance: Instance, message_pk: int) -> str:
    return _send_attempt(instance, message_pk).outcome


def _send_attempt(instance: Instance, message_pk: int, *, probe: bool = False) -> breaker.Attempt:
    at = now()
    with transaction.atomic():
        claimed = Message.objects.filter(pk=message_pk, status=MessageStatus.QUEUED).update(
            status=MessageStatus.SENDING, claimed_at=at, attempts=F("attempts") + 1, next_attempt_at=None
        )
        if claimed != 1:
            return breaker.Attempt(outcome="lost_claim")
        message = (
            Message.objects.select_for_update(of=("self",))
            .select_related("account", "instance", "template")
            .get(pk=message_pk)
        )
        message.status = MessageStatus.QUEUED  # for the transition's previous_status
        message_transition(
            message,
            MessageStatus.SENDING,
            at=at,
            note=f"attempt {message.attempts}" + (" (probe of the paused queue)" if probe else ""),
            emit=message.attempts == 1,
        )
    provider = get_provider(instance.provider)
    template = message.template
    try:
        if template is not None and template.source == "meta":  # a WhatsApp template; ours go as their text
            with metrics.provider_call(provider=instance.provider, operation="send_template"):
                result = provider.send_template(
                    instance,
                    to=message.phone_e164,
                    name=template.name,
                    language=template.language,
                    variables=list(message.template_variables),
                )
        else:
            with metrics.provider_call(provider=instance.provider, operation="send_text"):
                result = provider.send_text(
                    instance,
                    to=message.phone_e164,
                    text=message.text,
                    typing_ms=typing_ms(message.text) if provider.supports_typing else 0,
                )
    except ProviderError as exc:
        outcome = _send_failed(message_pk, code=exc.code, text=exc.message, permanent=exc.permanent, probe=probe)
        return breaker.Attempt(outcome=outcome, provider_failed=not exc.permanent, code=exc.code, text=exc.message)
    except Exception as exc:  # an adapter bug or a transport error it did not wrap: retry, bounded
        logger.exception("provider %s raised while sending %s", instance.provider, message.public_id)
        text = type(exc).__name__
        outcome = _send_failed(message_pk, code="provider_error", text=text, permanent=False, probe=probe)
        return breaker.Attempt(outcome=outcome, provider_failed=True, code="provider_error", text=text)
    return breaker.Attempt(outcome=_send_accepted(message_pk, result))


def _send_accepted(message_pk: int, result: SendResult) -> str:
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",)).select_related("account", "instance").get(pk=message_pk)
        )
        message.provider_message_id = result.provider_message_id or ""
        message.save(update_fields=["provider_message_id", "updated_at"])
        if result.status == MessageStatus.SENT and message.status == MessageStatus.SENDING:
            message_transition(message, MessageStatus.SENT)
        if message.provider_message_id:
            apply_unmatched_statuses(message)
    return "sent" if message.status != MessageStatus.SENDING else "accepted"


def _send_failed(message_pk: int, *, code: str, text: str, permanent: bool, probe: bool = False) -> str:
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",)).select_related("account", "instance").get(pk=message_pk)
        )
        if message.status != MessageStatus.SENDING:
            return "lost_claim"
        if permanent or (message.attempts >= policy.SEND_MAX_ATTEMPTS and not probe):
            message_transition(message, MessageStatus.FAILED, error_code=code, error_message=text)
            return "failed"
        at = now()
        if probe:
            # The queue is paused because the provider fails: a failed probe says nothing about this message, so
            # it does not use up one of its retries and stays first in line.
            message.attempts -= 1
            message.next_attempt_at = None
            note = f"probe failed ({code}); the queue stays paused"
        else:
            backoff = policy.SEND_RETRY_BACKOFF_SECONDS[
                min(message.attempts - 1, len(policy.SEND_RETRY_BACKOFF_SECONDS) - 1)
            ]
            message.next_attempt_at = at + dt.timedelta(seconds=backoff)
            note = f"attempt {message.attempts} failed ({code}); retry in {backoff} s"
        message.status = MessageStatus.QUEUED
        message.error_code, message.error_message = code[:60], text[:500]
        message.history = [
            *message.history,
            {
                "status": MessageStatus.QUEUED,
                "at": at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
                "note": note,
            },
        ]
        message.save()
    return "probe_failed" if probe else "retry"


# --- The sweep --------------------------------------------------------------------------------------------------


FOUND, ABSENT, UNKNOWN = "found", "absent", "unknown"


def _reconcile_from_history(message: Message) -> str:
    """Look for the message in the provider's recent history (a send whose answer was lost, or a worker killed
    between claiming the message and calling the provider).

    Returns ``found`` (recorded as sent), ``absent`` (the provider keeps a history and the message is not in it:
    it was never handed over) or ``unknown`` (no history, or it could not be read)."""
    provider = get_provider(message.instance.provider)
    try:
        events = provider.fetch_recent_messages(
            message.instance, since=(message.claimed_at or message.created_at) - dt.timedelta(minutes=1)
        )
    except Exception:
        logger.warning("could not fetch history for %s", message.public_id, exc_info=True)
        return UNKNOWN
    for event in events:
        if not isinstance(event, InboundMessage) or not event.from_me or not event.provider_message_id:
            continue
        if jid_to_e164(event.chat_id) == message.phone_e164 and event.text.strip() == message.text:
            with transaction.atomic():
                locked = (
                    Message.objects.select_for_update(of=("self",))
                    .select_related("account", "instance")
                    .get(pk=message.pk)
                )
                if locked.status != MessageStatus.SENDING or locked.provider_message_id:
                    return FOUND
                locked.provider_message_id = event.provider_message_id
                locked.save(update_fields=["provider_message_id", "updated_at"])
                message_transition(locked, MessageStatus.SENT, note="found in the provider's history")
                apply_unmatched_statuses(locked)
            return FOUND
    return ABSENT if provider.sent_history_is_complete else UNKNOWN


def _requeue_never_sent(message_pk: int) -> bool:
    """Put a ``sending`` message that the provider's history proves was never handed over back at the head of its
    queue (its worker died between the claim and the provider call). Safe: the provider never saw it."""
    with transaction.atomic():
        locked = Message.objects.select_for_update(of=("self",)).get(pk=message_pk)
        if locked.status != MessageStatus.SENDING or locked.provider_message_id:
            return False
        at = now()
        locked.status = MessageStatus.QUEUED
        locked.next_attempt_at = None
        locked.history = [
            *locked.history,
            {
                "status": MessageStatus.QUEUED,
                "at": at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
                "note": f"attempt {locked.attempts} interrupted before the provider received it; re-queued",
            },
        ]
        locked.save(update_fields=["status", "next_attempt_at", "history", "updated_at"])
    return True


def sweep() -> dict[str, int]:
    """Periodic repair of the queue. Returns counts per action."""
    at = now()
    counts = {"released": 0, "reconciled": 0, "requeued": 0, "unknown_failed": 0, "expired": 0, "woken": 0}
    # 1. Lanes held by a job that died: reconcile its message from the provider, then free the lane.
    for lane in SendLane.objects.filter(in_flight__isnull=False, in_flight_since__lt=at - LANE_STUCK_AFTER):
        message = Message.objects.select_related("instance", "account").filter(pk=lane.in_flight_id).first()
        if message is not None and message.status == MessageStatus.SENDING and not message.provider_message_id:
            outcome = _reconcile_from_history(message)
            counts["reconciled"] += outcome == FOUND
            if outcome == ABSENT:
                counts["requeued"] += _requeue_never_sent(message.pk)
        if SendLane.objects.filter(pk=lane.pk, in_flight_since=lane.in_flight_since).update(
            in_flight=None, in_flight_since=None
        ):
            counts["released"] += 1
    # 2. Sends whose outcome stayed unknown: fail them (not resent: that could deliver the message twice).
    cutoff = at - dt.timedelta(minutes=policy.SEND_OUTCOME_UNKNOWN_AFTER_MINUTES)
    for pk in Message.objects.filter(
        status=MessageStatus.SENDING, provider_message_id="", claimed_at__lt=cutoff
    ).values_list("pk", flat=True):
        message = Message.objects.select_related("instance", "account").get(pk=pk)
        outcome = _reconcile_from_history(message) if message.instance is not None else UNKNOWN
        if outcome == FOUND:
            counts["reconciled"] += 1
            continue
        if outcome == ABSENT and _requeue_never_sent(pk):
            counts["requeued"] += 1
            continue
        with transaction.atomic():
            locked = Message.objects.select_for_update(of=("self",)).select_related("account", "instance").get(pk=pk)
            if locked.status == MessageStatus.SENDING and not locked.provider_message_id:
                message_transition(
                    locked,
                    MessageStatus.FAILED,
                    error_code="send_outcome_unknown",
                    error_message="The provider never confirmed this message; it was not resent to avoid a duplicate.",
                )
                counts["unknown_failed"] += 1
    # 3. Queued too long (the instance stayed offline): fail as expired.
    expiry = at - dt.timedelta(hours=policy.QUEUE_EXPIRY_HOURS)
    for pk in Message.objects.filter(status=MessageStatus.QUEUED, created_at__lt=expiry).values_list("pk", flat=True):
        with transaction.atomic():
            locked = Message.objects.select_for_update(of=("self",)).select_related("account", "instance").get(pk=pk)
            if locked.status == MessageStatus.QUEUED:
                message_transition(
                    locked,
                    MessageStatus.FAILED,
                    error_code="expired",
                    error_message=f"Not sent within {policy.QUEUE_EXPIRY_HOURS} hours (the instance was not connected).",
                )
                counts["expired"] += 1
    # 4. Lanes with due messages whose wake-up job was lost (or never made): wake them.
    instance_ids = (
        Message.objects.filter(status=MessageStatus.QUEUED, instance__state=InstanceState.CONNECTED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=at))
        .values_list("instance_id", flat=True)
        .distinct()
    )
    for instance_id in instance_ids:
        lane = SendLane.objects.filter(instance_id=instance_id).first()
        if lane is not None and lane.in_flight_id:
            continue
        if lane is not None and lane.wakeup_at and lane.wakeup_at > at - WAKEUP_LOST_AFTER:
            continue
        SendLane.objects.filter(instance_id=instance_id).update(wakeup_at=None)
        _enqueue(instance_id)
        counts["woken"] += 1
    # 5. Housekeeping: expired idempotency records and status callbacks that never matched a message.
    idempotency_prune(older_than=at - dt.timedelta(hours=policy.IDEMPOTENCY_TTL_HOURS))
    UnmatchedStatus.objects.filter(created_at__lt=at - dt.timedelta(days=1)).delete()
    return counts
