"""Who a number or a WhatsApp id belongs to (one contact per person, across ids), and the conversation counters.

Called inside the caller's transaction by the inbound pipeline, the send path and 3CX.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest

from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.contacts.models import Contact, ContactIdentity, Conversation
from whatsapp_gateway.contacts.signals import lid_resolved
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.lib.phone import InvalidPhoneNumber, jid_to_e164, normalize_e164

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


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
        lid_resolved.send(sender=Contact, contact=contact)
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


def conversation_for(*, instance: Instance, contact: Contact) -> Conversation:
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
    conversation = conversation_for(instance=instance, contact=contact)
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
    conversation = conversation_for(instance=instance, contact=contact)
    Conversation.objects.filter(pk=conversation.pk).update(
        outbound_count=F("outbound_count") + 1,
        last_outbound_at=Greatest(Coalesce(F("last_outbound_at"), Value(at)), Value(at)),
        updated_at=now(),
    )
