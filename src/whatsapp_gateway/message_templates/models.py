"""Message templates, one concept with two sources.

- ``reviewed``: a text the customer submitted and our operators reviewed. Sent as its rendered text on any
  provider; once approved, texts with the same fixed words pass the content policy for the account.
- ``meta``: a WhatsApp template synced from Meta for one Cloud API instance (its WhatsApp Business account).
  Sent as a WhatsApp template message (``type: "template"``), which Meta delivers outside the 24-hour window.

Variable parts are written ``{{1}}``, ``{{2}}`` … in ``body``, as Meta writes them.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.lib.ids import make_public_id_default

# Meta's rule for template names (lowercase letters, digits and underscores); ours follow it so one name works
# for both sources.
NAME_VALIDATOR = RegexValidator(
    r"^[a-z0-9_]{1,512}$", "Use lowercase letters, digits and underscores only, e.g. order_shipped."
)
LANGUAGE_VALIDATOR = RegexValidator(r"^[a-z]{2,3}(_[A-Za-z]{2,4})?$", "A language code such as en, ar or pt_BR.")


class TemplateSource(models.TextChoices):
    REVIEWED = "reviewed", "Reviewed by the gateway"
    META = "meta", "Meta (WhatsApp Cloud API)"


class TemplateCategory(models.TextChoices):
    UTILITY = "utility", "Utility"
    AUTHENTICATION = "authentication", "Authentication"
    MARKETING = "marketing", "Marketing"


class TemplateStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING = "pending", "Pending review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    PAUSED = "paused", "Paused"
    DISABLED = "disabled", "Disabled"


# Categories that may be sent and may let a text pass the content policy; marketing never does.
SENDABLE_CATEGORIES = frozenset({TemplateCategory.UTILITY, TemplateCategory.AUTHENTICATION})


class Template(models.Model):
    public_id = models.CharField(max_length=40, unique=True, default=make_public_id_default("tpl"), editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="message_templates")
    instance = models.ForeignKey(
        Instance,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="message_templates",
        help_text="The Cloud API instance a Meta template was synced for; empty for reviewed templates.",
    )
    source = models.CharField(max_length=12, choices=TemplateSource.choices, default=TemplateSource.REVIEWED)
    name = models.CharField(max_length=512, validators=[NAME_VALIDATOR])
    language = models.CharField(max_length=15, validators=[LANGUAGE_VALIDATOR])
    category = models.CharField(max_length=16, choices=TemplateCategory.choices, default=TemplateCategory.UTILITY)
    status = models.CharField(max_length=12, choices=TemplateStatus.choices, default=TemplateStatus.DRAFT)
    body = models.TextField(help_text="The text, with variable parts written {{1}}, {{2}} …")
    components = models.JSONField(default=list, blank=True, help_text="Meta's components (header, body, buttons).")
    meta_template_id = models.CharField(max_length=64, blank=True)
    use_case = models.TextField(blank=True, help_text="When and to whom the customer sends it.")
    rejection_reason = models.TextField(blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "language", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "name", "language"],
                condition=models.Q(source="reviewed"),
                name="template_unique_reviewed_name_language",
            ),
            models.UniqueConstraint(
                fields=["instance", "name", "language"],
                condition=models.Q(source="meta"),
                name="template_unique_meta_name_language_per_instance",
            ),
            models.CheckConstraint(
                condition=models.Q(source="reviewed", instance__isnull=True)
                | models.Q(source="meta", instance__isnull=False),
                name="template_instance_only_for_meta",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "status"], name="template_account_status"),
            models.Index(fields=["status", "submitted_at"], name="template_review_queue"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language}, {self.source})"

    @property
    def is_sendable(self) -> bool:
        return self.status == TemplateStatus.APPROVED and self.category in SENDABLE_CATEGORIES


class PendingTemplate(Template):
    """The operators' review queue in the back office (same rows, filtered to pending reviewed templates)."""

    class Meta:
        proxy = True
        verbose_name = "template awaiting review"
        verbose_name_plural = "templates awaiting review"
