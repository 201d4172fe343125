"""Huey jobs of the outbound queue. Jobs take ids and call ``messaging.queue``."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from whatsapp_gateway.messaging import queue


@db_task()
def send_lane_run(instance_id: int) -> str:
    return queue.lane_run(instance_id=instance_id)


@db_periodic_task(crontab(minute="*"))
def send_queue_sweep() -> dict[str, int]:
    return queue.sweep()
