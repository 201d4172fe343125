"""Messaging reads, always given the account (or the API key, which carries it)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.apikeys.selectors import api_key_allows_instance
from whatsapp_gateway.instances.models import Instance, InstanceState
from whatsapp_gateway.lib import errors
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.messaging import policy
from whatsapp_gateway.messaging.guard.usage import local_day_bounds
from whatsapp_gateway.messaging.models import AccountDailyUsage, LanePause, Message, MessageStatus, SendLane
from whatsapp_gateway.operations.killswitch import sending_is_enabled


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def message_get_for_api(*, api_key, public_id: str) -> Message:
    """The key's account's message; a scoped key sees only its instances' messages. Anything else: 404."""
    message = (
        Message.objects.select_related("instance", "template")
        .filter(account=api_key.account, public_id=public_id)
        .first()
    )
    if message is None:
        raise errors.NotFound("No such message.")
    if message.instance_id and not api_key_allows_instance(api_key=api_key, instance_id=message.instance_id):
        raise errors.NotFound("No such message.")
    return message


def message_status_body(message: Message) -> dict[str, Any]:
    return {
        "success": True,
        "message_id": message.public_id,
        "log_id": message.log_id,
        "status": message.status,
        "instance_id": message.instance.public_id if message.instance else None,
        "phone": message.phone_e164,
        "message_purpose": message.purpose,
        "source": message.source,
        "dry_run": message.dry_run,
        "risk_score": message.risk_score,
        "reasons": list(message.reasons),
        "template": (
            {"name": message.template.name, "language": message.template.language, "source": message.template.source}
            if message.template_id and message.template is not None
            else None
        ),
        "blocked_code": message.block_code or None,
        "error_code": message.error_code or None,
        "error_message": message.error_message or None,
        "created_at": _iso(message.created_at),
        "sent_at": _iso(message.sent_at),
        "delivered_at": _iso(message.delivered_at),
        "read_at": _iso(message.read_at),
        "failed_at": _iso(message.failed_at),
        "history": [
            {
                "status": h.get("status"),
                "at": h.get("at"),
                "note": h.get("note"),
                "error_code": h.get("error_code"),
                "error_message": h.get("error_message"),
            }
            for h in message.history
        ],
    }


def message_list(*, account: Account) -> QuerySet[Message]:
    return Message.objects.filter(account=account).select_related("instance", "api_key", "template")


def message_get_for_account(*, account: Account, public_id: str) -> Message:
    from django.http import Http404

    message = message_list(account=account).filter(public_id=public_id).first()
    if message is None:
        raise Http404("No such message")
    return message


def account_usage(*, account: Account) -> dict[str, int]:
    """Accepted messages today (account timezone) and this month."""
    today, _, _ = local_day_bounds(account, now())
    totals = AccountDailyUsage.objects.filter(account=account, day__gte=today.replace(day=1), day__lte=today).aggregate(
        month_total=Sum("count"), day_total=Sum("count", filter=Q(day=today))
    )
    return {"day": totals["day_total"] or 0, "month": totals["month_total"] or 0}


def _clock(value: dt.datetime | None) -> str:
    """HH:MM:SS in the zone the portal shows (the account's, see ui.middleware), with the zone's name."""
    if not value:
        return ""
    local = timezone.localtime(value)
    return f"{local:%H:%M:%S} {local.tzname()}"


def instance_queue_status(*, instance: Instance) -> dict[str, Any]:
    """The instance's send queue for the portal: running or paused (why, since when, next probe) and its depth."""
    lane = SendLane.objects.filter(instance=instance).first()
    queued = Message.objects.filter(instance=instance, status=MessageStatus.QUEUED)
    status: dict[str, Any] = {
        "queued": queued.count(),
        "retrying": queued.filter(next_attempt_at__gt=now()).count(),
        "paused": False,
        "code": "",
        "reason": "",
        "paused_at": None,
        "probe_at": None,
        "probes": 0,
    }
    if lane is not None and lane.pause_code:
        status.update(
            paused=True,
            code=lane.pause_code,
            label=lane.get_pause_code_display(),
            reason=lane.pause_reason,
            paused_at=lane.paused_at,
            probe_at=lane.probe_at,
            probes=lane.probes,
        )
    elif instance.state != InstanceState.CONNECTED and status["queued"]:
        status.update(
            paused=True,
            code=LanePause.INSTANCE_DISCONNECTED,
            label=LanePause.INSTANCE_DISCONNECTED.label,
            reason=f"The instance is {instance.get_state_display().lower()}: messages wait until it is connected again.",
        )
    return status


def message_wait_reason(*, message: Message) -> str:
    """Why a queued message has not gone yet, in one sentence ("" when it is not queued)."""
    if message.status != MessageStatus.QUEUED:
        return ""
    instance = message.instance
    if instance is None or instance.deleted_at is not None:
        return "The instance was deleted; the message will expire unsent."
    queue = instance_queue_status(instance=instance)
    if queue["paused"] and queue["code"] == LanePause.PROVIDER_FAILING:
        return (
            f"The instance's queue is paused because the provider is failing: {queue['reason']} "
            f"Next probe at {_clock(queue['probe_at'])}; the queue resumes on its own once the provider answers."
        )
    if queue["paused"]:
        return queue["reason"]
    if instance.is_paused:
        return "The operator paused this instance."
    if message.account.is_paused:
        return "Sending is paused for this account."
    if not sending_is_enabled():
        return "The operator has switched sending off for the whole service."
    if message.next_attempt_at and message.next_attempt_at > now():
        return (
            f"Attempt {message.attempts} failed ({message.error_code}: {message.error_message}); "
            f"next try at {_clock(message.next_attempt_at)} (at most {policy.SEND_MAX_ATTEMPTS} attempts)."
        )
    earlier = (
        Message.objects.filter(
            instance=instance, status=MessageStatus.QUEUED, phone_e164=message.phone_e164, id__lt=message.id
        )
        .order_by("id")
        .first()
    )
    if earlier is not None:
        return f"Waiting for message #{earlier.log_id} to the same recipient (messages to one number keep their order)."
    ahead = Message.objects.filter(instance=instance, status=MessageStatus.QUEUED, id__lt=message.id).count()
    return (
        f"In line: number {ahead + 1} in the instance's queue ({ahead} ahead); the instance sends one message at a "
        f"time, {policy.PACING_MIN_GAP_SECONDS:g}–{policy.PACING_MIN_GAP_SECONDS + policy.PACING_MAX_JITTER_SECONDS:g} s apart."
    )
