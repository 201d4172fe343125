"""Tenants: accounts, plans, users, memberships and the audit log."""

from __future__ import annotations

import zoneinfo

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models

from whatsapp_gateway.lib.ids import make_public_id_default


class User(AbstractUser):
    """A person who logs in. Email is the login; ``username`` is filled by allauth and never shown."""

    email = models.EmailField("email address", unique=True)

    def __str__(self) -> str:
        return self.email or self.username


class Plan(models.Model):
    """Fair-use limits. Starter/Growth/Scale are seeded; operators add custom plans after a use-case review."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    daily_limit = models.PositiveIntegerField(help_text="Messages per account per day (account timezone).")
    monthly_limit = models.PositiveIntegerField(help_text="Messages per account per calendar month.")
    max_instances = models.PositiveIntegerField(default=3)
    is_custom = models.BooleanField(default=False, help_text="Operator-defined plan, assigned after review.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["daily_limit", "code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.daily_limit}/day, {self.monthly_limit}/month)"


class Module(models.TextChoices):
    API_SEND = "api_send", "API sending"
    THREECX = "threecx", "3CX integration"


def _default_modules() -> list[str]:
    return [Module.API_SEND.value]


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known IANA timezone")


class Account(models.Model):
    """A customer business (tenant). Every customer-owned row points here."""

    public_id = models.CharField(max_length=40, unique=True, default=make_public_id_default("acc"), editable=False)
    name = models.CharField(max_length=120)
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="accounts")
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    default_country = models.CharField(
        max_length=2, default="SA", help_text="ISO 3166 country used to parse national phone numbers."
    )
    enabled_modules = models.JSONField(default=_default_modules, blank=True)
    is_paused = models.BooleanField(default=False, help_text="Paused accounts cannot send (account_paused).")
    paused_reason = models.CharField(max_length=200, blank=True)
    is_suspended = models.BooleanField(default=False, help_text="Suspended accounts cannot log in to the portal.")
    # Opt-out behaviour (docs/api.md "Opt-outs and suppression")
    extra_opt_out_keywords = models.JSONField(default=list, blank=True)
    send_opt_out_confirmation = models.BooleanField(default=True)
    allow_authentication_to_opted_out = models.BooleanField(
        default=True,
        help_text="Let one-time codes reach numbers that opted out by keyword (never blocked ones).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def has_module(self, module: str) -> bool:
        return module in (self.enabled_modules or [])


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


ROLE_RANK = {Role.MEMBER: 0, Role.ADMIN: 1, Role.OWNER: 2}


class Membership(models.Model):
    """A user's place in an account. One account per user keeps every portal query unambiguous."""

    public_id = models.CharField(max_length=40, unique=True, default=make_public_id_default("mem"), editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="membership")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.user} @ {self.account} ({self.role})"

    def has_role(self, minimum: str) -> bool:
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(minimum)]


class AuditLog(models.Model):
    """Who did what, when, from where, for security-relevant changes. Append-only."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="audit_entries", null=True)
    actor = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    actor_label = models.CharField(max_length=200, blank=True, help_text="Email, 'api key key_…', 'system'.")
    action = models.CharField(max_length=80, db_index=True)
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.CharField(max_length=80, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"
