"""WhatsApp numbers connected to the gateway ("instances") and their connection state machine."""

from __future__ import annotations

from django.db import models

from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.lib.crypto import EncryptedTextField
from whatsapp_gateway.lib.ids import make_public_id_default


class InstanceState(models.TextChoices):
    CREATED = "created", "Created"
    PAIRING = "pairing", "Waiting for pairing"
    CONNECTED = "connected", "Connected"
    DISCONNECTED = "disconnected", "Disconnected"
    LOGGED_OUT = "logged_out", "Logged out"
    FAILED = "failed", "Failed"


S = InstanceState
# Allowed transitions. Anything not listed is refused by instances.services.instance_transition.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.CREATED: frozenset({S.PAIRING, S.FAILED}),
    S.PAIRING: frozenset({S.PAIRING, S.CONNECTED, S.DISCONNECTED, S.LOGGED_OUT, S.FAILED}),
    S.CONNECTED: frozenset({S.DISCONNECTED, S.LOGGED_OUT, S.FAILED}),
    S.DISCONNECTED: frozenset({S.PAIRING, S.CONNECTED, S.LOGGED_OUT, S.FAILED}),
    S.LOGGED_OUT: frozenset({S.PAIRING, S.FAILED}),
    S.FAILED: frozenset({S.PAIRING, S.LOGGED_OUT}),
}


class Instance(models.Model):
    public_id = models.CharField(max_length=40, unique=True, default=make_public_id_default("inst"), editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="instances")
    name = models.SlugField(max_length=64, help_text="Unique within the account; usable as instance_id in the API.")
    provider = models.CharField(max_length=20, default="sandbox")
    provider_ref = models.CharField(max_length=120, blank=True, help_text="The provider's name for this instance.")
    provider_credentials = EncryptedTextField(blank=True, default="", help_text="JSON, encrypted at rest.")
    callback_token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    callback_token = EncryptedTextField(blank=True, default="")

    state = models.CharField(max_length=20, choices=InstanceState.choices, default=InstanceState.CREATED)
    state_reason = models.CharField(max_length=200, blank=True)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    phone_number = models.CharField(max_length=20, blank=True, help_text="Paired number, E.164.")
    profile_name = models.CharField(max_length=120, blank=True)

    qr_payload = models.TextField(blank=True)
    qr_expires_at = models.DateTimeField(null=True, blank=True)
    pairing_code = models.CharField(max_length=16, blank=True)
    pairing_code_expires_at = models.DateTimeField(null=True, blank=True)
    qr_codes_issued = models.PositiveIntegerField(default=0)
    reconnects = models.PositiveIntegerField(default=0)

    paired_at = models.DateTimeField(null=True, blank=True, help_text="First pairing of this number (warm-up).")
    last_seen_at = models.DateTimeField(null=True, blank=True)
    is_paused = models.BooleanField(default=False, help_text="Operator pause: nothing is sent from this instance.")
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "name"],
                condition=models.Q(deleted_at__isnull=True),
                name="instance_unique_live_name_per_account",
            )
        ]
        indexes = [models.Index(fields=["account", "state"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.public_id})"

    @property
    def is_connected(self) -> bool:
        return self.state == InstanceState.CONNECTED

    @property
    def is_sandbox(self) -> bool:
        return self.provider == "sandbox"


class InstanceStateChange(models.Model):
    """History of an instance's connection state, shown on the connection tab."""

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="state_changes")
    from_state = models.CharField(max_length=20, choices=InstanceState.choices)
    to_state = models.CharField(max_length=20, choices=InstanceState.choices)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.from_state} → {self.to_state}"
