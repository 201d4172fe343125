"""Database-derived gauges, computed at scrape time: queue depth and age, instance states, the kill switch.

Queues are the outbox tables (the database is the ledger; Huey is only the doorbell), registered with
``register_queue``. Each app's table is registered here once that app exists, so nothing is reported for a
table that is not installed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.apps import apps
from django.db.models import Count, Min, QuerySet
from prometheus_client.core import GaugeMetricFamily

from whatsapp_gateway.instances.models import Instance, InstanceState
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.operations import queues
from whatsapp_gateway.operations.killswitch import sending_is_enabled

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueSpec:
    """One outbox queue: ``pending`` returns the rows still waiting; ``age_field`` is when each became due."""

    name: str
    description: str
    pending: Callable[[], QuerySet]
    age_field: str


QUEUES: dict[str, QueueSpec] = {}


def register_queue(*, name: str, description: str, pending: Callable[[], QuerySet], age_field: str) -> None:
    QUEUES[name] = QueueSpec(name=name, description=description, pending=pending, age_field=age_field)


def queue_backlog() -> list[dict]:
    """Depth and oldest age (seconds) of every registered queue, for the dashboard and ``/metrics``."""
    rows = []
    current = now()
    for spec in QUEUES.values():
        stats = spec.pending().aggregate(depth=Count("pk"), oldest=Min(spec.age_field))
        oldest = stats["oldest"]
        rows.append(
            {
                "name": spec.name,
                "description": spec.description,
                "depth": stats["depth"],
                "oldest_age_seconds": max((current - oldest).total_seconds(), 0.0) if oldest else 0.0,
            }
        )
    return rows


def instances_by_state() -> dict[str, int]:
    counts = {state.value: 0 for state in InstanceState}
    for row in Instance.objects.filter(deleted_at__isnull=True).values("state").annotate(n=Count("pk")):
        counts[row["state"]] = row["n"]
    return counts


def send_queues_paused() -> dict[str, int]:
    """Paused instance send queues by reason; every reason is reported, 0 included, so alerts see the series."""
    if not _model_exists("messaging.SendLane"):
        return {}
    lane_model = apps.get_model("messaging", "SendLane")
    reasons = [value for value, _ in lane_model._meta.get_field("pause_code").choices]
    counts = dict.fromkeys(reasons, 0)
    for row in lane_model.objects.exclude(pause_code="").values("pause_code").annotate(n=Count("pk")):
        counts[row["pause_code"]] = row["n"]
    return counts


def job_queue_pending() -> int | None:
    """Jobs waiting in the Huey broker (the doorbell), or None when the broker is unreachable."""
    from huey.contrib.djhuey import HUEY

    try:
        return int(HUEY.pending_count())
    except Exception:  # broker down: reported as a missing sample plus an error count, never a crash
        return None


def _model_exists(label: str) -> bool:
    try:
        apps.get_model(label)
    except LookupError:
        return False
    return True


def register_builtin_queues() -> None:
    """Register the outbox tables of the apps that are installed (called from ``OperationsConfig.ready``)."""
    queues.register_all(register_queue, _model_exists)


class DatabaseCollector:
    """A prometheus_client collector that queries the database on every scrape."""

    def describe(self) -> list:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        errors = GaugeMetricFamily(
            "gateway_collector_errors", "Database-derived metric groups that failed this scrape.", labels=["group"]
        )
        try:
            depth = GaugeMetricFamily("gateway_queue_depth", "Rows waiting in each outbox queue.", labels=["queue"])
            age = GaugeMetricFamily(
                "gateway_queue_oldest_age_seconds", "Age of the oldest waiting row per queue.", labels=["queue"]
            )
            for row in queue_backlog():
                depth.add_metric([row["name"]], row["depth"])
                age.add_metric([row["name"]], row["oldest_age_seconds"])
            yield depth
            yield age
        except Exception:
            logger.exception("queue metrics failed")
            errors.add_metric(["queues"], 1)
        try:
            states = GaugeMetricFamily("gateway_instances", "Instances (not deleted) by state.", labels=["state"])
            for state, count in instances_by_state().items():
                states.add_metric([state], count)
            yield states
        except Exception:
            logger.exception("instance metrics failed")
            errors.add_metric(["instances"], 1)
        try:
            paused = GaugeMetricFamily(
                "gateway_send_queues_paused",
                "Instance send queues paused as a whole right now, by reason (circuit breaker, disconnected).",
                labels=["reason"],
            )
            for reason, count in send_queues_paused().items():
                paused.add_metric([reason], count)
            yield paused
        except Exception:
            logger.exception("send-queue pause metrics failed")
            errors.add_metric(["send_queues"], 1)
        try:
            yield GaugeMetricFamily(
                "gateway_sending_enabled",
                "1 unless the operator's kill switch is off.",
                value=int(sending_is_enabled()),
            )
        except Exception:
            logger.exception("kill-switch metric failed")
            errors.add_metric(["operator"], 1)
        pending = job_queue_pending()
        if pending is None:
            errors.add_metric(["job_broker"], 1)
        else:
            yield GaugeMetricFamily("gateway_job_broker_pending", "Jobs waiting in the Huey broker.", value=pending)
        yield errors
