"""Reads of contact identity: the contact of a number, every id and number of the same person, the 24 h window."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q

from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.contacts.models import Contact, ContactIdentity, Conversation
from whatsapp_gateway.instances.models import Instance


def contact_find(*, account: Account, phone_e164: str) -> Contact | None:
    return Contact.objects.filter(account=account, phone_e164=phone_e164).first()


def contact_aliases(*, account: Account, phone_e164: str) -> list[str]:
    """Every WhatsApp id seen for the number (for suppression matching and display)."""
    contact = contact_find(account=account, phone_e164=phone_e164)
    if contact is None:
        return []
    return list(contact.identities.values_list("wa_id", flat=True))


def conversation_last_inbound_at(*, instance: Instance, phone_e164: str) -> dt.datetime | None:
    """When this number last wrote to this instance; ``None`` if never (3CX 24 h window, risk score)."""
    return (
        Conversation.objects.filter(instance=instance, contact__phone_e164=phone_e164)
        .values_list("last_inbound_at", flat=True)
        .first()
    )


def identity_expand(*, account: Account, numbers: set[str], wa_ids: set[str]) -> tuple[set[str], set[str]]:
    """Add every number and WhatsApp id known for the same contact (docs/api.md "Opt-outs and suppression": matching
    uses the E.164 number and every WhatsApp id seen for it, so a ``…@lid`` opt-out blocks the number it was later
    resolved to)."""
    contact_filter = Q()
    if numbers:
        contact_filter |= Q(phone_e164__in=numbers)
    if wa_ids:
        contact_filter |= Q(pk__in=ContactIdentity.objects.filter(account=account, wa_id__in=wa_ids).values("contact"))
    if not contact_filter:
        return numbers, wa_ids
    contact_ids = Contact.objects.filter(contact_filter, account=account).values("pk")
    known = ContactIdentity.objects.filter(account=account, contact__in=contact_ids).values_list(
        "wa_id", "contact__phone_e164"
    )
    numbers, wa_ids = set(numbers), set(wa_ids)
    for wa_id, phone in known:
        wa_ids.add(wa_id)
        if phone:
            numbers.add(phone)
    return numbers, wa_ids
