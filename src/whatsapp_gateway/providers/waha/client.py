"""WAHA (WhatsApp HTTP API) over HTTP: keys, sessions and the QR code.

- Auth is ``X-Api-Key``. The operator's master key creates and deletes sessions and mints a session-scoped key
  (``POST /api/keys``) that every other call of that instance uses; WAHA builds without the keys API fall back to
  the master key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from whatsapp_gateway.instances.models import Instance, InstanceState
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
    as_str,
)

NAME = "waha"
QR_TTL = dt.timedelta(seconds=40)


class WahaClient(Provider):
    """The HTTP half of the adapter, shared by the lifecycle calls and the callback parsers."""

    name = NAME

    # --- configuration and HTTP ----------------------------------------------------------------------------

    def _settings(self) -> ProviderSettings:
        return provider_settings(NAME)

    def _ref(self, instance: Instance) -> str:
        return instance.provider_ref or instance.public_id

    def _master_headers(self) -> dict[str, str]:
        key = self._settings().secret("api_key")
        return {"X-Api-Key": key} if key else {}

    def _session_headers(self, instance: Instance) -> dict[str, str]:
        key = as_str(instance_credentials(instance).get("api_key"))
        return {"X-Api-Key": key} if key else self._master_headers()

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

    def _raise_for(self, response: http.ProviderResponse, *, action: str) -> None:
        if response.ok:
            return
        message = as_str(as_dict(response.body).get("message")) or response.text[:200]
        if response.status == 422:
            raise ProviderError(
                f"WAHA could not {action}: the session is not working ({message}).",
                permanent=False,
                code="instance_not_connected",
            )
        if response.status == 404:
            raise ProviderError(
                f"WAHA does not know this session ({message}).", permanent=True, code="instance_missing"
            )
        raise http.default_error(NAME, response, message=message)

    def _qr(self, instance: Instance) -> str:
        response = self._call(
            "GET",
            f"/api/{quote(self._ref(instance))}/auth/qr",
            headers={**self._session_headers(instance), "Accept": "application/json"},
            params={"format": "raw"},
        )
        self._raise_for(response, action="read the QR code")
        value = as_str(as_dict(response.body).get("value"))
        if not value:
            raise ProviderError("WAHA returned no QR code yet.", permanent=False, code="qr_not_ready")
        return value


def session_state(status: str, current: str) -> tuple[str, str]:
    """WAHA session status → (InstanceState, reason)."""
    if status == "WORKING":
        return InstanceState.CONNECTED, ""
    if status == "SCAN_QR_CODE":
        return InstanceState.PAIRING, "Waiting for the QR code to be scanned."
    if status in ("PASSKEY_REQUIRED", "PASSKEY_CONFIRMATION_REQUIRED"):
        return InstanceState.PAIRING, "Confirm the passkey on the phone."
    if status == "STARTING":
        if current in (InstanceState.CONNECTED, InstanceState.DISCONNECTED):
            return InstanceState.DISCONNECTED, "The session is restarting."
        return InstanceState.PAIRING, "The session is starting."
    if status == "STOPPED":
        return InstanceState.DISCONNECTED, "The session is stopped."
    if status == "FAILED":
        return InstanceState.FAILED, "The session failed (this can mean the number was banned). Restart it."
    return InstanceState.DISCONNECTED, f"Unknown WAHA session status {status[:40]!r}."
