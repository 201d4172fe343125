"""Instance jobs: the health/reconcile sweep."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from whatsapp_gateway.instances import services


@db_periodic_task(crontab(minute="*"))
def instances_reconcile_task() -> None:
    services.instances_reconcile_all()
