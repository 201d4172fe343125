"""Operator back office: raw provider callbacks (with a retry action), the rejected-callback counter, and the
configuration of the real providers (base URL, credentials encrypted at rest, enabled flag).

Provider secrets are write-only: the form shows whether one is stored, never its value; an empty field keeps it.
"""

from __future__ import annotations

import json
import zoneinfo

from django import forms
from django.contrib import admin, messages

from whatsapp_gateway.accounts.services import audit_record
from whatsapp_gateway.lib.client_ip import request_origin
from whatsapp_gateway.providers import services
from whatsapp_gateway.providers.config import OPTION_SETTINGS, SECRET_SETTINGS, stored_secrets
from whatsapp_gateway.providers.models import CallbackRejection, ProviderCallback, ProviderConfig, SandboxMessage


@admin.register(ProviderCallback)
class ProviderCallbackAdmin(admin.ModelAdmin):
    list_display = [
        "public_id",
        "provider",
        "instance",
        "status",
        "events_count",
        "duplicates_count",
        "attempts",
        "received_at",
    ]
    list_filter = ["provider", "status"]
    search_fields = ["public_id", "instance__public_id", "instance__name"]
    readonly_fields = [f.name for f in ProviderCallback._meta.fields]
    actions = ["retry"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Process the selected callbacks again (pending/failed ones)")
    def retry(self, request, queryset):
        for callback in queryset:
            services.callback_retry(callback=callback)
        messages.success(request, "Queued for processing.")


@admin.register(CallbackRejection)
class CallbackRejectionAdmin(admin.ModelAdmin):
    """Refused callbacks (bad token, signature, size, JSON) counted per provider, reason and day."""

    list_display = ["day", "provider", "reason", "count", "last_at"]
    list_filter = ["provider", "reason"]
    readonly_fields = ["day", "provider", "reason", "count", "last_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SandboxMessage)
class SandboxMessageAdmin(admin.ModelAdmin):
    list_display = ["provider_message_id", "instance", "status", "created_at"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in SandboxMessage._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


# --- Provider configuration ---------------------------------------------------------------------------------------

SECRET_LABELS = {
    "api_key": "API key (Evolution: global AUTHENTICATION_API_KEY; WAHA: master key)",
    "webhook_hmac_key": "WAHA webhook HMAC key (sessions without their own)",
    "access_token": "Cloud API access token (system user)",
    "app_secret": "Meta app secret (X-Hub-Signature-256)",
    "verify_token": "Meta webhook verify token",
}
OPTION_LABELS = {
    "server_timezone": "Evolution server time zone (IANA, e.g. America/Sao_Paulo)",
    "api_version": "Graph API version (e.g. v25.0)",
}
ALL_SECRETS = sorted({key for keys in SECRET_SETTINGS.values() for key in keys})
ALL_OPTIONS = sorted({key for keys in OPTION_SETTINGS.values() for key in keys})


def _secret_field(key: str) -> forms.CharField:
    return forms.CharField(
        required=False,
        label=SECRET_LABELS[key],
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


def _option_field(key: str) -> forms.CharField:
    return forms.CharField(required=False, label=OPTION_LABELS[key])


class ProviderConfigForm(forms.ModelForm):
    base_url = forms.URLField(
        required=False, assume_scheme="https", help_text="Overrides the *_BASE_URL environment variable."
    )
    secret_api_key = _secret_field("api_key")
    secret_webhook_hmac_key = _secret_field("webhook_hmac_key")
    secret_access_token = _secret_field("access_token")
    secret_app_secret = _secret_field("app_secret")
    secret_verify_token = _secret_field("verify_token")
    clear_secrets = forms.BooleanField(required=False, label="Remove all stored secrets")
    option_server_timezone = _option_field("server_timezone")
    option_api_version = _option_field("api_version")

    class Meta:
        model = ProviderConfig
        fields = ["provider", "enabled", "base_url"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        stored = stored_secrets(self.instance) if self.instance.pk else {}
        for key in ALL_SECRETS:
            state = "stored — leave empty to keep" if key in stored else "not set"
            self.fields[f"secret_{key}"].help_text = f"Currently {state}."
        for key in ALL_OPTIONS:
            self.fields[f"option_{key}"].initial = (self.instance.options or {}).get(key, "")

    def clean(self):
        cleaned = super().clean()
        provider = cleaned.get("provider")
        if not provider:
            return cleaned
        for key in ALL_SECRETS:
            if cleaned.get(f"secret_{key}") and key not in SECRET_SETTINGS[provider]:
                self.add_error(f"secret_{key}", "This provider does not use this secret.")
        for key in ALL_OPTIONS:
            if cleaned.get(f"option_{key}") and key not in OPTION_SETTINGS[provider]:
                self.add_error(f"option_{key}", "This provider does not use this setting.")
        zone = (cleaned.get("option_server_timezone") or "").strip()
        if zone:
            try:
                zoneinfo.ZoneInfo(zone)
            except (ValueError, zoneinfo.ZoneInfoNotFoundError):
                self.add_error("option_server_timezone", "Not a known IANA time zone.")
        return cleaned

    def changed_secret_names(self) -> list[str]:
        return [key for key in ALL_SECRETS if self.cleaned_data.get(f"secret_{key}")]

    def save(self, commit: bool = True) -> ProviderConfig:
        config = super().save(commit=False)
        secrets = {} if self.cleaned_data.get("clear_secrets") else stored_secrets(config)
        for key in self.changed_secret_names():
            secrets[key] = self.cleaned_data[f"secret_{key}"].strip()
        config.secrets = json.dumps(secrets) if secrets else ""
        options = dict(config.options or {})
        for key in ALL_OPTIONS:
            value = (self.cleaned_data.get(f"option_{key}") or "").strip()
            if value:
                options[key] = value
            else:
                options.pop(key, None)
        config.options = options
        if commit:
            config.save()
        return config


@admin.register(ProviderConfig)
class ProviderConfigAdmin(admin.ModelAdmin):
    form = ProviderConfigForm
    list_display = ["provider", "enabled", "base_url", "stored_secrets", "updated_at"]
    readonly_fields = ["updated_at"]

    def get_fields(self, request, obj=None):
        return [
            "provider",
            "enabled",
            "base_url",
            *[f"secret_{k}" for k in ALL_SECRETS],
            "clear_secrets",
            *[f"option_{k}" for k in ALL_OPTIONS],
            "updated_at",
        ]

    @admin.display(description="Secrets stored")
    def stored_secrets(self, obj: ProviderConfig) -> str:
        return ", ".join(sorted(stored_secrets(obj))) or "—"

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        audit_record(
            account=None,
            action="provider_config.updated" if change else "provider_config.created",
            actor=request.user,
            **request_origin(request),
            target_type="provider_config",
            target_id=obj.provider,
            metadata={
                "changed_fields": sorted(form.changed_data),
                "secrets_set": form.changed_secret_names(),
                "secrets_cleared": bool(form.cleaned_data.get("clear_secrets")),
            },
        )
