"""The suppression list: numbers the gateway refuses to message for an account (docs/api.md "Opt-outs and suppression")."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.lib.ids import make_public_id_default


class SuppressionReason(models.TextChoices):
    OPTED_OUT = "opted_out", "Opted out"
    BLOCKED = "blocked", "Blocked"


class SuppressionSource(models.TextChoices):
    KEYWORD = "keyword", "Opt-out keyword"
    MANUAL = "manual", "Added by hand"
    IMPORT = "import", "CSV import"
    THREECX = "threecx", "3CX"


class Suppression(models.Model):
    """One suppressed number. Removal keeps the row (``removed_at`` + note) for the audit trail."""

    public_id = models.CharField(max_length=40, unique=True, default=make_public_id_default("sup"), editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="suppressions")
    phone_e164 = models.CharField(max_length=20, blank=True, help_text="E.164; blank only for a lid-only opt-out.")
    wa_id = models.CharField(
        max_length=120,
        blank=True,
        help_text="The WhatsApp id (e.g. …@lid) of a keyword opt-out whose phone number the provider did not give.",
    )
    reason = models.CharField(max_length=20, choices=SuppressionReason.choices)
    source = models.CharField(max_length=20, choices=SuppressionSource.choices)
    note = models.CharField(max_length=500, blank=True)
    keyword = models.CharField(max_length=60, blank=True, help_text="The opt-out keyword the customer sent.")
    instance = models.ForeignKey(
        "instances.Instance", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_note = models.CharField(max_length=500, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "phone_e164"],
                condition=models.Q(removed_at__isnull=True) & ~models.Q(phone_e164=""),
                name="suppression_one_active_per_number",
            ),
            models.UniqueConstraint(
                fields=["account", "wa_id"],
                condition=models.Q(removed_at__isnull=True) & ~models.Q(wa_id=""),
                name="suppression_one_active_per_wa_id",
            ),
            models.CheckConstraint(
                condition=~models.Q(phone_e164="") | ~models.Q(wa_id=""),
                name="suppression_has_number_or_wa_id",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "phone_e164"]),
            models.Index(fields=["account", "wa_id"], name="suppression_acct_waid_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.recipient} ({self.reason})"

    @property
    def recipient(self) -> str:
        """The E.164 number, or the WhatsApp id when only that is known."""
        return self.phone_e164 or self.wa_id

    @property
    def is_active(self) -> bool:
        return self.removed_at is None
