"""Operator configuration of the real providers: environment variables, overridden by the admin site.

``provider_settings("waha")`` merges ``WAHA_BASE_URL`` / ``WAHA_API_KEY`` / … from settings with the
``ProviderConfig`` row saved in the admin site (any value set there wins). Adapters read it on every call, so a
change in the admin site applies without a restart.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from whatsapp_gateway.providers.base import ProviderError
from whatsapp_gateway.providers.models import ProviderConfig
from whatsapp_gateway.providers.registry import get_provider

# Per provider: the secrets and non-secret options it reads, each with its environment variable.
SECRET_SETTINGS: dict[str, dict[str, str]] = {
    "evolution": {"api_key": "EVOLUTION_API_KEY"},
    "waha": {"api_key": "WAHA_API_KEY", "webhook_hmac_key": "WAHA_WEBHOOK_HMAC_KEY"},
    "cloud": {
        "access_token": "CLOUD_ACCESS_TOKEN",
        "app_secret": "CLOUD_APP_SECRET",
        "verify_token": "CLOUD_VERIFY_TOKEN",
    },
}
OPTION_SETTINGS: dict[str, dict[str, str]] = {
    "evolution": {"server_timezone": "EVOLUTION_SERVER_TIMEZONE"},
    "waha": {},
    "cloud": {"api_version": "CLOUD_API_VERSION"},
}
BASE_URL_SETTINGS: dict[str, str] = {
    "evolution": "EVOLUTION_BASE_URL",
    "waha": "WAHA_BASE_URL",
    "cloud": "CLOUD_GRAPH_BASE_URL",
}


@dataclass(frozen=True)
class ProviderSettings:
    name: str
    base_url: str
    secrets: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    enabled: bool = True

    def secret(self, key: str) -> str:
        return str(self.secrets.get(key) or "")

    def option(self, key: str, default: Any = "") -> Any:
        value = self.options.get(key)
        return default if value in (None, "") else value

    def require_base_url(self) -> str:
        """The base URL, or a retryable ``ProviderError`` naming the setting the operator must fill in."""
        if not self.base_url:
            raise ProviderError(
                f"The {self.name} provider has no base URL: set {BASE_URL_SETTINGS[self.name]} or the admin site's "
                "provider configuration.",
                permanent=False,
                code="provider_not_configured",
            )
        return self.base_url


def stored_secrets(config) -> dict[str, str]:
    """The decrypted secrets of a ``ProviderConfig`` row (an empty dict when none or unreadable JSON)."""
    if not config.secrets:
        return {}
    try:
        value = json.loads(config.secrets)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items() if v} if isinstance(value, dict) else {}


def provider_settings(name: str) -> ProviderSettings:
    """Environment settings for provider ``name`` with the admin site's ``ProviderConfig`` applied on top."""
    base_url = getattr(settings, BASE_URL_SETTINGS[name], "") or ""
    secrets = {key: getattr(settings, env, "") or "" for key, env in SECRET_SETTINGS[name].items()}
    options: dict[str, Any] = {key: getattr(settings, env, "") or "" for key, env in OPTION_SETTINGS[name].items()}
    enabled = True
    config = ProviderConfig.objects.filter(provider=name).first()
    if config is not None:
        enabled = config.enabled
        base_url = config.base_url or base_url
        secrets.update({k: v for k, v in stored_secrets(config).items() if k in SECRET_SETTINGS[name]})
        options.update({k: v for k, v in (config.options or {}).items() if v not in (None, "")})
    return ProviderSettings(name=name, base_url=base_url.rstrip("/"), secrets=secrets, options=options, enabled=enabled)


def instance_credentials(instance) -> dict[str, Any]:
    """The instance's own provider credentials (decrypted JSON in ``Instance.provider_credentials``)."""
    raw = instance.provider_credentials or ""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def callback_url(instance, provider_name: str) -> str:
    """The URL a provider posts this instance's callbacks to: ``/providers/{provider}/callback/{token}``."""
    token = instance.callback_token or ""
    if not token:
        raise ProviderError(
            "This instance has no callback token yet, so the provider cannot be told where to send events.",
            permanent=True,
            code="missing_callback_token",
        )
    return get_provider(provider_name).callback_url(instance)
