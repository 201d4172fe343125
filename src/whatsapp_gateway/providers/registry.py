"""Provider registry: a name maps to a dotted path; ``GATEWAY_PROVIDER`` picks the default for new instances and
``GATEWAY_PROVIDERS_ALLOWED`` (minus providers the operator disabled in the admin site) the ones customers may
choose per instance."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from whatsapp_gateway.providers.base import Provider
from whatsapp_gateway.providers.models import ProviderConfig

PROVIDERS: dict[str, str] = {
    "sandbox": "whatsapp_gateway.providers.sandbox.adapter.SandboxProvider",
    "evolution": "whatsapp_gateway.providers.evolution.adapter.EvolutionProvider",
    "waha": "whatsapp_gateway.providers.waha.adapter.WahaProvider",
    "cloud": "whatsapp_gateway.providers.cloud.adapter.CloudProvider",
}
LABELS: dict[str, str] = {
    "sandbox": "Sandbox (simulated phone)",
    "evolution": "Evolution API",
    "waha": "WAHA",
    "cloud": "Meta WhatsApp Cloud API",
}


class UnknownProvider(LookupError):
    pass


@cache
def get_provider(name: str) -> Provider:
    try:
        path = PROVIDERS[name]
    except KeyError as exc:
        raise UnknownProvider(name) from exc
    return import_string(path)()


def default_provider_name() -> str:
    return settings.GATEWAY_PROVIDER


def available_provider_names() -> list[str]:
    return list(PROVIDERS)


def allowed_provider_names() -> list[str]:
    """Providers a customer may pick for a new instance, default first: allowed by ``GATEWAY_PROVIDERS_ALLOWED``
    and not disabled in the admin site's provider configuration."""
    default = default_provider_name()
    disabled = set(ProviderConfig.objects.filter(enabled=False).values_list("provider", flat=True))
    listed = dict.fromkeys(
        [*settings.GATEWAY_PROVIDERS_ALLOWED, *getattr(settings, "GATEWAY_SELECTABLE_PROVIDERS", [])]
    )
    names = [n for n in listed if n in PROVIDERS and n not in disabled and n != default]
    # The operator's default always works: it is what new instances get when no choice is offered.
    return [default, *names] if default in PROVIDERS else names


def provider_choices() -> list[tuple[str, str]]:
    """(name, label) pairs for a provider select box."""
    return [(name, LABELS.get(name, name)) for name in allowed_provider_names()]
