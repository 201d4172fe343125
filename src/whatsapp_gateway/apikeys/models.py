"""API keys: ``wg_live_<random>`` shown once, stored as a keyed hash with a visible prefix, optionally scoped."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.lib.ids import make_public_id_default

KEY_PREFIX = "wg_live_"


class ApiKey(models.Model):
    public_id = models.CharField(max_length=40, unique=True, default=make_public_id_default("key"), editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=24, help_text="The first characters of the key, shown to recognise it.")
    # Keyed HMAC-SHA256 of the whole key (lib.crypto.keyed_hash): a unique index makes lookup one query, and a
    # 200-bit random key needs no slow password hash.
    key_hash = models.CharField(max_length=64, unique=True)
    instances = models.ManyToManyField(
        "instances.Instance",
        blank=True,
        related_name="api_keys",
        help_text="When set, the key may send only from these instances.",
    )
    instance_scoped = models.BooleanField(default=False, help_text="True when ``instances`` limits the key.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
