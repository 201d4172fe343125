"""3CX background jobs: pruning the small ledgers behind the webhook, syncing delivery outcomes into the event log,
and (through the retention registry) deleting old event-log rows."""

from __future__ import annotations

import datetime as dt

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.threecx.delivery import threecx_deliveries_sync
from whatsapp_gateway.threecx.incoming.request import DEDUP_WINDOW, TEMPLATE_COOLDOWN
from whatsapp_gateway.threecx.models import IntegrationEvent, RateWindow, RequestFingerprint, TemplateCooldown


def threecx_prune() -> dict[str, int]:
    """Delete expired rate windows, retry fingerprints and template cooldowns (they only matter for minutes)."""
    current = now()
    minute = int(current.timestamp()) // 60
    return {
        "rate_windows": RateWindow.objects.filter(window_start__lt=minute - 2).delete()[0],
        "fingerprints": RequestFingerprint.objects.filter(created_at__lt=current - DEDUP_WINDOW * 2).delete()[0],
        "cooldowns": TemplateCooldown.objects.filter(last_sent_at__lt=current - TEMPLATE_COOLDOWN * 2).delete()[0],
    }


def threecx_events_purge(*, body_cutoff: dt.datetime, metadata_cutoff: dt.datetime) -> dict[str, int]:
    """Retention purger (``lib.retention``): the event log holds no message bodies, only metadata, so rows are
    deleted after the metadata period, in batches."""
    deleted = 0
    while True:
        ids = list(IntegrationEvent.objects.filter(created_at__lt=metadata_cutoff).values_list("pk", flat=True)[:1000])
        if not ids:
            break
        deleted += IntegrationEvent.objects.filter(pk__in=ids).delete()[0]
    return {"deleted": deleted}


@db_periodic_task(crontab(minute="17"))
def threecx_prune_task() -> None:
    threecx_prune()


@db_periodic_task(crontab(minute="*"))
def threecx_deliveries_sync_task() -> None:
    threecx_deliveries_sync()
