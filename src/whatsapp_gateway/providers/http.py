"""The one HTTP path to provider APIs: httpx with timeouts, no redirects, and network failures mapped to
retryable ``ProviderError``s.

Tests (and local fakes of the providers) swap the transport with ``use_transport``; nothing else changes.
Never log request bodies, headers or query strings: they carry keys and phone numbers.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings

from whatsapp_gateway.lib import metrics
from whatsapp_gateway.lib.text import replace_surrogates
from whatsapp_gateway.providers.base import ProviderError

logger = logging.getLogger("whatsapp_gateway.providers")

_lock = threading.Lock()
_transport: httpx.BaseTransport | None = None
_client: httpx.Client | None = None


@contextmanager
def use_transport(transport: httpx.BaseTransport) -> Iterator[None]:
    """Send every provider call through ``transport`` (e.g. ``httpx.MockTransport``) inside the block."""
    global _transport, _client
    with _lock:
        previous, _transport, _client = _transport, transport, None
    try:
        yield
    finally:
        with _lock:
            _transport, _client = previous, None


def _get_client() -> httpx.Client:
    global _client
    with _lock:
        if _client is None:
            _client = httpx.Client(transport=_transport, follow_redirects=False)
        return _client


@dataclass(frozen=True)
class ProviderResponse:
    status: int
    body: Any  # parsed JSON, or None when the body is empty or not JSON
    text: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def call(
    provider: str,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    json_body: Any = None,
    params: Mapping[str, Any] | None = None,
    timeout: float | None = None,
) -> ProviderResponse:
    """Make one provider API call. Network failures raise retryable ``ProviderError``; HTTP errors are returned
    for the adapter to map (see ``default_error``)."""
    seconds = timeout if timeout is not None else settings.GATEWAY_PROVIDER_HTTP_TIMEOUT
    started = time.perf_counter()
    try:
        response = _get_client().request(
            method,
            url,
            headers=dict(headers),
            json=json_body,
            params=dict(params) if params else None,
            timeout=httpx.Timeout(seconds, connect=min(seconds, 10.0)),
        )
    except httpx.TimeoutException as exc:
        metrics.provider_call_recorded(provider=provider, operation="http", seconds=seconds, ok=False)
        logger.warning("%s %s %s timed out", provider, method, httpx.URL(url).path)
        raise ProviderError(
            f"The {provider} API did not answer in time.", permanent=False, code="provider_timeout"
        ) from exc
    except httpx.HTTPError as exc:
        metrics.provider_call_recorded(
            provider=provider, operation="http", seconds=time.perf_counter() - started, ok=False
        )
        logger.warning("%s %s %s failed: %s", provider, method, httpx.URL(url).path, type(exc).__name__)
        raise ProviderError(
            f"The {provider} API is unreachable ({type(exc).__name__}).", permanent=False, code="provider_unreachable"
        ) from exc
    metrics.provider_call_recorded(
        provider=provider, operation="http", seconds=time.perf_counter() - started, ok=response.status_code < 500
    )
    text = response.text
    try:
        body = replace_surrogates(json.loads(text)) if text.strip() else None
    except (ValueError, RecursionError):
        body = None
    if response.status_code >= 400:
        logger.info("%s %s %s answered %s", provider, method, httpx.URL(url).path, response.status_code)
    return ProviderResponse(status=response.status_code, body=body, text=text)


def default_error(provider: str, response: ProviderResponse, *, message: str = "") -> ProviderError:
    """The error for an HTTP failure no adapter-specific rule covered.

    Rate limits, server errors and credential problems are retryable (the operator can fix credentials while
    the job waits); any other 4xx means the provider refused this request and repeating it would not help.
    """
    detail = message or _short(response)
    status = response.status
    if status == 429:
        return ProviderError(
            f"The {provider} API is rate limiting us. {detail}", permanent=False, code="provider_rate_limited"
        )
    if status >= 500:
        return ProviderError(
            f"The {provider} API failed ({status}). {detail}", permanent=False, code="provider_unavailable"
        )
    if status in (401, 403):
        return ProviderError(
            f"The {provider} API refused our credentials ({status}). {detail}",
            permanent=False,
            code="provider_auth_failed",
        )
    if status == 404:
        return ProviderError(
            f"The {provider} API does not know this resource (404). {detail}", permanent=True, code="provider_not_found"
        )
    return ProviderError(
        f"The {provider} API rejected the request ({status}). {detail}", permanent=True, code="provider_rejected"
    )


def _short(response: ProviderResponse) -> str:
    return response.text[:300].strip()
