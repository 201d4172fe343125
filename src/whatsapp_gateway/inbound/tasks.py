"""Inbound background jobs: the opt-out confirmation reply and the daily retention run."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from whatsapp_gateway.inbound.models import InboundMessage
from whatsapp_gateway.inbound.services import optout_confirmation_send
from whatsapp_gateway.lib.retention import retention_run


@db_task()
def optout_confirmation_task(inbound_id: int, arabic: bool = False) -> None:
    inbound = InboundMessage.objects.select_related("account", "instance").filter(pk=inbound_id).first()
    if inbound is not None:
        optout_confirmation_send(inbound=inbound, arabic=arabic)


# Every registered purger (inbound messages here; outbound messages and webhook deliveries register theirs), daily
# at 03:17 UTC, off the hour so it does not collide with other periodic jobs.
@db_periodic_task(crontab(hour="3", minute="17"))
def retention_daily_task() -> dict:
    return retention_run()
