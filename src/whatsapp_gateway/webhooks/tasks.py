"""Webhook jobs. The queue is only a doorbell: every job re-reads the database, so a lost or duplicated job is
harmless (the sweeper re-rings for deliveries whose job was lost)."""

from __future__ import annotations

import logging
import threading

from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task

from whatsapp_gateway.webhooks import sweep, worker

logger = logging.getLogger(__name__)


@db_task()
def webhook_deliver(endpoint_id: int) -> None:
    """Deliver the due deliveries of one endpoint (bounded in time; re-enqueues itself when more are due)."""
    worker.endpoint_deliver_due(endpoint_id=endpoint_id)


@db_periodic_task(crontab(minute="*"))
def webhook_sweep() -> None:
    """Every minute: re-enqueue due deliveries whose job was lost, expire dead leases."""
    sweep.deliveries_sweep()


_startup_lock = threading.Lock()
_startup_done = False


@HUEY.on_startup()
def webhook_sweep_on_startup() -> None:
    """When a worker starts (e.g. after a crash), pick up what the previous one left, without waiting a minute."""
    global _startup_done
    with _startup_lock:
        if _startup_done:
            return
        _startup_done = True
    from django.db import close_old_connections

    try:
        sweep.deliveries_sweep(startup=True)
    except Exception:  # the database may still be starting; the periodic sweep follows within a minute
        logger.exception("webhook start-up sweep failed")
    finally:
        close_old_connections()
