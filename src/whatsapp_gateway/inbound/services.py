"""Inbound writes: contacts and their WhatsApp ids, conversations, inbound messages, opt-out handling, and the
handlers for the provider's normalised events (registered in ``apps.py``).

Every handler runs inside the provider callback job's transaction (``providers/dispatch.py``): the inbound row,
the conversation update, the suppression and the customer events commit together or not at all.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q

from whatsapp_gateway.contacts.models import Conversation
from whatsapp_gateway.contacts.services import (
    clean_jid,
    clean_phone,
    contact_resolve,
    conversation_record_inbound,
    is_group_jid,
    person_ids,
)
from whatsapp_gateway.inbound import hooks, optout
from whatsapp_gateway.inbound.models import (
    ForwardingStatus,
    InboundMessage,
    KeywordAction,
    MessageType,
)
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.lib.errors import GatewayError
from whatsapp_gateway.lib.phone import jid_to_e164
from whatsapp_gateway.messaging.services import message_record_from_phone, send_message
from whatsapp_gateway.providers import base as events
from whatsapp_gateway.suppression.services import suppression_opt_out, suppression_resubscribe
from whatsapp_gateway.webhooks.outbox import event_emit

logger = logging.getLogger(__name__)

MISSED_CALL_STATUSES = {"missed", "rejected", "timeout"}


# --- Inbound messages ----------------------------------------------------------------------------------------------


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _received_at(event: events.NormalisedEvent) -> dt.datetime:
    current = now()
    occurred = event.occurred_at
    if occurred is None:
        return current
    if occurred.tzinfo is None:
        occurred = occurred.replace(tzinfo=dt.UTC)
    return min(occurred, current)  # a provider clock running ahead must not put rows in the future


def _message_type(value: str) -> str:
    return value if value in MessageType.values else MessageType.UNKNOWN


def _json_safe(metadata: Any) -> dict:
    if not isinstance(metadata, dict):
        metadata = dict(metadata or {})
    return {str(k): v for k, v in metadata.items() if isinstance(v, str | int | float | bool | list | dict | None)}


def inbound_message_record(*, instance: Instance, event: events.InboundMessage) -> InboundMessage | None:
    """Record one message a customer sent, exactly once per (instance, provider message id).

    In the caller's transaction: resolves the contact (and stores every WhatsApp id), writes the ``InboundMessage``
    row, updates the conversation (1:1 chats), handles opt-out and re-subscribe keywords (1:1 text messages only),
    then runs the forwarders (``hooks.py``) and emits ``message.received`` / ``group.message_received``.
    Returns ``None`` for a duplicated delivery (nothing is written or emitted twice).
    """
    account = instance.account
    provider_message_id = (event.provider_message_id or "")[:200]
    if (
        provider_message_id
        and InboundMessage.objects.filter(instance=instance, provider_message_id=provider_message_id).exists()
    ):
        return None
    is_group = bool(event.is_group or is_group_jid(event.chat_id))
    ids = person_ids(event.sender_id, event.sender_lid, *([] if is_group else [event.chat_id]))
    contact = contact_resolve(
        account=account, phone_e164=event.sender_phone, wa_ids=ids, display_name=event.sender_name
    )
    sender_phone = (contact.phone_e164 if contact else "") or clean_phone(event.sender_phone)
    received_at = _received_at(event)
    lid = clean_jid(event.sender_lid) or next((i for i in ids if i.endswith("@lid")), "")
    row = InboundMessage(
        account=account,
        instance=instance,
        contact=contact,
        provider_message_id=provider_message_id,
        chat_id=clean_jid(event.chat_id)[:120],
        sender_phone=sender_phone,
        sender_id=clean_jid(event.sender_id)[:120],
        sender_lid=lid[:120],
        sender_name=(event.sender_name or "")[:200],
        is_group=is_group,
        group_id=(clean_jid(event.chat_id) if is_group else "")[:120],
        group_name=(event.group_name or "")[:200] if is_group else "",
        message_type=_message_type(event.message_type),
        text=event.text or "",
        metadata=_json_safe(event.metadata),
        received_at=received_at,
    )
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:  # the same provider message, delivered twice at once
        return None

    if contact is not None and not is_group:
        conversation_record_inbound(instance=instance, contact=contact, at=received_at)

    changed = _handle_keywords(row=row, ids=ids)
    status = hooks.run_forwarders(row, is_opt_out=row.is_opt_out)
    if status and status != row.forwarding_status:
        row.forwarding_status = status
        changed.append("forwarding_status")
    if changed:
        row.save(update_fields=changed)

    _emit_message_event(row=row)
    return row


def _handle_keywords(*, row: InboundMessage, ids: list[str]) -> list[str]:
    """Opt-out / re-subscribe keywords in 1:1 text messages (docs/api.md "Opt-outs and suppression"). Returns the changed row fields."""
    if row.is_group or row.message_type != MessageType.TEXT:
        return []
    account = row.account
    match = optout.detect_keyword(row.text, extra_opt_out=account.extra_opt_out_keywords or [])
    if match is None:
        return []
    wa_ids = [i for i in {*ids, row.sender_lid} if i]
    if match.action == optout.OPT_OUT:
        outcome = suppression_opt_out(
            account=account, instance=row.instance, phone_e164=row.sender_phone, wa_ids=wa_ids, keyword=match.keyword
        )
        row.is_opt_out = True
        row.keyword_action = KeywordAction.OPT_OUT
        row.keyword = match.keyword
        if outcome.created and account.send_opt_out_confirmation and row.sender_phone:
            from whatsapp_gateway.inbound.tasks import optout_confirmation_task  # the job module imports this one

            inbound_id, arabic = row.pk, match.is_arabic
            transaction.on_commit(lambda: optout_confirmation_task(inbound_id, arabic), robust=True)
        return ["is_opt_out", "keyword_action", "keyword"]
    lifted = suppression_resubscribe(account=account, phone_e164=row.sender_phone, wa_ids=wa_ids, keyword=match.keyword)
    if not lifted:
        return []
    row.keyword_action = KeywordAction.RESUBSCRIBE
    row.keyword = match.keyword
    return ["keyword_action", "keyword"]


def _emit_message_event(*, row: InboundMessage) -> None:
    data: dict[str, Any] = {
        "from": row.sender_display,
        "from_name": row.sender_name,
        "message_text": row.text,
        "message_type": row.message_type,
        "external_message_id": row.provider_message_id,
        "message_id": row.public_id,
    }
    if row.message_type != MessageType.TEXT:
        data["metadata"] = row.metadata
    event_type = "message.received"
    if row.is_group:
        event_type = "group.message_received"
        data.update({"group_id": row.group_id, "group_name": row.group_name, "participant": row.sender_display})
    event_emit(
        account=row.account, instance=row.instance, event_type=event_type, data=data, occurred_at=row.received_at
    )


def inbound_forwarding_update(*, inbound: InboundMessage, status: str, detail: str = "") -> None:
    """Record where a forwarder's asynchronous delivery ended (e.g. the 3CX bridge: ``forwarded`` / ``failed``)."""
    if status not in ForwardingStatus.values:
        raise ValueError(f"unknown forwarding status {status!r}")
    InboundMessage.objects.filter(pk=inbound.pk).update(forwarding_status=status, forwarding_detail=detail[:300])


def optout_confirmation_send(*, inbound: InboundMessage, arabic: bool = False) -> str | None:
    """Send the one confirmation reply to a number that just opted out; returns the outbound message id.

    Goes through the one send service (``source="opt_out_confirmation"``, ``purpose="operational"``), so it is paced
    and logged like every message. A block by another guard (e.g. the instance is disconnected) is logged, not
    retried: the opt-out itself is already recorded.
    """
    text = optout.confirmation_text(business_name=inbound.account.name, arabic=arabic)
    try:
        outcome = send_message(
            account=inbound.account,
            instance_ref=inbound.instance.public_id,
            phone=inbound.sender_phone,
            text=text,
            purpose="operational",
            source="opt_out_confirmation",
        )
    except GatewayError as exc:
        logger.warning("opt-out confirmation for %s not sent: %s", inbound.public_id, exc.code)
        return None
    return outcome.message_id


# --- Normalised-event handlers (registered in apps.py) ----------------------------------------------------------------


def handle_inbound_message(instance: Instance, event: events.InboundMessage) -> None:
    """``InboundMessage``: customers' messages become inbound rows; messages sent from the paired phone itself
    (``from_me``) are recorded as outbound by the messaging app."""
    if event.from_me:
        _record_from_phone(instance=instance, event=event)
        return
    inbound_message_record(instance=instance, event=event)


def _record_from_phone(*, instance: Instance, event: events.InboundMessage) -> None:
    if event.is_group or is_group_jid(event.chat_id):
        return  # group messages sent from the phone have no single recipient to log
    to_phone = event.chat_phone or jid_to_e164(clean_jid(event.chat_id)) or ""
    if not to_phone:
        contact = contact_resolve(
            account=instance.account,
            phone_e164="" if event.sender_phone == instance.phone_number else event.sender_phone,
            wa_ids=person_ids(event.chat_id),
        )
        to_phone = contact.phone_e164 if contact else ""
    if not to_phone:
        logger.info("message sent from the phone of %s to an unresolved id; not logged", instance.public_id)
        return
    message_record_from_phone(
        instance=instance,
        to_phone=to_phone,
        text=event.text or "",
        provider_message_id=event.provider_message_id,
        occurred_at=_received_at(event),
    )


def handle_call(instance: Instance, event: events.CallEvent) -> None:
    """``CallEvent``: an offered call emits ``call.received``; a missed, rejected or timed-out one ``call.missed``."""
    status = (event.status or "").lower()
    if status == "offer":
        event_type = "call.received"
    elif status in MISSED_CALL_STATUSES:
        event_type = "call.missed"
    else:
        return  # accepted / ended: no customer event in the catalogue
    contact = contact_resolve(
        account=instance.account, phone_e164=event.caller_phone, wa_ids=person_ids(event.caller_id)
    )
    caller = (contact.phone_e164 if contact else "") or clean_phone(event.caller_phone) or clean_jid(event.caller_id)
    event_emit(
        account=instance.account,
        instance=instance,
        event_type=event_type,
        data={"from": caller, "call_id": event.call_id, "is_video": bool(event.is_video), "status": status},
        occurred_at=_received_at(event),
    )


def _participant_display(jid: str) -> str:
    return clean_phone(jid) or clean_jid(jid)


def handle_group_update(instance: Instance, event: events.GroupUpdate) -> None:
    """``GroupUpdate``: ``group.updated`` with the action and the (first) participant; all of them in
    ``participants``."""
    participants = [_participant_display(p) for p in event.participants if p]
    event_emit(
        account=instance.account,
        instance=instance,
        event_type="group.updated",
        data={
            "group_id": clean_jid(event.group_id),
            "group_name": event.group_name,
            "participant": participants[0] if participants else "",
            "participants": participants,
            "action": event.action,
        },
        occurred_at=_received_at(event),
    )


def handle_conversation_update(instance: Instance, event: events.ConversationUpdate) -> None:
    """``ConversationUpdate`` (read, archived, unread count): ``conversation.updated`` with our conversation times.
    An update that carries neither an unread count nor the archived flag says nothing changed: no webhook."""
    if event.unread_count is None and event.archived is None:
        return
    chat_id = clean_jid(event.chat_id)
    contact = None
    if not is_group_jid(chat_id):
        contact = contact_resolve(account=instance.account, phone_e164=event.phone, wa_ids=person_ids(chat_id))
    conversation = (
        Conversation.objects.filter(instance=instance, contact=contact).first() if contact is not None else None
    )
    event_emit(
        account=instance.account,
        instance=instance,
        event_type="conversation.updated",
        data={
            "phone": (contact.phone_e164 if contact else "") or clean_phone(event.phone),
            "chat_id": chat_id,
            "unread_count": event.unread_count,
            "archived": event.archived,
            "last_inbound_at": _iso(conversation.last_inbound_at) if conversation else None,
            "last_outbound_at": _iso(conversation.last_outbound_at) if conversation else None,
        },
        occurred_at=_received_at(event),
    )


# --- Retention (registered with lib.retention in apps.py) -------------------------------------------------------------

PURGE_BATCH = 5000


def inbound_purge(*, body_cutoff: dt.datetime, metadata_cutoff: dt.datetime) -> dict[str, int]:
    """Delete inbound rows received before ``metadata_cutoff`` and conversations idle since then; redact the body
    (text and metadata: captions, locations, contact cards) of rows received before ``body_cutoff``. Batched by
    primary key so a backlog never holds one huge transaction; idempotent. Contacts and their WhatsApp ids stay:
    suppression matching needs them."""
    deleted = 0
    while True:
        batch = list(
            InboundMessage.objects.filter(received_at__lt=metadata_cutoff)
            .order_by()
            .values_list("pk", flat=True)[:PURGE_BATCH]
        )
        if not batch:
            break
        with transaction.atomic():
            InboundMessage.objects.filter(pk__in=batch).delete()
        deleted += len(batch)
    redacted = 0
    while True:
        batch = list(
            InboundMessage.objects.filter(received_at__lt=body_cutoff, body_redacted_at__isnull=True)
            .order_by()
            .values_list("pk", flat=True)[:PURGE_BATCH]
        )
        if not batch:
            break
        redacted += InboundMessage.objects.filter(pk__in=batch).update(text="", metadata={}, body_redacted_at=now())
    idle = Conversation.objects.filter(
        Q(last_inbound_at__lt=metadata_cutoff) | Q(last_inbound_at__isnull=True),
        Q(last_outbound_at__lt=metadata_cutoff) | Q(last_outbound_at__isnull=True),
        updated_at__lt=metadata_cutoff,
    )
    conversations_deleted, _ = idle.delete()
    return {"redacted": redacted, "deleted": deleted, "conversations_deleted": conversations_deleted}
