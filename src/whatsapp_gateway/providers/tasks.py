"""Provider jobs: process a stored callback, sweep lost ones, prune old ones, and the sandbox's timers."""

from __future__ import annotations

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.providers import services
from whatsapp_gateway.providers.reconcile import instances_due_for_history_reconcile, provider_history_reconcile
from whatsapp_gateway.providers.sandbox import server as sandbox_server


@db_task()
def callback_process_task(callback_id: int) -> None:
    services.callback_process(callback_id=callback_id)


@db_periodic_task(crontab(minute="*"))
def callbacks_sweep_task() -> None:
    services.callbacks_sweep()


@db_periodic_task(crontab(minute="23", hour="3"))
def callbacks_prune_task() -> None:
    services.callbacks_prune()


@db_task()
def sandbox_status_advance_task(message_pk: int, from_status: str) -> None:
    sandbox_server.status_advance(message_pk=message_pk, from_status=from_status)


@db_task()
def sandbox_qr_rotate_task(instance_pk: int, seq: int) -> None:
    sandbox_server.qr_rotate(instance_pk=instance_pk, seq=seq)


@db_periodic_task(crontab(minute="*"))
def sandbox_due_task() -> None:
    # Safety net for sandbox timers whose scheduled job was lost (e.g. the worker was down).
    sandbox_server.run_due()


# --- Reconciliation of lost provider webhooks from the providers' message history -------------------------------


@db_periodic_task(crontab(minute=f"*/{settings.GATEWAY_RECONCILE_INTERVAL_MINUTES}"))
def provider_history_reconcile_periodic() -> None:
    for instance_pk in instances_due_for_history_reconcile():
        provider_history_reconcile_task(instance_pk)


@db_task()
def provider_history_reconcile_task(instance_pk: int) -> None:
    instance = Instance.objects.select_related("account").filter(pk=instance_pk).first()
    if instance is not None:
        provider_history_reconcile(instance=instance)
