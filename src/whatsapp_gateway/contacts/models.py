"""Contacts (one person across their WhatsApp ids) and conversations (24 h window, counts) — below inbound, the
guard, suppression and 3CX, which all need to know who a number or a WhatsApp id belongs to.

The tables keep the names they had when these models lived in ``inbound`` (no data moved).
"""

from __future__ import annotations

from django.db import models

from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.instances.models import Instance


class Contact(models.Model):
    """A person, per account: their E.164 number (when known) and every WhatsApp id seen for them."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contacts")
    phone_e164 = models.CharField(max_length=20, blank=True)
    display_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "inbound_contact"  # the table predates the contacts app
        constraints = [
            models.UniqueConstraint(
                fields=["account", "phone_e164"],
                condition=~models.Q(phone_e164=""),
                name="contact_unique_phone_per_account",
            )
        ]

    def __str__(self) -> str:
        return self.phone_e164 or f"contact {self.pk}"


class ContactIdentity(models.Model):
    """One WhatsApp id of a contact: ``…@s.whatsapp.net``, ``…@c.us`` or ``…@lid``."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="identities")
    wa_id = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "inbound_contactidentity"
        constraints = [models.UniqueConstraint(fields=["account", "wa_id"], name="identity_unique_per_account")]

    def __str__(self) -> str:
        return self.wa_id


class Conversation(models.Model):
    """Per instance and contact: when they last wrote (24 h window) and when we last wrote, with counts."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="conversations")
    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="conversations")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations")
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    last_outbound_at = models.DateTimeField(null=True, blank=True)
    inbound_count = models.PositiveIntegerField(default=0)
    outbound_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "inbound_conversation"
        constraints = [
            models.UniqueConstraint(fields=["instance", "contact"], name="conversation_unique_per_instance_contact")
        ]
        indexes = [models.Index(fields=["account", "-last_inbound_at"])]

    def __str__(self) -> str:
        return f"{self.instance_id}/{self.contact_id}"
