"""The delivery worker: claim a batch of due deliveries, attempt them (``delivery``), record the results and
schedule retries (the outbox's life of a delivery is described in ``outbox``)."""

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

from whatsapp_gateway.lib import (
    lookups,  # noqa: F401 - registers the __any_of lookup used below
    metrics,
)
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.webhooks import delivery as engine
from whatsapp_gateway.webhooks.endpoints import endpoint_auto_disable, fail_pending
from whatsapp_gateway.webhooks.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryState,
    DisabledReason,
    Endpoint,
    EndpointLease,
)
from whatsapp_gateway.webhooks.outbox import endpoint_kick, schedule_endpoint

logger = logging.getLogger(__name__)


# Delay after the 1st, 2nd, … failure (docs/api.md "Delivery and retries"): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h.
RETRY_SCHEDULE: tuple[int, ...] = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)


MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1


JITTER = 0.10


DISABLE_AFTER = dt.timedelta(days=5)


MAX_RETRY_AFTER = 24 * 3600


_rng = random.SystemRandom()


def retry_delay(failures: int) -> float | None:
    """Seconds to wait after the ``failures``-th consecutive failure, with jitter; None once retries are used up."""
    if failures < 1 or failures > len(RETRY_SCHEDULE):
        return None
    base = RETRY_SCHEDULE[failures - 1]
    return base * _rng.uniform(1 - JITTER, 1 + JITTER)


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
            fail_pending(endpoint)
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
                    endpoint_auto_disable(endpoint, DisabledReason.GONE, at)
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
                endpoint_auto_disable(endpoint, DisabledReason.FAILING, at)
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
            transaction.on_commit(lambda eta=eta: schedule_endpoint(endpoint_id, eta), robust=True)
    return counts


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
