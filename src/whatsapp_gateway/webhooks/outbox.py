"""The transactional outbox: every customer-visible event and its deliveries, written in the caller's transaction.

The life of one delivery (docs/architecture.md "Events and the outbox": record, enqueue on commit, claim, sweep):

1. ``event_emit`` (called by every app inside the transaction that makes the change) writes the ``Event`` and one
   ``Delivery`` per enabled endpoint subscribed to that type, in that same transaction, and enqueues the delivery
   job with ``transaction.on_commit``. A rollback removes all of it; nothing is sent for it.
2. The job (``tasks.webhook_deliver(endpoint_id)``) calls ``worker.endpoint_deliver_due``: it takes one of the
   endpoint's ``max_in_flight`` leases and claims a batch of due deliveries with a conditional UPDATE, posts them one
   by one over a keep-alive client pinned to the checked address, then records every attempt in one transaction. It
   loops while due deliveries remain, for a bounded time, then hands over to a fresh job so other endpoints get
   their turn.
3. A failure schedules the next attempt (``worker.RETRY_SCHEDULE`` with ±10 % jitter, or ``Retry-After`` on
   429/503) as a scheduled job — never a sleep. After the last one the delivery is ``failed`` for good (resend by
   hand, ``resend``). ``410 Gone`` disables the endpoint; 5 days of failures without a success disable it and tell
   the owner (``endpoints``).
4. ``sweep.deliveries_sweep`` (every minute, and when a worker starts) expires dead leases and re-enqueues due
   deliveries whose job was lost (a crash between commit and enqueue, a killed worker).

This module depends only on the webhook models, the event catalogue and the endpoint kinds, so every app can write
to it without knowing the HTTP side.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.db.models import Q

from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.webhooks.catalogue import EVENT_NAMES, build_payload
from whatsapp_gateway.webhooks.kinds import kind_accepts
from whatsapp_gateway.webhooks.models import (
    Delivery,
    Endpoint,
    Event,
)

logger = logging.getLogger(__name__)


KICK_STALE = dt.timedelta(seconds=30)


def _delivery_job():
    from whatsapp_gateway.webhooks.tasks import webhook_deliver  # the job module imports the worker, which imports this

    return webhook_deliver


def enqueue_endpoint(endpoint_id: int) -> None:
    _delivery_job()(endpoint_id)


def schedule_endpoint(endpoint_id: int, eta: dt.datetime) -> None:
    _delivery_job().schedule((endpoint_id,), eta=eta)


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
        enqueue_endpoint(endpoint_id)
    return bool(marked)


def enqueue_on_commit(endpoint_ids: set[int] | list[int]) -> None:
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
    return [ep for ep in candidates if event.event_type in (ep.events or []) and kind_accepts(ep, event)]


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
        enqueue_on_commit([ep.pk for ep in endpoints])
    return event


def delivery_create(*, endpoint: Endpoint, event: Event) -> Delivery:
    """One more delivery of ``event`` to ``endpoint`` (e.g. a 3CX endpoint that is not subscribed by type).
    Runs in the caller's transaction; the job is enqueued on commit."""
    if endpoint.account_id != event.account_id:
        raise ValueError("endpoint and event belong to different accounts")
    delivery = Delivery.objects.create(
        account_id=event.account_id, endpoint=endpoint, event=event, event_type=event.event_type, next_attempt_at=now()
    )
    enqueue_on_commit([endpoint.pk])
    return delivery
