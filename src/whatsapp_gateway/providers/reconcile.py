"""Reconciliation of lost provider webhooks from the provider's message history.

Neither Evolution API nor WAHA persists webhook retries, and both are known to drop ``messages.upsert`` /
``message`` events (docs/providers.md). A periodic job re-reads the last
``GATEWAY_RECONCILE_LOOKBACK_MINUTES`` of each connected instance's history and dispatches what no callback
delivered, through the same deduplication as the callback route (``providers.services.events_process``).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from whatsapp_gateway.instances.models import Instance, InstanceState
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.providers.base import ProviderError
from whatsapp_gateway.providers.registry import PROVIDERS, UnknownProvider, get_provider
from whatsapp_gateway.providers.services import events_process

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HistoryReconcileResult:
    fetched: int = 0
    dispatched: int = 0
    duplicates: int = 0
    failed: int = 0


def history_providers() -> list[str]:
    """Providers whose adapter can read message history."""
    return [name for name in PROVIDERS if _supports_history(name)]


def _supports_history(name: str) -> bool:
    try:
        return get_provider(name).supports_history
    except (UnknownProvider, ImportError):
        return False


def instances_due_for_history_reconcile() -> list[int]:
    """Primary keys of live, connected instances on a provider with a history API."""
    return list(
        Instance.objects.filter(
            provider__in=history_providers(), state=InstanceState.CONNECTED, deleted_at__isnull=True
        ).values_list("pk", flat=True)
    )


def provider_history_reconcile(*, instance: Instance, since: dt.datetime | None = None) -> HistoryReconcileResult:
    """Fetch the instance's recent messages from its provider and dispatch those no callback delivered.

    The provider call runs outside any transaction; each event then gets its own transaction (one failing handler
    does not block the others, and its event is tried again on the next run because it was not recorded as
    processed). Provider failures are logged and give an empty result; this never raises for them.
    """
    if instance.deleted_at is not None or instance.state != InstanceState.CONNECTED:
        return HistoryReconcileResult()
    provider = get_provider(instance.provider)
    if not provider.supports_history:
        return HistoryReconcileResult()
    since = since or now() - dt.timedelta(minutes=settings.GATEWAY_RECONCILE_LOOKBACK_MINUTES)
    try:
        events = provider.fetch_recent_messages(instance, since=since)
    except ProviderError as exc:
        logger.warning("history reconcile of %s: provider unavailable: %s", instance.public_id, exc.message)
        return HistoryReconcileResult()
    dispatched = duplicates = failed = 0
    for event in events:
        try:
            with transaction.atomic():
                done, skipped = events_process(instance=instance, events=[event])
        except Exception:  # a handler bug must not stop the other events; this one is retried next run
            logger.exception("history reconcile of %s: an event could not be processed", instance.public_id)
            failed += 1
            continue
        dispatched += done
        duplicates += skipped
    if dispatched:
        logger.info("history reconcile of %s: %s lost event(s) recovered", instance.public_id, dispatched)
    return HistoryReconcileResult(fetched=len(events), dispatched=dispatched, duplicates=duplicates, failed=failed)
