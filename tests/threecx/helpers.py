"""Set-up helpers for 3CX tests."""

from __future__ import annotations

from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib.clock import now


def customer_wrote(instance: Instance, phone: str, *, at=None):
    """Record that ``phone`` wrote to ``instance`` (opens the 24 h conversation window)."""
    from whatsapp_gateway.contacts.models import Contact, Conversation

    contact, _ = Contact.objects.get_or_create(account=instance.account, phone_e164=phone)
    conversation, _ = Conversation.objects.get_or_create(account=instance.account, instance=instance, contact=contact)
    conversation.last_inbound_at = at or now()
    conversation.inbound_count += 1
    conversation.save()
    return conversation


def suppress(account, phone: str, *, reason: str = "opted_out"):
    """Put ``phone`` on the account's suppression list (as an opt-out by keyword, or ``blocked``)."""
    from whatsapp_gateway.suppression.models import Suppression

    source = "keyword" if reason == "opted_out" else "manual"
    return Suppression.objects.create(account=account, phone_e164=phone, reason=reason, source=source, keyword="STOP")
