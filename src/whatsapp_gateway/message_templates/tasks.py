"""Template jobs: the daily sync of Meta's templates for every Cloud API instance."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from whatsapp_gateway.message_templates.sync import template_sync_all


@db_periodic_task(crontab(minute="41", hour="4"))
def template_sync_daily_task() -> None:
    template_sync_all()
