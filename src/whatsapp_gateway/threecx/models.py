"""3CX integrations: settings, DID ↔ instance mappings, the event log, and the small ledgers behind the webhook's
rate limit, retry deduplication and template cooldown (docs/api.md "3CX integration").

Secrets never sit in plaintext: the 3CX endpoint URL and the integration secret are encrypted with the deployment
key (the secret is needed in clear to verify and produce HMAC signatures), and both the secret and the Generic SMS
API key are also stored as keyed hashes for constant-time comparison. The API key is not recoverable at all.
"""

from __future__ import annotations

from django.db import models

from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib.crypto import EncryptedTextField
from whatsapp_gateway.lib.ids import make_public_id_default
from whatsapp_gateway.threecx.call_templates import default_template_settings


class IntegrationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    DISABLED = "disabled", "Disabled"


class AuthMode(models.TextChoices):
    SECRET = "secret", "Secret header"
    SECRET_HMAC = "secret_hmac", "Secret header + HMAC signature (required)"


class InboundFormat(models.TextChoices):
    GENERIC_SMS = "generic_sms", "3CX Generic SMS envelope (stock 3CX)"
    NATIVE_JSON = "native_json", "Signed native JSON (custom middleware)"


def default_templates() -> dict:
    return default_template_settings()


class Integration(models.Model):
    public_id = models.CharField(max_length=40, unique=True, default=make_public_id_default("tcx"), editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="threecx_integrations")
    name = models.CharField(max_length=120)
    status = models.CharField(max_length=10, choices=IntegrationStatus.choices, default=IntegrationStatus.ACTIVE)
    default_instance = models.ForeignKey(Instance, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    # Where inbound WhatsApp messages go: 3CX's "Webhook URL" from the SMS trunk (itself a bearer secret). The URL
    # lives (encrypted) on a ``webhooks.Endpoint`` of kind ``threecx``, so forwarding reuses the durable delivery
    # engine: outbox rows in the inbound transaction, retries, URL safety, the delivery log.
    delivery_endpoint = models.OneToOneField(
        "webhooks.Endpoint", on_delete=models.SET_NULL, null=True, blank=True, related_name="threecx_integration"
    )
    endpoint_url_hint = models.CharField(max_length=200, blank=True, help_text="Host and masked path, for display.")

    auth_mode = models.CharField(max_length=12, choices=AuthMode.choices, default=AuthMode.SECRET)
    secret_hash = models.CharField(max_length=64)
    secret_encrypted = EncryptedTextField(default="")
    secret_prefix = models.CharField(max_length=20, blank=True)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    api_key_hash = models.CharField(max_length=64, unique=True)
    api_key_prefix = models.CharField(max_length=20, blank=True)
    api_key_rotated_at = models.DateTimeField(null=True, blank=True)
    allowed_ips = models.JSONField(default=list, blank=True, help_text="CIDR blocks; empty allows any address.")

    inbound_enabled = models.BooleanField(default=True)
    outbound_enabled = models.BooleanField(default=True)
    call_event_enabled = models.BooleanField(default=False)
    templates = models.JSONField(default=default_templates, blank=True)
    strict_window = models.BooleanField(
        default=True, help_text="Only reply to customers who wrote to the number in the last 24 hours."
    )
    business_name = models.CharField(max_length=120, blank=True)
    inbound_format = models.CharField(max_length=12, choices=InboundFormat.choices, default=InboundFormat.GENERIC_SMS)

    last_request_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.public_id})"

    @property
    def is_active(self) -> bool:
        return self.status == IntegrationStatus.ACTIVE

    @property
    def display_business_name(self) -> str:
        return self.business_name or self.account.name


class DidMapping(models.Model):
    """A 3CX trunk DID (E.164) and the WhatsApp instance that serves it, in both directions."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="did_mappings")
    did = models.CharField(max_length=20)
    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["did"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "did"], name="threecx_did_unique_per_integration")
        ]

    def __str__(self) -> str:
        return f"{self.did} → {self.instance_id}"


class Direction(models.TextChoices):
    FROM_3CX = "from_3cx", "From 3CX"
    TO_3CX = "to_3cx", "To 3CX"


class Decision(models.TextChoices):
    QUEUED = "queued", "Message queued"
    LOGGED = "logged", "Logged"
    OK = "ok", "Connection test OK"
    SKIPPED = "skipped", "Skipped"
    REPLAYED = "replayed", "Retry answered from the first request"
    REJECTED = "rejected", "Rejected"
    PENDING = "pending", "Delivery pending"
    DELIVERED = "delivered", "Delivered to 3CX"
    FAILED = "failed", "Delivery failed"


class IntegrationEvent(models.Model):
    """One line of an integration's event log: a request from 3CX (sanitised) or a delivery to 3CX.

    Never holds secrets, keys, message bodies or full phone numbers; ``reason`` carries the real cause of a
    pre-auth rejection that 3CX itself only sees as the uniform 401.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, null=True, blank=True, related_name="events")
    integration_ref = models.CharField(max_length=60, blank=True, help_text="The id in the URL, as received.")
    direction = models.CharField(max_length=10, choices=Direction.choices, default=Direction.FROM_3CX)
    request_form = models.CharField(max_length=12, blank=True)  # native | generic_sms
    event_type = models.CharField(max_length=40, blank=True)
    decision = models.CharField(max_length=10, choices=Decision.choices)
    code = models.CharField(max_length=40, blank=True, help_text="Error code or skip reason.")
    reason = models.CharField(max_length=300, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    phone_masked = models.CharField(max_length=24, blank=True)
    phone_hash = models.CharField(max_length=64, blank=True, db_index=True)
    text_length = models.PositiveIntegerField(null=True, blank=True)
    message_id = models.CharField(max_length=40, blank=True)
    delivery_ref = models.CharField(max_length=40, blank=True, help_text="Delivery id for deliveries to 3CX.")
    summary = models.JSONField(default=dict, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["integration", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.direction} {self.event_type} {self.decision}"


class RateWindow(models.Model):
    """Requests per integration per minute; the atomic UPDATE makes the count correct across processes."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="+")
    window_start = models.BigIntegerField(help_text="Unix minute (epoch seconds // 60).")
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["integration", "window_start"], name="threecx_rate_window_unique")
        ]

    def __str__(self) -> str:
        return f"{self.integration_id}@{self.window_start}: {self.count}"


class RequestFingerprint(models.Model):
    """A recent message-sending request (3CX sends no message id): retries within the window get the first answer."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="+")
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    completed = models.BooleanField(default=False)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["integration", "fingerprint"], name="threecx_fingerprint_unique")
        ]

    def __str__(self) -> str:
        return f"{self.integration_id}:{self.fingerprint[:12]}"


class TemplateCooldown(models.Model):
    """When a call-event template last went out per (integration, event type, phone): the 15-minute cooldown."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="+")
    event_type = models.CharField(max_length=20)
    phone_hash = models.CharField(max_length=64)
    last_sent_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["integration", "event_type", "phone_hash"], name="threecx_cooldown_unique")
        ]

    def __str__(self) -> str:
        return f"{self.integration_id}:{self.event_type}@{self.last_sent_at:%H:%M:%S}"
