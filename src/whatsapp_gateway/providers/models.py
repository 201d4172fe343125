"""Provider callbacks as received (the raw ledger), deduplication of provider events, the rejection counter, and
the sandbox provider's own "server-side" state (its simulated phone sessions and the messages they received), and
the operator's configuration of the real providers (``ProviderConfig``)."""

from __future__ import annotations

from django.db import models

from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib.crypto import EncryptedTextField
from whatsapp_gateway.lib.ids import make_public_id_default


class CallbackStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed"


class ProviderCallback(models.Model):
    """One authenticated provider callback, stored before it is processed (answered 2xx at once, work in a job)."""

    public_id = models.CharField(max_length=40, unique=True, default=make_public_id_default("cb"), editable=False)
    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="provider_callbacks")
    provider = models.CharField(max_length=20)
    headers = models.JSONField(default=dict, blank=True, help_text="A subset: content type, signature, event ids.")
    body = models.TextField()
    body_sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=12, choices=CallbackStatus.choices, default=CallbackStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    events_count = models.PositiveIntegerField(default=0, help_text="Normalised events the body produced.")
    duplicates_count = models.PositiveIntegerField(default=0, help_text="Events skipped as already processed.")
    last_error = models.CharField(max_length=500, blank=True)
    received_at = models.DateTimeField(db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            # The same body twice for one instance is a provider retry: stored once, answered 2xx both times.
            models.UniqueConstraint(fields=["instance", "body_sha256"], name="provider_callback_unique_body"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.provider} callback {self.public_id} ({self.status})"


class ProcessedProviderEvent(models.Model):
    """A provider event (message id, status, connection event…) already handled for an instance."""

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="+")
    dedup_key = models.CharField(max_length=200)
    callback = models.ForeignKey(ProviderCallback, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["instance", "dedup_key"], name="processed_provider_event_unique"),
        ]

    def __str__(self) -> str:
        return self.dedup_key


class CallbackRejection(models.Model):
    """Counter of refused callbacks per provider, reason and day (nothing of the refused request is kept)."""

    provider = models.CharField(max_length=40)
    reason = models.CharField(max_length=40)
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)
    last_at = models.DateTimeField()

    class Meta:
        ordering = ["-day", "provider", "reason"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "reason", "day"], name="callback_rejection_unique_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.provider} {self.reason}: {self.count}"


# --- The sandbox provider's server side ---------------------------------------------------------------------------


class SandboxSessionStatus(models.TextChoices):
    STOPPED = "stopped", "Not started"
    QR = "qr", "Showing a QR code"
    OPEN = "open", "Connected"
    CLOSED = "closed", "Disconnected"
    LOGGED_OUT = "logged_out", "Logged out"


class SandboxSession(models.Model):
    """What the simulated WhatsApp server knows about an instance: a real provider keeps this on its side."""

    instance = models.OneToOneField(Instance, on_delete=models.CASCADE, related_name="sandbox_session")
    status = models.CharField(max_length=12, choices=SandboxSessionStatus.choices, default=SandboxSessionStatus.STOPPED)
    phone_number = models.CharField(max_length=20, blank=True)
    profile_name = models.CharField(max_length=120, blank=True)
    pairing_phone = models.CharField(max_length=20, blank=True, help_text="Number given for pairing-code login.")
    qr_seq = models.PositiveIntegerField(default=0, help_text="QR codes issued in the current pairing attempt.")
    qr_payload = models.CharField(max_length=200, blank=True)
    qr_expires_at = models.DateTimeField(null=True, blank=True)
    pairing_code = models.CharField(max_length=16, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"sandbox session of {self.instance_id} ({self.status})"


class SandboxMessage(models.Model):
    """A message the simulated phone "sent": its status advances sent → delivered → read on a timer."""

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="sandbox_messages")
    provider_message_id = models.CharField(max_length=64, unique=True)
    to_phone = models.CharField(max_length=20)
    text = models.TextField()
    status = models.CharField(max_length=12, default="accepted")  # accepted|sent|delivered|read
    next_status_at = models.DateTimeField(null=True, blank=True, db_index=True)
    slow = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.provider_message_id} ({self.status})"


# --- Operator configuration of the real providers ------------------------------------------------------------------


class ProviderConfig(models.Model):
    """The operator's settings for one real provider, edited in the admin site.

    Every value set here overrides the matching environment variable (``EVOLUTION_BASE_URL``, ``WAHA_API_KEY``,
    ``CLOUD_ACCESS_TOKEN``, …; see ``providers/config.py``). Secrets are one JSON object encrypted at rest.
    """

    class Name(models.TextChoices):
        EVOLUTION = "evolution", "Evolution API v2"
        WAHA = "waha", "WAHA"
        CLOUD = "cloud", "Meta WhatsApp Cloud API"

    provider = models.CharField(max_length=20, choices=Name.choices, unique=True)
    enabled = models.BooleanField(
        default=True,
        help_text="Customers may choose this provider for new instances (if GATEWAY_PROVIDERS_ALLOWED lists it).",
    )
    base_url = models.URLField(blank=True, help_text="Overrides the *_BASE_URL environment variable.")
    secrets = EncryptedTextField(blank=True, default="", help_text="JSON, encrypted at rest. Never shown.")
    options = models.JSONField(default=dict, blank=True, help_text="Non-secret settings (time zone, API version).")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider"]
        verbose_name = "provider configuration"

    def __str__(self) -> str:
        return self.get_provider_display()
