"""Evolution API v2 over HTTP: the operator's settings, each instance's token and the error envelope.

- Auth is the ``apikey`` header. The operator's global key is used for ``POST /instance/create`` only; every later
  call uses the instance's own token (the ``hash`` returned by create), stored in ``provider_credentials``.
- Failures sometimes come back as HTTP 200 with ``{"error": true}`` (restart/connect on a closed instance), so
  every response body is checked, not only the status.
- A recipient who is not on WhatsApp gives 400 with ``response.message[] = {"exists": false, …}``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.providers import http
from whatsapp_gateway.providers.base import (
    Provider,
    ProviderError,
)
from whatsapp_gateway.providers.config import (
    ProviderSettings,
    instance_credentials,
    provider_settings,
)
from whatsapp_gateway.providers.parsing import (
    as_dict,
    as_list,
    as_str,
)

NAME = "evolution"
INTEGRATION = "WHATSAPP-BAILEYS"
# Baileys rotates QR codes every 20–60 s; the portal refreshes before this.
QR_TTL = dt.timedelta(seconds=40)


class EvolutionClient(Provider):
    """The HTTP half of the adapter, shared by the lifecycle calls and the callback parsers."""

    name = NAME
    # --- configuration and HTTP ----------------------------------------------------------------------------

    def _settings(self) -> ProviderSettings:
        return provider_settings(NAME)

    def _ref(self, instance: Instance) -> str:
        return instance.provider_ref or instance.public_id

    def _instance_headers(self, instance: Instance) -> dict[str, str]:
        token = as_str(instance_credentials(instance).get("token"))
        if not token:
            raise ProviderError(
                "This instance has no Evolution API token; delete it and create it again.",
                permanent=True,
                code="missing_instance_token",
            )
        return {"apikey": token}

    def _call(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> http.ProviderResponse:
        base = self._settings().require_base_url()
        return http.call(
            NAME, method, base + path, headers=headers, json_body=json_body, params=params, timeout=timeout
        )

    @staticmethod
    def _error_body(response: http.ProviderResponse) -> bool:
        """Evolution's HTTP-200 failures: ``{"error": true, "message": "[object Object]"}``."""
        body = response.body
        return isinstance(body, dict) and body.get("error") is True and response.ok

    def _raise_for(self, response: http.ProviderResponse, *, action: str) -> None:
        if self._error_body(response):
            message = as_str(as_dict(response.body).get("message")) or "unknown error"
            raise ProviderError(
                f"Evolution API could not {action} ({message}); the instance is probably closed: connect it again.",
                permanent=False,
                code="provider_error",
            )
        if response.ok:
            return
        text = error_text(response.body)
        if response.status == 404:
            raise ProviderError(
                f"Evolution API does not know this instance ({text or 'not found'}).",
                permanent=True,
                code="instance_missing",
            )
        raise http.default_error(NAME, response, message=text)


def error_text(body: Any) -> str:
    """The human text in Evolution's error envelope ``{"response": {"message": [...]}}``."""
    message = as_dict(as_dict(body).get("response")).get("message", as_dict(body).get("message"))
    if isinstance(message, list):
        return "; ".join(str(m) if not isinstance(m, dict) else m.get("message", "") or str(m) for m in message)[:300]
    return as_str(message)[:300]


def not_on_whatsapp(body: Any) -> bool:
    message = as_dict(as_dict(body).get("response")).get("message")
    return any(isinstance(item, dict) and item.get("exists") is False for item in as_list(message))
