"""Every URL route of the product, classified. A route nobody classified fails the security suite."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

# Anyone may read these (public pages, health, the API description).
PUBLIC = {
    "",
    "healthz",
    "readyz",
    "acceptable-use",
    "docs",
    "docs/",
    "docs/responsible-messaging",
    "docs/sdk/python",
    "docs/webhooks",
    "openapi.json",
    "api/openapi.json",
    "api/docs",
    "api/",
    "integrations/3cx/",
}
# Authenticated by something other than a portal session (their own suites cover them).
MACHINE = {
    "metrics": "METRICS_TOKEN / IP allowlist (tests/operations/test_metrics.py)",
    "api/send-message": "API key (tests/security/test_api_isolation.py)",
    "api/messages/<message_id>": "API key (tests/security/test_api_isolation.py)",
    "integrations/3cx/webhook/<integration_id>": "3CX secret or key (tests/threecx, test_auth_throttling.py)",
    "providers/<str:provider>/callback/<str:token>": "per-instance callback token (tests/providers)",
}
STAFF = {"admin/operations/dashboard/", "admin/operations/kill-switch/"}


@dataclass(frozen=True)
class Route:
    pattern: str
    keywords: tuple[str, ...]
    callback: object

    def path(self, values: dict[str, str]) -> str:
        def replace(match: re.Match) -> str:
            return values[match.group(1)]

        return "/" + re.sub(r"<(?:\w+:)?(\w+)>", replace, self.pattern)


def _walk(resolver, prefix: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            text = str(entry.pattern)
            if text in ("admin/", "accounts/"):
                continue  # Django admin (staff only, Django's own checks) and allauth (covered by CSRF/throttle tests)
            yield from _walk(entry, prefix + text)
        elif isinstance(entry, URLPattern):
            pattern = prefix + str(entry.pattern)
            yield Route(pattern, tuple(re.findall(r"<(?:\w+:)?(\w+)>", pattern)), entry.callback)


def all_routes() -> list[Route]:
    return list(_walk(get_resolver()))


def portal_routes() -> list[Route]:
    return [r for r in all_routes() if r.pattern not in PUBLIC and r.pattern not in MACHINE and r.pattern not in STAFF]
