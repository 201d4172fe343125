"""Events (the transactional outbox's ledger). Every domain change worth telling a customer is one row here."""

from __future__ import annotations

from django.db import models

from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib.crypto import EncryptedTextField
from whatsapp_gateway.lib.ids import make_public_id_default
from whatsapp_gateway.lib.urlsafety import url_hint


class Event(models.Model):
    public_id = models.CharField(max_length=40, unique=True, default=make_public_id_default("evt"), editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="events")
    instance = models.ForeignKey(Instance, on_delete=models.SET_NULL, null=True, blank=True, related_name="events")
    event_type = models.CharField(max_length=40, db_index=True)
    payload = models.JSONField(help_text="The exact JSON body customers receive.")
    occurred_at = models.DateTimeField()
    is_redacted = models.BooleanField(default=False, help_text="Message text removed by the retention job.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "event_type", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.event_type} {self.public_id}"


class EndpointKind(models.TextChoices):
    CUSTOMER = "customer", "Customer webhook"
    THREECX = "threecx", "3CX"


class DisabledReason(models.TextChoices):
    NONE = "", "—"
    BY_USER = "by_user", "Turned off by a user"
    GONE = "gone", "The receiver answered 410 Gone"
    FAILING = "failing", "Every delivery failed for 5 days"


class Endpoint(models.Model):
    """A destination that receives events: a customer's webhook URL (one per instance from the portal) or another
    kind of target (``threecx``) whose request body and headers come from a registered builder
    (``webhooks.delivery.register_kind``)."""

    public_id = models.CharField(max_length=40, unique=True, default=make_public_id_default("whk"), editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="webhook_endpoints")
    instance = models.ForeignKey(
        Instance,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="webhook_endpoints",
        help_text="Events of this instance only; empty = every instance of the account.",
    )
    kind = models.CharField(max_length=20, choices=EndpointKind.choices, default=EndpointKind.CUSTOMER)
    url = EncryptedTextField(help_text="Destination URL, encrypted at rest.")
    events = models.JSONField(default=list, blank=True, help_text="Subscribed event types.")
    is_enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=20, choices=DisabledReason.choices, blank=True, default="")
    disabled_at = models.DateTimeField(null=True, blank=True)
    secret = EncryptedTextField(help_text="whsec_…, encrypted at rest.")
    previous_secret = EncryptedTextField(blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    max_in_flight = models.PositiveSmallIntegerField(
        default=0, help_text="Concurrent delivery workers for this endpoint; 0 = the deployment default."
    )
    failing_since = models.DateTimeField(null=True, blank=True, help_text="First failure since the last success.")
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    throttled_until = models.DateTimeField(null=True, blank=True, help_text="Set from Retry-After on 429/503.")
    kick_queued_at = models.DateTimeField(
        null=True, blank=True, help_text="A delivery job is queued and has not started yet (coalesces jobs)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["account", "is_enabled"])]

    def __str__(self) -> str:
        return f"{self.kind} endpoint {self.public_id}"

    @property
    def display_url(self) -> str:
        """The destination as pages show it: a 3CX Webhook URL carries its credential in the path, so only its host
        and a masked path are ever shown after saving; a customer's own webhook URL is shown as entered."""
        if self.kind == EndpointKind.THREECX:
            return url_hint(self.url)
        return self.url

    @property
    def auto_disabled(self) -> bool:
        return not self.is_enabled and self.disabled_reason in (DisabledReason.GONE, DisabledReason.FAILING)


class EndpointLease(models.Model):
    """One delivery worker busy with an endpoint. At most ``max_in_flight`` unexpired leases exist per endpoint, so
    one slow receiver cannot take every worker. A crashed worker's lease simply expires."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="leases")
    token = models.CharField(max_length=40, unique=True)
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["endpoint", "expires_at"])]

    def __str__(self) -> str:
        return f"lease {self.token} until {self.expires_at:%H:%M:%S}"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    BLOCKED = "blocked", "Blocked"


class Delivery(models.Model):
    """One event for one endpoint (the outbox row): created in the event's transaction, claimed by a worker with a
    conditional UPDATE, retried on a schedule, and kept with its attempts for the delivery log."""

    public_id = models.CharField(max_length=40, unique=True, default=make_public_id_default("dlv"), editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="webhook_deliveries")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=40)
    state = models.CharField(max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveIntegerField(default=0, help_text="Attempts in the current retry cycle.")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=40, blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    resend_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["endpoint", "state", "next_attempt_at"]),
            models.Index(fields=["state", "next_attempt_at"]),
            models.Index(fields=["endpoint", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.state})"


class DeliveryAttempt(models.Model):
    """One HTTP attempt (or a refusal before connecting, e.g. a blocked address)."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=DeliveryState.choices)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True, help_text="First 1 KB of the response body.")
    error = models.CharField(max_length=300, blank=True)
    trigger = models.CharField(max_length=20, default="auto", help_text="auto, resend, test")

    class Meta:
        ordering = ["-attempted_at", "-id"]

    def __str__(self) -> str:
        return f"{self.outcome} {self.status_code or ''}"
