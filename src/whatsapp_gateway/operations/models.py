"""Operator-wide settings: one row (the kill switch lives here)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class OperatorSettings(models.Model):
    """The singleton row of gateway-wide operator controls. Read and written only through ``operations.services``."""

    SINGLETON_ID = 1

    sending_enabled = models.BooleanField(
        default=True,
        help_text="Kill switch: when off, every send is refused with sending_disabled (503) and queued messages wait.",
    )
    sending_disabled_reason = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "operator settings"
        verbose_name_plural = "operator settings"

    def __str__(self) -> str:
        return "Operator settings (sending " + ("enabled" if self.sending_enabled else "DISABLED") + ")"

    def save(self, *args, **kwargs) -> None:
        self.pk = self.SINGLETON_ID
        super().save(*args, **kwargs)
