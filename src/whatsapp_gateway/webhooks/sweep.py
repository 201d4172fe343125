"""The sweeper (lost jobs, dead leases, ended rotation overlaps) and the retention purge of webhook data."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction

from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.webhooks.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryState,
    Endpoint,
    EndpointLease,
    Event,
)
from whatsapp_gateway.webhooks.outbox import enqueue_endpoint, schedule_endpoint

logger = logging.getLogger(__name__)


SWEEP_GRACE = dt.timedelta(seconds=30)


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
            enqueue_endpoint(endpoint_id)
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
            schedule_endpoint(endpoint_id, lease_until + dt.timedelta(seconds=1))
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
