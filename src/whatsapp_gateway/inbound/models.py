"""Inbound messages, recorded by the inbound pipeline (contacts and conversations are in ``contacts``)."""

from __future__ import annotations

from django.db import models

from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.contacts.models import Contact
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib.ids import make_public_id_default


class MessageType(models.TextChoices):
    TEXT = "text", "Text"
    IMAGE = "image", "Image"
    VIDEO = "video", "Video"
    AUDIO = "audio", "Audio"
    DOCUMENT = "document", "Document"
    STICKER = "sticker", "Sticker"
    LOCATION = "location", "Location"
    CONTACT = "contact", "Contact card"
    REACTION = "reaction", "Reaction"
    UNKNOWN = "unknown", "Other"


class KeywordAction(models.TextChoices):
    NONE = "", "—"
    OPT_OUT = "opt_out", "Opt-out"
    RESUBSCRIBE = "resubscribe", "Re-subscribe"


class ForwardingStatus(models.TextChoices):
    """Where the message went after opt-out handling (e.g. to 3CX). Forwarders update it."""

    NONE = "none", "Not forwarded"
    PENDING = "pending", "Pending"
    FORWARDED = "forwarded", "Forwarded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class InboundMessage(models.Model):
    """One message a customer sent to an instance (1:1 chat or group). Recorded once per provider message id.

    The body (``text`` and ``metadata``) is redacted after the retention period; the row itself is deleted after the
    metadata retention period (``lib/retention.py``).
    """

    public_id = models.CharField(max_length=40, unique=True, default=make_public_id_default("in"), editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="inbound_messages")
    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="inbound_messages")
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="inbound_messages"
    )
    provider_message_id = models.CharField(max_length=200, blank=True)
    chat_id = models.CharField(max_length=120, blank=True)
    sender_phone = models.CharField(max_length=20, blank=True, help_text="E.164 when known.")
    sender_id = models.CharField(max_length=120, blank=True, help_text="The sender's WhatsApp id as received.")
    sender_lid = models.CharField(max_length=120, blank=True)
    sender_name = models.CharField(max_length=200, blank=True)
    is_group = models.BooleanField(default=False)
    group_id = models.CharField(max_length=120, blank=True)
    group_name = models.CharField(max_length=200, blank=True)
    message_type = models.CharField(max_length=20, choices=MessageType.choices, default=MessageType.TEXT)
    text = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    keyword_action = models.CharField(max_length=20, choices=KeywordAction.choices, blank=True, default="")
    keyword = models.CharField(max_length=60, blank=True)
    is_opt_out = models.BooleanField(default=False)
    forwarding_status = models.CharField(max_length=20, choices=ForwardingStatus.choices, default=ForwardingStatus.NONE)
    forwarding_detail = models.CharField(max_length=300, blank=True)
    received_at = models.DateTimeField(help_text="When the customer sent it (provider time), else when it arrived.")
    created_at = models.DateTimeField(auto_now_add=True)
    body_redacted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["instance", "provider_message_id"],
                condition=~models.Q(provider_message_id=""),
                name="inbound_unique_provider_message_per_instance",
            )
        ]
        indexes = [
            # Keyset pagination of /inbound-logs: (received_at, id) descending within the account, optionally
            # narrowed by instance, sender, type or the opt-out flag.
            models.Index(fields=["account", "-received_at", "-id"], name="inbound_acct_recv_idx"),
            models.Index(fields=["account", "instance", "-received_at", "-id"], name="inbound_acct_inst_recv_idx"),
            models.Index(fields=["account", "sender_phone", "-received_at", "-id"], name="inbound_acct_sender_idx"),
            models.Index(fields=["account", "message_type", "-received_at", "-id"], name="inbound_acct_type_idx"),
            models.Index(
                fields=["account", "-received_at", "-id"],
                condition=models.Q(is_opt_out=True),
                name="inbound_acct_optout_idx",
            ),
            # Retention: the daily job finds old rows across all accounts.
            models.Index(fields=["received_at"], name="inbound_recv_idx"),
        ]

    def __str__(self) -> str:
        return self.public_id

    @property
    def sender_display(self) -> str:
        """The sender's E.164 number, or their WhatsApp id when no number is known (``…@lid``)."""
        return self.sender_phone or self.sender_lid or self.sender_id

    @property
    def preview(self) -> str:
        if self.body_redacted_at:
            return "[redacted after the retention period]"
        text = self.text or str(self.metadata.get("caption", "") if isinstance(self.metadata, dict) else "")
        if not text and self.message_type != MessageType.TEXT:
            text = f"[{self.get_message_type_display().lower()}]"
        return text if len(text) <= 80 else text[:79] + "…"
