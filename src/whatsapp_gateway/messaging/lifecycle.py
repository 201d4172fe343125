"""The message status lifecycle: a message moves up its status ladder (queued → sending → sent → delivered → read,
or failed), each step recorded in its history and announced as a webhook event; provider receipts and messages the
owner sent from the phone itself land here too.

The send queue and the inbound handlers call these; ``messaging/services.py`` (the send service) only creates
messages, so neither imports the other's module.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db.models import F

from whatsapp_gateway.contacts.models import Contact, Conversation
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.messaging.models import STATUS_RANK, Message, MessageSource, MessageStatus, UnmatchedStatus
from whatsapp_gateway.webhooks.outbox import event_emit

logger = logging.getLogger(__name__)

EVENT_FOR_STATUS = {
    MessageStatus.SENT: "message.sent",
    MessageStatus.DELIVERED: "message.delivered",
    MessageStatus.READ: "message.read",
    MessageStatus.FAILED: "message.failed",
}


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def history_entry(status: str, at: dt.datetime, note: str = "", **extra: str) -> dict[str, str]:
    entry = {"status": status, "at": _iso(at)}
    if note:
        entry["note"] = note
    entry.update({k: v for k, v in extra.items() if v})
    return entry


def _status_event_data(message: Message, previous: str) -> dict[str, Any]:
    return {
        "message_id": message.public_id,
        "log_id": message.log_id,
        "phone": message.phone_e164,
        "status": message.status,
        "previous_status": previous,
        "error_code": message.error_code or None,
        "error_message": message.error_message or None,
    }


def message_transition(
    message: Message,
    to_status: str,
    *,
    at: dt.datetime | None = None,
    error_code: str = "",
    error_message: str = "",
    note: str = "",
    emit: bool = True,
) -> Message:
    """Move ``message`` (locked by the caller) to ``to_status``: timestamps, history, the matching webhook event
    and ``message.status_updated`` in the caller's transaction; a message reaching ``sent`` updates the
    conversation's outbound counters. No checks here: callers decide whether the move is allowed."""
    at = at or now()
    previous = message.status
    message.status = to_status
    if to_status in (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ) and message.sent_at is None:
        message.sent_at = at
    if to_status in (MessageStatus.DELIVERED, MessageStatus.READ) and message.delivered_at is None:
        message.delivered_at = at
    if to_status == MessageStatus.READ:
        message.read_at = at
    if to_status == MessageStatus.FAILED:
        message.failed_at = at
        message.error_code = (error_code or "failed")[:60]
        message.error_message = (error_message or "The message could not be sent.")[:500]
    message.history = [
        *message.history,
        history_entry(to_status, at, note=note, error_code=error_code, error_message=error_message[:200]),
    ]
    message.save()
    reached_sent = STATUS_RANK.get(previous, -1) < STATUS_RANK[MessageStatus.SENT] <= STATUS_RANK.get(to_status, -1)
    if reached_sent and message.instance_id and message.phone_e164:
        conversation_touch_outbound(message, at=at)
    if emit and message.source != MessageSource.PHONE and message.instance_id:
        data = _status_event_data(message, previous)
        instance = message.instance
        if to_status in EVENT_FOR_STATUS:
            event_emit(account=message.account, instance=instance, event_type=EVENT_FOR_STATUS[to_status], data=data)
        event_emit(account=message.account, instance=instance, event_type="message.status_updated", data=data)
    return message


def conversation_touch_outbound(message: Message, *, at: dt.datetime) -> None:
    from django.db.models import Q

    contact, _ = Contact.objects.get_or_create(account_id=message.account_id, phone_e164=message.phone_e164)
    conversation, _ = Conversation.objects.get_or_create(
        account_id=message.account_id, instance_id=message.instance_id, contact=contact
    )
    Conversation.objects.filter(pk=conversation.pk).update(outbound_count=F("outbound_count") + 1)
    Conversation.objects.filter(
        Q(last_outbound_at__isnull=True) | Q(last_outbound_at__lt=at), pk=conversation.pk
    ).update(last_outbound_at=at)


def message_apply_status(
    message: Message,
    status: str,
    *,
    at: dt.datetime | None = None,
    error_code: str = "",
    error_message: str = "",
) -> bool:
    """Apply a provider-reported status to a locked message. Never moves backwards: ``read`` after ``delivered``
    is applied, ``delivered`` after ``read`` is ignored; ``failed`` is final and ignored after delivery.
    Returns whether the status changed."""
    current = message.status
    if current in (MessageStatus.FAILED, MessageStatus.BLOCKED, MessageStatus.VALIDATED):
        return False
    if status == MessageStatus.FAILED:
        if STATUS_RANK[current] >= STATUS_RANK[MessageStatus.DELIVERED]:
            return False
    elif status not in STATUS_RANK or STATUS_RANK[status] <= STATUS_RANK[current]:
        return False
    else:
        # A provider may skip a status, or its callback may be lost or arrive late (then it is ignored above):
        # every message that was delivered was also sent, so subscribers of message.sent must still hear of it.
        for implied in (MessageStatus.SENT, MessageStatus.DELIVERED):
            if STATUS_RANK[current] < STATUS_RANK[implied] < STATUS_RANK[status]:
                message_transition(message, implied, at=at, note=f"implied by {status}")
    message_transition(message, status, at=at, error_code=error_code, error_message=error_message)
    return True


def message_status_callback(instance: Instance, event) -> None:
    """``dispatch`` handler for ``MessageStatusUpdate``: maps by provider message id within the instance. A status
    for an id not recorded yet (the provider called back before the send finished) is kept and applied when the
    id is recorded."""
    status = (event.status or "").lower()
    if not event.provider_message_id or status not in EVENT_FOR_STATUS:
        return
    at = event.occurred_at or now()
    message = (
        Message.objects.select_for_update()
        .filter(instance=instance, provider_message_id=event.provider_message_id)
        .first()
    )
    if message is None:
        UnmatchedStatus.objects.create(
            instance=instance,
            provider_message_id=event.provider_message_id,
            status=status,
            error_code=event.error_code[:60],
            error_message=event.error_message[:500],
            occurred_at=at,
        )
        return
    message_apply_status(message, status, at=at, error_code=event.error_code, error_message=event.error_message)


def apply_unmatched_statuses(message: Message) -> None:
    """Apply (in lifecycle order) statuses that arrived before ``message`` had its provider id."""
    pending = list(
        UnmatchedStatus.objects.filter(instance_id=message.instance_id, provider_message_id=message.provider_message_id)
    )
    if not pending:
        return
    order = {**STATUS_RANK, MessageStatus.FAILED: 99}
    for item in sorted(pending, key=lambda p: (order.get(p.status, 0), p.occurred_at)):
        message_apply_status(
            message, item.status, at=item.occurred_at, error_code=item.error_code, error_message=item.error_message
        )
    UnmatchedStatus.objects.filter(pk__in=[p.pk for p in pending]).delete()
