"""Reads for the operator dashboard. Operator-wide (not account-scoped): only staff reach these views.

Each section reads the table that holds its data, at request time.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q

from whatsapp_gateway.accounts.models import Account, AuditLog
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.messaging.models import Message, MessageStatus, PolicyEvent
from whatsapp_gateway.operations import collectors
from whatsapp_gateway.operations.killswitch import operator_settings_get
from whatsapp_gateway.webhooks.models import DeliveryState, DisabledReason, Endpoint


def paused_accounts(limit: int = 50) -> list[Account]:
    return list(Account.objects.filter(is_paused=True).select_related("plan").order_by("name")[:limit])


def paused_instances(limit: int = 50) -> list[Instance]:
    return list(
        Instance.objects.filter(is_paused=True, deleted_at__isnull=True)
        .select_related("account")
        .order_by("name")[:limit]
    )


def operator_audit(limit: int = 10) -> list[AuditLog]:
    return list(AuditLog.objects.filter(action__startswith="operator.").order_by("-created_at")[:limit])


def blocked_sends_by_code(hours: int = 24) -> list[dict]:
    """Sends the guard refused in the last ``hours``, per error code, most frequent first."""
    since = now() - dt.timedelta(hours=hours)
    return list(
        Message.objects.filter(status=MessageStatus.BLOCKED, created_at__gte=since)
        .values("block_code")
        .annotate(count=Count("pk"), accounts=Count("account", distinct=True))
        .order_by("-count", "block_code")
    )


def sends_accepted(hours: int = 24) -> int:
    since = now() - dt.timedelta(hours=hours)
    return Message.objects.filter(created_at__gte=since, dry_run=False).exclude(status=MessageStatus.BLOCKED).count()


def failing_endpoints(limit: int = 25) -> list:
    """Webhook endpoints failing now (a failure streak) or disabled by the gateway, with their pending backlog."""
    return list(
        Endpoint.objects.filter(
            Q(failing_since__isnull=False)
            | Q(is_enabled=False, disabled_reason__in=[DisabledReason.GONE, DisabledReason.FAILING])
        )
        .select_related("account", "instance")
        .annotate(pending=Count("deliveries", filter=Q(deliveries__state=DeliveryState.PENDING)))
        .order_by("failing_since", "-disabled_at")[:limit]
    )


def policy_events_recent(limit: int = 10) -> list:
    return list(PolicyEvent.objects.select_related("account", "message").order_by("-created_at")[:limit])


def dashboard_data() -> dict:
    """Everything the dashboard shows, read now."""
    states = collectors.instances_by_state()
    blocked = blocked_sends_by_code()
    return {
        "operator_settings": operator_settings_get(),
        "instances_by_state": states,
        "instances_total": sum(states.values()),
        "queues": collectors.queue_backlog(),
        "job_broker_pending": collectors.job_queue_pending(),
        "paused_accounts": paused_accounts(),
        "paused_instances": paused_instances(),
        "operator_audit": operator_audit(),
        "blocked_by_code": blocked,
        "blocked_total": sum(row["count"] for row in blocked),
        "accepted_24h": sends_accepted(),
        "failing_endpoints": failing_endpoints(),
        "policy_events": policy_events_recent(),
    }
