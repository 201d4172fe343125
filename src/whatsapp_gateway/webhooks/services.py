"""Webhook writes: the transactional outbox, endpoints, the delivery worker's claim/record steps, resends, sweeps.

The life of one delivery (docs/architecture.md "Events and the outbox": record, enqueue on commit, claim, sweep):

1. ``event_emit`` (called by every app inside the transaction that makes the change) writes the ``Event`` and one
   ``Delivery`` per enabled endpoint subscribed to that type, in that same transaction, and enqueues the delivery
   job with ``transaction.on_commit``. A rollback removes all of it; nothing is sent for it.
2. The job (``tasks.webhook_deliver(endpoint_id)``) calls ``endpoint_deliver_due``: it takes one of the endpoint's
   ``max_in_flight`` leases and claims a batch of due deliveries with a conditional UPDATE, posts them one by one
   over a keep-alive client pinned to the checked address, then records every attempt in one transaction. It
   loops while due deliveries remain, for a bounded time, then hands over to a fresh job so other endpoints get
   their turn.
3. A failure schedules the next attempt (``RETRY_SCHEDULE`` with ±10 % jitter, or ``Retry-After`` on 429/503) as a
   scheduled job — never a sleep. After the last one the delivery is ``failed`` for good (resend by hand).
   ``410 Gone`` disables the endpoint; 5 days of failures without a success disable it and tell the owner.
4. ``deliveries_sweep`` (every minute, and when a worker starts) expires dead leases and re-enqueues due
   deliveries whose job was lost (a crash between commit and enqueue, a killed worker).
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.db.models import F, Q
from django.http import HttpRequest

from whatsapp_gateway.accounts.models import Account, User
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib import (
    lookups,  # noqa: F401 - registers the __any_of lookup used below
    metrics,
    urlsafety,
)
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.lib.signing import secret_generate
from whatsapp_gateway.webhooks import delivery as engine
from whatsapp_gateway.webhooks.catalogue import EVENT_NAMES, TEST_EVENT, build_payload, iso8601
from whatsapp_gateway.webhooks.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryState,
    DisabledReason,
    Endpoint,
    EndpointKind,
    EndpointLease,
    Event,
)

logger = logging.getLogger(__name__)

# Delay after the 1st, 2nd, … failure (docs/api.md "Delivery and retries"): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h.
RETRY_SCHEDULE: tuple[int, ...] = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
JITTER = 0.10
DISABLE_AFTER = dt.timedelta(days=5)
ROTATION_OVERLAP = dt.timedelta(hours=24)
MAX_RETRY_AFTER = 24 * 3600
SWEEP_GRACE = dt.timedelta(seconds=30)

_rng = random.SystemRandom()


def _iso(value: dt.datetime) -> str:
    return iso8601(value)


def retry_delay(failures: int) -> float | None:
    """Seconds to wait after the ``failures``-th consecutive failure, with jitter; None once retries are used up."""
    if failures < 1 or failures > len(RETRY_SCHEDULE):
        return None
    base = RETRY_SCHEDULE[failures - 1]
    return base * _rng.uniform(1 - JITTER, 1 + JITTER)


# --- Events and the outbox --------------------------------------------------------------------------------------


KICK_STALE = dt.timedelta(seconds=30)


def _enqueue_endpoint(endpoint_id: int) -> None:
    from whatsapp_gateway.webhooks import tasks

    tasks.webhook_deliver(endpoint_id)


def endpoint_kick(endpoint_id: int) -> bool:
    """Make sure a delivery job for the endpoint will start after now; returns whether one was enqueued.

    Jobs are coalesced: ``kick_queued_at`` marks a queued job that has not started yet, and a job clears it before
    it claims anything, so whoever finds the mark set can rely on that job seeing their committed deliveries.
    A mark older than ``KICK_STALE`` (its job was lost) is ignored; the sweeper covers the rest."""
    at = now()
    marked = (
        Endpoint.objects.filter(pk=endpoint_id)
        .filter(Q(kick_queued_at__isnull=True) | Q(kick_queued_at__lt=at - KICK_STALE))
        .update(kick_queued_at=at)
    )
    if marked:
        _enqueue_endpoint(endpoint_id)
    return bool(marked)


def _enqueue_on_commit(endpoint_ids: set[int] | list[int]) -> None:
    for endpoint_id in sorted(set(endpoint_ids)):
        # robust: a broker hiccup must not break the caller's request; the sweeper re-enqueues.
        transaction.on_commit(lambda eid=endpoint_id: endpoint_kick(eid), robust=True)


def _subscribed_endpoints(event: Event) -> list[Endpoint]:
    # Secrets and URLs stay encrypted here (deferred): fan-out only needs the subscriptions.
    candidates = (
        Endpoint.objects.filter(account_id=event.account_id, is_enabled=True)
        .filter(Q(instance__isnull=True) | Q(instance_id=event.instance_id))
        .defer("url", "secret", "previous_secret")
    )
    return [ep for ep in candidates if event.event_type in (ep.events or []) and engine.kind_accepts(ep, event)]


def event_emit(
    *,
    account: Account,
    event_type: str,
    data: dict[str, Any],
    instance: Instance | None = None,
    occurred_at: dt.datetime | None = None,
) -> Event:
    """Record one customer-visible event and its deliveries (the transactional outbox).

    Call it inside the transaction that makes the change it describes: if that transaction rolls back, the event
    and its deliveries disappear with it and nothing is sent. For every enabled endpoint of the account (of this
    instance, or account-wide) subscribed to ``event_type`` one ``pending`` delivery is written in the same
    transaction; the delivery job is enqueued on commit. ``data`` holds the event-specific flat fields
    (catalogue.py); datetimes in it become ISO 8601 UTC strings.
    """
    if event_type not in EVENT_NAMES:
        raise ValueError(f"unknown event type {event_type!r}")
    occurred_at = occurred_at or now()
    event = Event(account=account, instance=instance, event_type=event_type, occurred_at=occurred_at, payload={})
    event.payload = build_payload(
        event_type=event_type,
        event_id=event.public_id,
        occurred_at=occurred_at,
        instance_id=instance.public_id if instance else None,
        instance_name=instance.name if instance else None,
        data=data,
    )
    event.save()
    endpoints = _subscribed_endpoints(event)
    if endpoints:
        at = now()
        Delivery.objects.bulk_create(
            [
                Delivery(
                    account_id=event.account_id, endpoint=ep, event=event, event_type=event_type, next_attempt_at=at
                )
                for ep in endpoints
            ]
        )
        _enqueue_on_commit([ep.pk for ep in endpoints])
    return event


def delivery_create(*, endpoint: Endpoint, event: Event) -> Delivery:
    """One more delivery of ``event`` to ``endpoint`` (e.g. a 3CX endpoint that is not subscribed by type).
    Runs in the caller's transaction; the job is enqueued on commit."""
    if endpoint.account_id != event.account_id:
        raise ValueError("endpoint and event belong to different accounts")
    delivery = Delivery.objects.create(
        account_id=event.account_id, endpoint=endpoint, event=event, event_type=event.event_type, next_attempt_at=now()
    )
    _enqueue_on_commit([endpoint.pk])
    return delivery


# --- Endpoints ------------------------------------------------------------------------------------------------------


class EndpointError(ValueError):
    """A change the rules refuse; the message is shown to the user."""


def _audit(*, account: Account, action: str, endpoint: Endpoint, request: HttpRequest | None, actor=None, **meta):
    from whatsapp_gateway.accounts.services import audit_record

    audit_record(
        account=account,
        action=action,
        request=request,
        actor=actor,
        target_type="webhook_endpoint",
        target_id=endpoint.public_id,
        metadata={"kind": endpoint.kind, **meta},
    )


def url_check_for_form(url: str) -> str:
    """Validate a destination URL for a form (syntax and DNS); returns it stripped or raises ``EndpointError``."""
    try:
        checked = urlsafety.check_url(url, allow_private=settings.GATEWAY_ALLOW_PRIVATE_WEBHOOKS)
    except urlsafety.UnsafeURL as exc:
        raise EndpointError(exc.reason) from exc
    return checked.url


def _clean_events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - EVENT_NAMES)
    if unknown:
        raise EndpointError(f"unknown event types: {', '.join(unknown)}")
    return [name for name in sorted(EVENT_NAMES) if name in set(events)]


@transaction.atomic
def endpoint_create(
    *,
    account: Account,
    url: str,
    events: list[str],
    instance: Instance | None = None,
    kind: str = EndpointKind.CUSTOMER,
    is_enabled: bool = True,
    request: HttpRequest | None = None,
    actor: User | None = None,
) -> tuple[Endpoint, str]:
    """Create an endpoint with a fresh ``whsec_`` secret. Returns ``(endpoint, secret)``: show the secret once.
    The URL is checked (scheme, credentials, port, every resolved address public). Audit-logged."""
    if instance is not None and instance.account_id != account.pk:
        raise EndpointError("instance belongs to another account")
    secret = secret_generate()
    endpoint = Endpoint.objects.create(
        account=account,
        instance=instance,
        kind=kind,
        url=url_check_for_form(url),
        events=_clean_events(events),
        is_enabled=is_enabled,
        disabled_reason="" if is_enabled else DisabledReason.BY_USER,
        disabled_at=None if is_enabled else now(),
        secret=secret,
    )
    _audit(account=account, action="webhook.created", endpoint=endpoint, request=request, actor=actor)
    return endpoint, secret


@transaction.atomic
def endpoint_update(
    *,
    endpoint: Endpoint,
    url: str | None = None,
    events: list[str] | None = None,
    is_enabled: bool | None = None,
    request: HttpRequest | None = None,
    actor: User | None = None,
) -> Endpoint:
    """Change URL, events or the enabled flag. Re-enabling clears an automatic disable and its failure streak.
    Audit-logged with what changed (the URL's host only)."""
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    changed: dict[str, Any] = {}
    if url is not None and url.strip() != endpoint.url:
        endpoint.url = url_check_for_form(url)
        changed["url_host"] = urlsafety.urlsplit(endpoint.url).hostname
    if events is not None:
        cleaned = _clean_events(events)
        if cleaned != endpoint.events:
            changed["events"] = cleaned
            endpoint.events = cleaned
    if is_enabled is not None and is_enabled != endpoint.is_enabled:
        changed["enabled"] = is_enabled
        endpoint.is_enabled = is_enabled
        if is_enabled:
            endpoint.disabled_reason = ""
            endpoint.disabled_at = None
            endpoint.failing_since = None
            endpoint.throttled_until = None
        else:
            endpoint.disabled_reason = DisabledReason.BY_USER
            endpoint.disabled_at = now()
            _fail_pending(endpoint)
    if changed:
        endpoint.save()
        _audit(
            account=endpoint.account,
            action="webhook.updated",
            endpoint=endpoint,
            request=request,
            actor=actor,
            **changed,
        )
    return endpoint


@transaction.atomic
def endpoint_rotate_secret(
    *, endpoint: Endpoint, request: HttpRequest | None = None, actor: User | None = None
) -> tuple[Endpoint, str]:
    """Issue a new secret. For 24 hours requests are signed with both the new and the previous secret, so
    receivers can switch at their pace. Returns ``(endpoint, new_secret)``; show it once. Audit-logged."""
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    at = now()
    secret = secret_generate()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = at + ROTATION_OVERLAP
    endpoint.secret = secret
    endpoint.secret_rotated_at = at
    endpoint.save()
    _audit(
        account=endpoint.account,
        action="webhook.secret_rotated",
        endpoint=endpoint,
        request=request,
        actor=actor,
        previous_valid_until=_iso(endpoint.previous_secret_expires_at),
    )
    return endpoint, secret


@transaction.atomic
def endpoint_delete(*, endpoint: Endpoint, request: HttpRequest | None = None, actor: User | None = None) -> None:
    _audit(account=endpoint.account, action="webhook.deleted", endpoint=endpoint, request=request, actor=actor)
    endpoint.delete()


def _fail_pending(endpoint: Endpoint) -> int:
    """A disabled endpoint gets nothing: its pending deliveries fail (resend them after turning it back on)."""
    return Delivery.objects.filter(endpoint=endpoint, state=DeliveryState.PENDING).update(
        state=DeliveryState.FAILED, last_error="endpoint disabled", lease_token="", lease_until=None
    )


def _endpoint_auto_disable(endpoint: Endpoint, reason: str, at: dt.datetime) -> None:
    """Inside the record transaction: disable, audit, and tell the owners after commit (banner + email)."""
    _fail_pending(endpoint)
    endpoint.is_enabled = False
    endpoint.disabled_reason = reason
    endpoint.disabled_at = at
    from whatsapp_gateway.accounts.services import audit_record

    audit_record(
        account=endpoint.account,
        action="webhook.auto_disabled",
        actor_label="system",
        target_type="webhook_endpoint",
        target_id=endpoint.public_id,
        metadata={"reason": reason, "failing_since": _iso(endpoint.failing_since) if endpoint.failing_since else None},
    )
    endpoint_id = endpoint.pk
    transaction.on_commit(lambda: notify_endpoint_disabled(endpoint_id=endpoint_id), robust=True)


def notify_endpoint_disabled(*, endpoint_id: int) -> int:
    """Email the account's owners that an endpoint was disabled automatically. Returns emails sent."""
    from django.core.mail import send_mail

    from whatsapp_gateway.accounts.models import Membership, Role

    endpoint = Endpoint.objects.select_related("account", "instance").filter(pk=endpoint_id).first()
    if endpoint is None or endpoint.is_enabled:
        return 0
    owners = list(
        Membership.objects.filter(account=endpoint.account, role=Role.OWNER, user__is_active=True).values_list(
            "user__email", flat=True
        )
    )
    if not owners:
        return 0
    where = f"instance {endpoint.instance.name}" if endpoint.instance else "your account"
    reason = DisabledReason(endpoint.disabled_reason).label if endpoint.disabled_reason else "disabled"
    link = f"{settings.GATEWAY_BASE_URL}/webhooks/{endpoint.public_id}/deliveries"
    body = (
        f"The webhook endpoint for {where} ({urlsafety.urlsplit(endpoint.url).hostname}) was disabled: {reason}.\n\n"
        "No events are delivered to it until you turn it back on. Fix the receiver, enable the webhook again on the "
        "instance's Webhook tab, and resend failed deliveries from the delivery log:\n"
        f"{link}\n"
    )
    return send_mail(
        f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}Webhook disabled for {where}",
        body,
        settings.DEFAULT_FROM_EMAIL,
        owners,
        fail_silently=True,
    )


# --- The worker: claim, attempt, record -------------------------------------------------------------------------


def _max_in_flight(endpoint: Endpoint) -> int:
    return endpoint.max_in_flight or settings.GATEWAY_WEBHOOK_MAX_IN_FLIGHT


def _lease_free(at: dt.datetime) -> Q:
    return Q(lease_until__isnull=True) | Q(lease_until__lte=at)


@dataclass
class Claim:
    status: str  # claimed, empty, busy, throttled, disabled
    endpoint: Endpoint | None = None
    token: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    spare_leases: int = 0  # more workers that may still take this endpoint after this claim (max_in_flight)


# What an attempt and its record read of a claimed delivery and its event (request builders of every kind included):
# loading only these skips the parsing of a dozen unused columns (datetimes above all) for every delivery.
_CLAIMED_FIELDS = (
    "public_id",
    "account_id",
    "endpoint_id",
    "event_type",
    "state",
    "attempts",
    "resend_count",
    "event__public_id",
    "event__account_id",
    "event__instance_id",
    "event__event_type",
    "event__payload",
    "event__occurred_at",
)


def delivery_claim_batch(*, endpoint_id: int, limit: int | None = None) -> Claim:
    """Take one of the endpoint's in-flight leases and claim up to ``limit`` due deliveries with a conditional
    UPDATE (only rows still ``pending``, due and unleased change hands). The endpoint row is locked while counting
    leases, so at most ``max_in_flight`` workers serve one endpoint. A disabled endpoint's pending deliveries fail."""
    at = now()
    due = Delivery.objects.filter(endpoint_id=endpoint_id, state=DeliveryState.PENDING, next_attempt_at__lte=at).filter(
        _lease_free(at)
    )
    if not due.exists():  # cheap check before taking the write lock
        return Claim("empty")
    limit = limit or settings.GATEWAY_WEBHOOK_BATCH_SIZE
    lease_seconds = settings.GATEWAY_WEBHOOK_LEASE_SECONDS
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().filter(pk=endpoint_id).first()
        if endpoint is None:
            return Claim("empty")
        if not endpoint.is_enabled:
            _fail_pending(endpoint)
            return Claim("disabled", endpoint)
        if endpoint.throttled_until and endpoint.throttled_until > at:
            return Claim("throttled", endpoint)
        # Expired leases (a killed worker's) do not count; the sweeper deletes them.
        leases = EndpointLease.objects.filter(endpoint=endpoint, expires_at__gt=at).count()
        if leases >= _max_in_flight(endpoint):
            return Claim("busy", endpoint)
        ids = list(due.order_by("next_attempt_at", "id").values_list("id", flat=True)[:limit])
        token = uuid.uuid4().hex
        until = at + dt.timedelta(seconds=lease_seconds)
        claimed = (
            Delivery.objects.filter(id__any_of=ids, state=DeliveryState.PENDING)
            .filter(_lease_free(at))
            .update(lease_token=token, lease_until=until)
        )
        if not claimed:
            return Claim("empty", endpoint)
        EndpointLease.objects.create(endpoint=endpoint, token=token, expires_at=until)
    deliveries = list(
        Delivery.objects.filter(id__any_of=ids, lease_token=token)
        .select_related("event")
        .only(*_CLAIMED_FIELDS)
        .order_by("next_attempt_at", "id")
    )
    return Claim("claimed", endpoint, token, deliveries, spare_leases=_max_in_flight(endpoint) - leases - 1)


def _next_attempt(result: engine.AttemptResult, failures: int) -> float | None:
    if result.outcome == "throttled" and result.retry_after is not None:
        if failures > len(RETRY_SCHEDULE):
            return None
        return min(max(result.retry_after, 1.0), MAX_RETRY_AFTER)
    return retry_delay(failures)


def _attempt_trigger(delivery: Delivery, trigger: str) -> str:
    # The first attempt after a manual resend (the cycle restarted at 0) is labelled so in the log; later retries
    # of that cycle are automatic again.
    if trigger == "auto" and delivery.resend_count and delivery.attempts == 0:
        return "resend"
    return trigger


_ATTEMPT_OUTCOME = {"sent": DeliveryState.SENT, "blocked": DeliveryState.BLOCKED}
_ATTEMPT_COLUMNS = (
    "delivery_id",
    "attempted_at",
    "outcome",
    "status_code",
    "latency_ms",
    "response_excerpt",
    "error",
    "trigger",
)
_ATTEMPT_ROWS_PER_INSERT = 100  # 800 parameters: under SQLite's oldest limit of 999
# PostgreSQL: one array per column, whatever the number of rows (see lib/lookups.py for why few parameters).
_ATTEMPT_ARRAY_TYPES = ("bigint", "timestamptz", "varchar", "integer", "integer", "text", "varchar", "varchar")


def _insert_attempts(rows: list[tuple]) -> None:
    """Write attempt log rows (``_ATTEMPT_COLUMNS`` order) with one statement per batch: ``INSERT … SELECT FROM
    unnest(<one array per column>)`` on PostgreSQL, a multi-row ``VALUES`` per 100 rows elsewhere. ``bulk_create``
    would build and prepare a model instance per row: several times the CPU of the insert itself."""
    if not rows:
        return
    connection = connections[DeliveryAttempt.objects.db]
    quote = connection.ops.quote_name
    adapt = connection.ops.adapt_datetimefield_value
    columns = ", ".join(map(quote, _ATTEMPT_COLUMNS))
    head = f"INSERT INTO {quote(DeliveryAttempt._meta.db_table)} ({columns}) "
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{kind}[]" for kind in _ATTEMPT_ARRAY_TYPES)
            query = f"{head}SELECT * FROM unnest({arrays})"  # noqa: S608 - fixed names and types
            cursor.execute(query, [list(column) for column in zip(*rows, strict=True)])
            return
        placeholders = "(" + ", ".join(["%s"] * len(_ATTEMPT_COLUMNS)) + ")"
        for start in range(0, len(rows), _ATTEMPT_ROWS_PER_INSERT):
            chunk = rows[start : start + _ATTEMPT_ROWS_PER_INSERT]
            params: list[Any] = []
            for row in chunk:
                params.append(row[0])
                params.append(adapt(row[1]))
                params.extend(row[2:])
            cursor.execute(head + "VALUES " + ", ".join([placeholders] * len(chunk)), params)


def delivery_record_results(
    *, claim: Claim, results: list[engine.AttemptResult], trigger: str = "auto", final: bool = False
) -> dict[str, int]:
    """Record a batch's attempts in one transaction, move each delivery to its next state, update the endpoint's
    health (failure streak, Retry-After throttle, 410 and 5-day disable), release the lease and schedule retries.
    ``final``: no retries (the portal's test event). Returns counts per outcome."""
    at = now()
    counts: dict[str, int] = {}
    retry_etas: set[dt.datetime] = set()
    token = claim.token
    for result in results:
        metrics.webhook_delivery_recorded(
            outcome=result.outcome, seconds=result.latency_ms / 1000 if result.latency_ms is not None else None
        )
    all_sent = bool(results) and all(r.outcome == "sent" for r in results)
    with transaction.atomic():
        # A batch that only succeeded changes no health state read from the row: one UPDATE, no lock, below.
        endpoint = claim.endpoint if all_sent else Endpoint.objects.select_for_update().get(pk=claim.endpoint.pk)
        _insert_attempts(
            [
                (
                    r.delivery.pk,
                    r.attempted_at,
                    _ATTEMPT_OUTCOME.get(r.outcome, DeliveryState.FAILED),
                    r.status_code,
                    r.latency_ms,
                    r.excerpt,
                    r.error,
                    _attempt_trigger(r.delivery, trigger),
                )
                for r in results
            ]
        )
        sent_by_status: dict[int | None, list[int]] = {}
        any_success = False
        any_failure = False
        for r in results:
            counts[r.outcome] = counts.get(r.outcome, 0) + 1
            if r.outcome == "sent":
                sent_by_status.setdefault(r.status_code, []).append(r.delivery.pk)
                any_success = True
                continue
            # Only while this worker still holds the lease (a lease that ran out may have a new owner).
            mine = Delivery.objects.filter(pk=r.delivery.pk, lease_token=token)
            common = {
                "attempts": F("attempts") + 1,
                "last_attempt_at": r.attempted_at,
                "last_status_code": r.status_code,
                "last_error": r.error,
                "lease_token": "",
                "lease_until": None,
            }
            if r.outcome == "blocked":
                mine.update(state=DeliveryState.BLOCKED, **common)
                continue
            any_failure = True
            if r.outcome == "gone":
                mine.update(state=DeliveryState.FAILED, **common)
                if endpoint.is_enabled:
                    _endpoint_auto_disable(endpoint, DisabledReason.GONE, at)
                continue
            failures = r.delivery.attempts + 1
            delay = None if final else _next_attempt(r, failures)
            if delay is None:
                mine.update(state=DeliveryState.FAILED, **common)
                continue
            eta = at + dt.timedelta(seconds=delay)
            mine.update(next_attempt_at=eta, **common)
            retry_etas.add(eta.replace(microsecond=0) + dt.timedelta(seconds=1))
            if r.outcome == "throttled" and r.retry_after is not None:
                if endpoint.throttled_until is None or endpoint.throttled_until < eta:
                    endpoint.throttled_until = eta
        for status_code, ids in sent_by_status.items():
            Delivery.objects.filter(pk__any_of=ids, lease_token=token).update(
                state=DeliveryState.SENT,
                sent_at=at,
                attempts=F("attempts") + 1,
                last_attempt_at=at,
                last_status_code=status_code,
                last_error="",
                lease_token="",
                lease_until=None,
            )
        if all_sent:
            Endpoint.objects.filter(pk=endpoint.pk).update(failing_since=None, last_success_at=at, updated_at=at)
        elif any_success:
            endpoint.failing_since = None
            endpoint.last_success_at = at
        elif any_failure:
            endpoint.last_failure_at = at
            endpoint.failing_since = endpoint.failing_since or min(r.attempted_at for r in results)
            if endpoint.is_enabled and endpoint.failing_since <= at - DISABLE_AFTER:
                _endpoint_auto_disable(endpoint, DisabledReason.FAILING, at)
        if not all_sent:
            endpoint.save(
                update_fields=[
                    "failing_since",
                    "last_success_at",
                    "last_failure_at",
                    "throttled_until",
                    "is_enabled",
                    "disabled_reason",
                    "disabled_at",
                    "updated_at",
                ]
            )
        if len(results) < len(claim.deliveries):
            # Claimed but not attempted (time budget, or the batch stopped after a timeout/throttle): back to the
            # pool. (Every attempted one released its lease above, or it was no longer this worker's.)
            Delivery.objects.filter(lease_token=token, state=DeliveryState.PENDING).update(
                lease_token="", lease_until=None
            )
        EndpointLease.objects.filter(token=token).delete()
        endpoint_id = endpoint.pk
        for eta in sorted(retry_etas)[:5]:
            transaction.on_commit(lambda eta=eta: _schedule_endpoint(endpoint_id, eta), robust=True)
    return counts


def _schedule_endpoint(endpoint_id: int, eta: dt.datetime) -> None:
    from whatsapp_gateway.webhooks import tasks

    tasks.webhook_deliver.schedule((endpoint_id,), eta=eta)


@dataclass
class DrainResult:
    attempted: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    stopped: str = "empty"


def endpoint_deliver_due(*, endpoint_id: int, time_budget: float | None = None) -> DrainResult:
    """The delivery job's body: claim and deliver due deliveries of one endpoint in batches until none are due,
    the endpoint is busy/throttled/disabled, or ``time_budget`` seconds passed (then a fresh job is enqueued so
    other endpoints' jobs run in between). A timeout or a throttle answer ends the batch early."""
    budget = settings.GATEWAY_WEBHOOK_JOB_SECONDS if time_budget is None else time_budget
    started = time.monotonic()
    # This job has started: later commits must enqueue their own job (see endpoint_kick).
    Endpoint.objects.filter(pk=endpoint_id, kick_queued_at__isnull=False).update(kick_queued_at=None)
    drained = DrainResult()
    while True:
        claim = delivery_claim_batch(endpoint_id=endpoint_id)
        if claim.status != "claimed":
            drained.stopped = claim.status
            return drained
        if len(claim.deliveries) >= settings.GATEWAY_WEBHOOK_BATCH_SIZE and claim.spare_leases > 0:
            # A backlog: let another worker take the endpoint's next lease in parallel (up to max_in_flight). When
            # every lease is taken, a kick would only start a job that finds the endpoint busy.
            endpoint_kick(endpoint_id)
        results: list[engine.AttemptResult] = []
        checks = engine.URLChecks()  # one DNS resolution + verdict per batch (the connection stays pinned to it)
        try:
            for delivery in claim.deliveries:
                if results and time.monotonic() - started > budget:
                    break
                result = engine.attempt(claim.endpoint, delivery, delivery.event, checks=checks)
                results.append(result)
                if result.outcome in ("throttled", "gone") or "timed out" in result.error:
                    break
        finally:
            counts = delivery_record_results(claim=claim, results=results)
        drained.attempted += len(results)
        for key, value in counts.items():
            drained.counts[key] = drained.counts.get(key, 0) + value
        if time.monotonic() - started > budget:
            drained.stopped = "budget"
            endpoint_kick(endpoint_id)
            return drained


# --- Test events, resends -------------------------------------------------------------------------------------------


@dataclass
class TestResult:
    delivery: Delivery
    attempt: DeliveryAttempt | None


def endpoint_send_test_event(
    *, endpoint: Endpoint, request: HttpRequest | None = None, actor: User | None = None
) -> TestResult:
    """Send one ``webhook.test`` event now, in this request, through the real signer, URL check and client, and
    record it in the delivery log. No retries. Returns the delivery and its attempt (status, latency, excerpt)."""
    at = now()
    with transaction.atomic():
        event = Event(
            account_id=endpoint.account_id,
            instance=endpoint.instance,
            event_type=TEST_EVENT,
            occurred_at=at,
            payload={},
        )
        event.payload = build_payload(
            event_type=TEST_EVENT,
            event_id=event.public_id,
            occurred_at=at,
            instance_id=endpoint.instance.public_id if endpoint.instance else None,
            instance_name=endpoint.instance.name if endpoint.instance else None,
            data={"message": "This is a test event from WhatsApp Gateway. Answer 2xx to confirm your endpoint works."},
        )
        event.save()
        token = uuid.uuid4().hex
        delivery = Delivery.objects.create(
            account_id=endpoint.account_id,
            endpoint=endpoint,
            event=event,
            event_type=TEST_EVENT,
            next_attempt_at=at,
            lease_token=token,
            lease_until=at + dt.timedelta(seconds=settings.GATEWAY_WEBHOOK_LEASE_SECONDS),
        )
        _audit(account=endpoint.account, action="webhook.test_sent", endpoint=endpoint, request=request, actor=actor)
    result = engine.attempt(endpoint, delivery, event)
    claim = Claim("claimed", endpoint, token, [delivery])
    delivery_record_results(claim=claim, results=[result], trigger="test", final=True)
    delivery.refresh_from_db()
    return TestResult(delivery=delivery, attempt=delivery.attempt_log.first())


def _reopen(queryset) -> int:
    return queryset.update(
        state=DeliveryState.PENDING,
        attempts=0,
        next_attempt_at=now(),
        lease_token="",
        lease_until=None,
        resend_count=F("resend_count") + 1,
    )


@transaction.atomic
def delivery_resend(*, delivery: Delivery, request: HttpRequest | None = None, actor: User | None = None) -> Delivery:
    """Deliver this delivery again (same ``webhook-id``), with a fresh retry cycle. Audit-logged."""
    endpoint = delivery.endpoint
    if not endpoint.is_enabled:
        raise EndpointError("Turn the webhook on before resending.")
    if delivery.state == DeliveryState.PENDING:
        raise EndpointError("This delivery is still pending; it will be retried automatically.")
    _reopen(Delivery.objects.filter(pk=delivery.pk))
    _audit(
        account=endpoint.account,
        action="webhook.resent",
        endpoint=endpoint,
        request=request,
        actor=actor,
        delivery=delivery.public_id,
    )
    _enqueue_on_commit([endpoint.pk])
    delivery.refresh_from_db()
    return delivery


@transaction.atomic
def deliveries_resend_failed(
    *,
    endpoint: Endpoint,
    since: dt.datetime,
    until: dt.datetime | None = None,
    request: HttpRequest | None = None,
    actor: User | None = None,
) -> int:
    """Resend every ``failed`` or ``blocked`` delivery of the endpoint created since ``since`` (and before
    ``until``). Returns how many. Audit-logged."""
    if not endpoint.is_enabled:
        raise EndpointError("Turn the webhook on before resending.")
    queryset = Delivery.objects.filter(
        endpoint=endpoint, state__in=[DeliveryState.FAILED, DeliveryState.BLOCKED], created_at__gte=since
    ).exclude(event_type=TEST_EVENT)
    if until is not None:
        queryset = queryset.filter(created_at__lt=until)
    count = _reopen(queryset)
    _audit(
        account=endpoint.account,
        action="webhook.resent_failed",
        endpoint=endpoint,
        request=request,
        actor=actor,
        since=_iso(since),
        count=count,
    )
    if count:
        _enqueue_on_commit([endpoint.pk])
    return count


# --- Sweeper and retention ----------------------------------------------------------------------------------------


def deliveries_sweep(*, grace: dt.timedelta = SWEEP_GRACE, startup: bool = False) -> int:
    """Re-enqueue due deliveries whose job was lost; expire dead leases and finished rotation overlaps.

    Runs every minute and when a worker starts (``startup``: no grace period, and a job is also scheduled for when
    the leases of a killed worker run out). Returns how many endpoints were enqueued."""
    at = now()
    EndpointLease.objects.filter(expires_at__lte=at).delete()
    Delivery.objects.filter(state=DeliveryState.PENDING, lease_until__lte=at).update(lease_token="", lease_until=None)
    Endpoint.objects.filter(previous_secret_expires_at__lte=at).update(
        previous_secret="", previous_secret_expires_at=None
    )
    cutoff = at if startup else at - grace
    endpoint_ids = set(
        Delivery.objects.filter(state=DeliveryState.PENDING, next_attempt_at__lte=cutoff, lease_until__isnull=True)
        .values_list("endpoint_id", flat=True)
        .distinct()
    )
    for endpoint_id in sorted(endpoint_ids):
        try:
            _enqueue_endpoint(endpoint_id)
        except Exception:  # the broker is down; the next sweep tries again
            logger.exception("could not enqueue webhook deliveries for endpoint %s", endpoint_id)
    if startup:
        leased = (
            Delivery.objects.filter(state=DeliveryState.PENDING, lease_until__gt=at)
            .values_list("endpoint_id", "lease_until")
            .order_by("endpoint_id", "-lease_until")
        )
        latest: dict[int, dt.datetime] = {}
        for endpoint_id, lease_until in leased:
            latest.setdefault(endpoint_id, lease_until)
        for endpoint_id, lease_until in latest.items():
            _schedule_endpoint(endpoint_id, lease_until + dt.timedelta(seconds=1))
    return len(endpoint_ids)


REDACTED_FIELDS = ("message_text", "from_name", "metadata", "qr")
PURGE_BATCH = 500


def webhooks_purge(*, body_cutoff: dt.datetime, metadata_cutoff: dt.datetime) -> dict[str, int]:
    """The retention purger (``lib.retention``): events older than ``body_cutoff`` lose their message text (and
    their attempts the receiver's response excerpts), unless a delivery of theirs is still pending; finished
    deliveries, their attempts and events older than ``metadata_cutoff`` are deleted. Bounded batches; idempotent."""
    redacted = 0
    while True:
        ids = list(
            Event.objects.filter(created_at__lt=body_cutoff, is_redacted=False)
            .exclude(deliveries__state=DeliveryState.PENDING)
            .values_list("id", flat=True)[:PURGE_BATCH]
        )
        if not ids:
            break
        with transaction.atomic():
            for event in Event.objects.filter(id__in=ids).only("id", "payload"):
                for name in REDACTED_FIELDS:
                    if event.payload.get(name) is not None:
                        event.payload[name] = None
                event.is_redacted = True
                event.save(update_fields=["payload", "is_redacted"])
            DeliveryAttempt.objects.filter(delivery__event_id__in=ids).exclude(response_excerpt="").update(
                response_excerpt=""
            )
        redacted += len(ids)
    deleted = 0
    while True:
        ids = list(
            Delivery.objects.filter(created_at__lt=metadata_cutoff)
            .exclude(state=DeliveryState.PENDING)
            .values_list("id", flat=True)[:PURGE_BATCH]
        )
        if not ids:
            break
        with transaction.atomic():
            DeliveryAttempt.objects.filter(delivery_id__in=ids).delete()
            Delivery.objects.filter(id__in=ids).delete()
        deleted += len(ids)
    events_deleted = 0
    while True:
        ids = list(
            Event.objects.filter(created_at__lt=metadata_cutoff, deliveries__isnull=True).values_list("id", flat=True)[
                :PURGE_BATCH
            ]
        )
        if not ids:
            break
        Event.objects.filter(id__in=ids).delete()
        events_deleted += len(ids)
    return {"events_redacted": redacted, "deliveries_deleted": deleted, "events_deleted": events_deleted}
