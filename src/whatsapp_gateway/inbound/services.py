"""Inbound writes: contacts and their WhatsApp ids, conversations, inbound messages, opt-out handling, and the
handlers for the provider's normalised events (registered in ``apps.py``).

Every handler runs inside the provider callback job's transaction (``providers/dispatch.py``): the inbound row,
the conversation update, the suppression and the customer events commit together or not at all.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Greatest

from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.inbound import hooks, optout
from whatsapp_gateway.inbound.models import (
    Contact,
    ContactIdentity,
    Conversation,
    ForwardingStatus,
    InboundMessage,
    KeywordAction,
    MessageType,
)
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.lib.phone import InvalidPhoneNumber, jid_to_e164, normalize_e164
from whatsapp_gateway.providers import base as events
from whatsapp_gateway.suppression.models import Suppression
from whatsapp_gateway.suppression.services import suppression_opt_out, suppression_resubscribe
from whatsapp_gateway.webhooks.services import event_emit

logger = logging.getLogger(__name__)

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MISSED_CALL_STATUSES = {"missed", "rejected", "timeout"}


# --- Identity ------------------------------------------------------------------------------------------------------


def clean_jid(jid: str) -> str:
    """``9665…:12@s.whatsapp.net`` (a device id) -> ``9665…@s.whatsapp.net``; other ids unchanged, trimmed."""
    jid = (jid or "").strip()
    user, at, server = jid.partition("@")
    if at and ":" in user:
        user = user.split(":")[0]
    return f"{user}{at}{server}"


def is_group_jid(jid: str) -> bool:
    return jid.endswith("@g.us")


def clean_phone(value: str) -> str:
    """An E.164 number from what a provider gave, or ``""``."""
    value = (value or "").strip()
    if not value:
        return ""
    if _E164.match(value):
        return value
    if "@" in value:
        return jid_to_e164(clean_jid(value)) or ""
    try:
        return normalize_e164(value if value.startswith("+") else "+" + value.lstrip("0"))
    except InvalidPhoneNumber:
        return ""


def person_ids(*jids: str) -> list[str]:
    """The distinct, cleaned person ids among ``jids`` (group ids, broadcast and newsletter ids excluded)."""
    seen: list[str] = []
    for jid in jids:
        jid = clean_jid(jid)
        if not jid or "@" not in jid or is_group_jid(jid) or jid.endswith(("@broadcast", "@newsletter")):
            continue
        if jid not in seen:
            seen.append(jid)
    return seen


def _phone_from_ids(wa_ids: Iterable[str]) -> str:
    for wa_id in wa_ids:
        phone = jid_to_e164(wa_id)
        if phone:
            return phone
    return ""


def contact_resolve(
    *, account: Account, phone_e164: str = "", wa_ids: Iterable[str] = (), display_name: str = ""
) -> Contact | None:
    """The one contact for this person, created or merged as needed; stores every WhatsApp id seen.

    A number given by the provider (e.g. the ``@lid`` resolved to ``+9665…``) wins: when an id that was stored for a
    number-less contact turns out to belong to a number, the two contacts are merged (``contact_merge``), so the
    opt-out someone sent from their ``@lid`` blocks their number too. ``None`` when neither a number nor an id is
    known. Runs inside the caller's transaction.
    """
    wa_ids = person_ids(*wa_ids)
    phone_e164 = clean_phone(phone_e164) or _phone_from_ids(wa_ids)
    if not phone_e164 and not wa_ids:
        return None
    by_phone = Contact.objects.filter(account=account, phone_e164=phone_e164).first() if phone_e164 else None
    by_ids = list(
        Contact.objects.filter(account=account, identities__wa_id__in=wa_ids).distinct().order_by("pk")
        if wa_ids
        else []
    )
    candidates = [c for c in [by_phone, *by_ids] if c is not None]
    candidates = list({c.pk: c for c in candidates}.values())
    if phone_e164:  # a contact with another number keeps its number; only the ids move (below)
        candidates = [c for c in candidates if not c.phone_e164 or c.phone_e164 == phone_e164]
    if not candidates:
        contact = _contact_create(account=account, phone_e164=phone_e164, display_name=display_name)
    else:
        contact = by_phone or next((c for c in candidates if c.phone_e164), candidates[0])
        for other in candidates:
            if other.pk == contact.pk:
                continue
            if other.phone_e164 and contact.phone_e164 and other.phone_e164 != contact.phone_e164:
                continue  # two numbers seen under one id (no number given now): the contacts stay apart
            contact = contact_merge(into=contact, other=other)
        changed = []
        if phone_e164 and not contact.phone_e164:
            contact.phone_e164 = phone_e164
            changed.append("phone_e164")
        if display_name and contact.display_name != display_name[:200]:
            contact.display_name = display_name[:200]
            changed.append("display_name")
        if changed:
            contact.save(update_fields=[*changed, "updated_at"])
    _identities_attach(contact=contact, wa_ids=wa_ids)
    if contact.phone_e164 and any(w.endswith("@lid") for w in wa_ids):
        _lid_suppressions_attach_phone(contact=contact)
    return contact


def _contact_create(*, account: Account, phone_e164: str, display_name: str) -> Contact:
    try:
        with transaction.atomic():
            return Contact.objects.create(account=account, phone_e164=phone_e164, display_name=display_name[:200])
    except IntegrityError:  # a concurrent callback created the same number
        return Contact.objects.get(account=account, phone_e164=phone_e164)


def _identities_attach(*, contact: Contact, wa_ids: list[str]) -> None:
    if not wa_ids:
        return
    existing = dict(
        ContactIdentity.objects.filter(account_id=contact.account_id, wa_id__in=wa_ids).values_list(
            "wa_id", "contact_id"
        )
    )
    moved = [w for w, owner in existing.items() if owner != contact.pk]
    if moved:  # the provider now says this id belongs to this person (e.g. a lid re-assigned to a number)
        ContactIdentity.objects.filter(account_id=contact.account_id, wa_id__in=moved).update(contact=contact)
    for wa_id in wa_ids:
        if wa_id in existing:
            continue
        try:
            with transaction.atomic():
                ContactIdentity.objects.create(account_id=contact.account_id, contact=contact, wa_id=wa_id)
        except IntegrityError:
            ContactIdentity.objects.filter(account_id=contact.account_id, wa_id=wa_id).update(contact=contact)


def _lid_suppressions_attach_phone(*, contact: Contact) -> None:
    """A keyword opt-out recorded for a ``…@lid`` before its number was known gets the number now (so the list shows
    it and the unique-per-number rule holds). Matching already works through the contact's ids either way."""
    lid_only = Suppression.objects.filter(
        account_id=contact.account_id,
        removed_at__isnull=True,
        phone_e164="",
        wa_id__in=contact.identities.values("wa_id"),
    )
    if not lid_only.exists():
        return
    if Suppression.objects.filter(
        account_id=contact.account_id, removed_at__isnull=True, phone_e164=contact.phone_e164
    ).exists():
        return  # the number has its own suppression; the lid row keeps matching through the identity
    first = lid_only.order_by("created_at", "id").first()
    Suppression.objects.filter(pk=first.pk).update(phone_e164=contact.phone_e164)


@transaction.atomic
def contact_merge(*, into: Contact, other: Contact) -> Contact:
    """Move everything of ``other`` (ids, conversations, messages, and any other app's rows) to ``into`` and delete
    ``other``. Conversations of the same instance are combined (latest times, summed counts)."""
    for conversation in Conversation.objects.filter(contact=other):
        target = Conversation.objects.filter(instance_id=conversation.instance_id, contact=into).first()
        if target is None:
            Conversation.objects.filter(pk=conversation.pk).update(contact=into)
            continue
        target.last_inbound_at = _latest(target.last_inbound_at, conversation.last_inbound_at)
        target.last_outbound_at = _latest(target.last_outbound_at, conversation.last_outbound_at)
        target.inbound_count += conversation.inbound_count
        target.outbound_count += conversation.outbound_count
        target.save()
        conversation.delete()
    # Every other foreign key to Contact (identities, inbound messages, rows other apps add later) is re-pointed.
    for relation in Contact._meta.related_objects:
        if relation.related_model is Conversation or not relation.one_to_many:
            continue
        relation.related_model._base_manager.filter(**{relation.field.name: other}).update(
            **{relation.field.name: into}
        )
    if not into.display_name and other.display_name:
        into.display_name = other.display_name
        into.save(update_fields=["display_name", "updated_at"])
    other.delete()
    return into


def _latest(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    return max((v for v in (a, b) if v is not None), default=None)


# --- Conversations -------------------------------------------------------------------------------------------------


def _conversation_for(*, instance: Instance, contact: Contact) -> Conversation:
    conversation = Conversation.objects.filter(instance=instance, contact=contact).first()
    if conversation is not None:
        return conversation
    try:
        with transaction.atomic():
            return Conversation.objects.create(account_id=instance.account_id, instance=instance, contact=contact)
    except IntegrityError:
        return Conversation.objects.get(instance=instance, contact=contact)


def conversation_record_inbound(*, instance: Instance, contact: Contact, at: dt.datetime) -> None:
    """One more inbound message in this chat; ``last_inbound_at`` only moves forward (late deliveries keep it)."""
    conversation = _conversation_for(instance=instance, contact=contact)
    Conversation.objects.filter(pk=conversation.pk).update(
        inbound_count=F("inbound_count") + 1,
        last_inbound_at=Greatest(Coalesce(F("last_inbound_at"), Value(at)), Value(at)),
        updated_at=now(),
    )


def conversation_record_outbound(*, instance: Instance, phone_e164: str, at: dt.datetime | None = None) -> None:
    """One more outbound message to this number (the send pipeline and messages sent from the phone call this)."""
    at = at or now()
    contact = contact_resolve(account=instance.account, phone_e164=phone_e164)
    if contact is None:
        return
    conversation = _conversation_for(instance=instance, contact=contact)
    Conversation.objects.filter(pk=conversation.pk).update(
        outbound_count=F("outbound_count") + 1,
        last_outbound_at=Greatest(Coalesce(F("last_outbound_at"), Value(at)), Value(at)),
        updated_at=now(),
    )


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
            from whatsapp_gateway.inbound.tasks import optout_confirmation_task

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
    from whatsapp_gateway.lib.errors import GatewayError
    from whatsapp_gateway.messaging.services import send_message

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
    from whatsapp_gateway.messaging.services import message_record_from_phone

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
