"""``Client`` and ``AsyncClient``: the same surface, one blocking and one for asyncio.

Both build requests and read answers with :class:`_Core`; only the I/O and the sleep between attempts differ.
"""

from __future__ import annotations

import asyncio
import email.utils
import platform
import random
import time
import urllib.parse
import uuid
from collections.abc import Sequence
from typing import Any

import httpx

from whatsapp_gateway_client import __version__
from whatsapp_gateway_client.errors import ConnectionFailed, GatewayError, error_from_response
from whatsapp_gateway_client.models import Message, SendResult

__all__ = ["AsyncClient", "Client"]

DEFAULT_TIMEOUT = 15.0
DEFAULT_MAX_RETRIES = 3
BACKOFF_BASE = 0.5  # seconds before the first retry (before jitter); doubles each attempt
BACKOFF_CAP = 8.0  # no backoff pause grows beyond this
MAX_RETRY_AFTER = 60.0  # a Retry-After longer than this is handed to the caller (exc.retry_after), not slept

# 409 idempotency_in_progress: the first request with this key is still running; asking again shortly is safe.
_RETRY_CODES = frozenset({"idempotency_in_progress"})


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; ``None`` when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _Core:
    """Request building, answer parsing and the retry decision, shared by both clients."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        max_retries: int,
        backoff_base: float,
        backoff_cap: float,
        max_retry_after: float,
    ) -> None:
        if not api_key:
            raise ValueError("api_key is required (wg_live_…)")
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retry_after = max_retry_after
        self.headers = {
            "Authorization": f"Bearer {api_key}",
            "Accept": "application/json",
            "User-Agent": (
                f"whatsapp-gateway-client/{__version__} python/{platform.python_version()} httpx/{httpx.__version__}"
            ),
        }

    @staticmethod
    def send_body(instance_id: str, phone: str, message: str, purpose: str, *, dry_run: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "instance_id": instance_id,
            "phone": phone,
            "message": message,
            "message_purpose": purpose,
        }
        if dry_run:
            body["dry_run"] = True
        return body

    @staticmethod
    def template_body(
        instance_id: str,
        phone: str,
        name: str,
        language: str,
        purpose: str,
        variables: Sequence[str],
        *,
        dry_run: bool,
    ) -> dict[str, Any]:
        if isinstance(variables, str):
            raise TypeError("variables is a list of strings, one per {{n}} of the template")
        body: dict[str, Any] = {
            "instance_id": instance_id,
            "phone": phone,
            "template": {"name": name, "language": language, "variables": [str(v) for v in variables]},
            "message_purpose": purpose,
        }
        if dry_run:
            body["dry_run"] = True
        return body

    @staticmethod
    def idempotency_key(given: str | None) -> str:
        return given if given is not None else str(uuid.uuid4())

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based): what the server asked for, else capped
        exponential backoff with full jitter (so many clients retrying at once spread out)."""
        if retry_after is not None:
            return retry_after
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)))

    def should_retry(self, error: GatewayError, attempt: int) -> bool:
        if attempt > self.max_retries:
            return False
        if isinstance(error, ConnectionFailed):
            return True
        if error.retry_after is not None and error.retry_after > self.max_retry_after:
            return False  # e.g. a daily limit: hours away; the caller decides (exc.retry_after)
        return error.status == 429 or error.status >= 500 or error.code in _RETRY_CODES

    @staticmethod
    def error_for(response: httpx.Response) -> GatewayError:
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        return error_from_response(
            response.status_code,
            body,
            dict(response.headers),
            parse_retry_after(response.headers.get("Retry-After")),
        )

    @staticmethod
    def json_object(response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise GatewayError(
                f"expected a JSON object, got {response.headers.get('Content-Type', 'no content type')}",
                code="invalid_response",
                status=response.status_code,
            )
        return body

    def send_result(self, response: httpx.Response, key: str) -> SendResult:
        return SendResult.from_response(
            self.json_object(response),
            http_status=response.status_code,
            replayed=response.headers.get("Idempotent-Replayed", "").lower() == "true",
            idempotency_key=key,
        )


def _connection_failed(exc: httpx.TransportError) -> ConnectionFailed:
    error = ConnectionFailed(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    error.__cause__ = exc
    return error


class Client:
    """A blocking client for the WhatsApp Gateway API.

    ``Client("https://gateway.example.com", "wg_live_…")``. Every request carries an ``Idempotency-Key``
    (generated when you give none), so a retry after a timeout can never send a message twice. Network errors,
    5xx answers and 429 are retried up to ``max_retries`` times, waiting what ``Retry-After`` asks (when it is at
    most ``max_retry_after`` seconds) or a capped exponential backoff with jitter. Use it as a context manager, or
    call :meth:`close`. ``http_client`` lets you pass your own ``httpx.Client`` (proxies, mTLS, a mock transport).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff_base: float = BACKOFF_BASE,
        backoff_cap: float = BACKOFF_CAP,
        max_retry_after: float = MAX_RETRY_AFTER,
        http_client: httpx.Client | None = None,
    ) -> None:
        self._core = _Core(
            base_url,
            api_key,
            max_retries=max_retries,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            max_retry_after=max_retry_after,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def _sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def _request(self, method: str, path: str, *, key: str, json: dict[str, Any] | None = None) -> httpx.Response:
        headers = {**self._core.headers, "Idempotency-Key": key}
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.request(method, self._core.base_url + path, json=json, headers=headers)
            except httpx.TransportError as exc:
                error: GatewayError = _connection_failed(exc)
            else:
                if response.status_code < 400:
                    return response
                error = self._core.error_for(response)
            if not self._core.should_retry(error, attempt):
                raise error
            self._sleep(self._core.backoff(attempt, error.retry_after))

    def send_message(
        self,
        instance_id: str,
        phone: str,
        message: str,
        purpose: str,
        *,
        idempotency_key: str | None = None,
        dry_run: bool = False,
    ) -> SendResult:
        """Send one text message (``POST /api/send-message``). ``purpose`` is the message purpose
        (``transactional``, ``operational``, ``support``, ``internal_team`` or ``authentication``).

        Returns a :class:`SendResult` (``status="queued"``, ``message_id``, ``log_id``), or for ``dry_run=True``
        the guard's verdict without sending (``status="validated"``, ``risk_score``, ``reasons``). Raises the
        :class:`GatewayError` subclass for the API's error code."""
        key = self._core.idempotency_key(idempotency_key)
        body = self._core.send_body(instance_id, phone, message, purpose, dry_run=dry_run)
        return self._core.send_result(self._request("POST", "/api/send-message", key=key, json=body), key)

    def send_template(
        self,
        instance_id: str,
        phone: str,
        name: str,
        language: str,
        purpose: str,
        *,
        variables: Sequence[str] = (),
        idempotency_key: str | None = None,
        dry_run: bool = False,
    ) -> SendResult:
        """Send an approved template by name (``POST /api/send-message`` with ``template``): ``variables`` fill its
        ``{{1}}``, ``{{2}}``, … in order. A template synced from Meta goes out as a WhatsApp template message from
        its Cloud API instance; one reviewed by the gateway as its rendered text on any instance. An unknown,
        unapproved or wrongly filled template raises :class:`ValidationError` (``details["field"] == "template"``).
        Returns and raises like :meth:`send_message`."""
        key = self._core.idempotency_key(idempotency_key)
        body = self._core.template_body(instance_id, phone, name, language, purpose, variables, dry_run=dry_run)
        return self._core.send_result(self._request("POST", "/api/send-message", key=key, json=body), key)

    def get_message(self, message_id: str) -> Message:
        """Status and history of one message (``GET /api/messages/{message_id}``)."""
        response = self._request(
            "GET", f"/api/messages/{urllib.parse.quote(message_id, safe='')}", key=self._core.idempotency_key(None)
        )
        return Message.from_dict(self._core.json_object(response))


class AsyncClient:
    """The asyncio twin of :class:`Client`: the same arguments and methods, awaited.

    ``async with AsyncClient(base_url, api_key) as client: result = await client.send_message(...)``.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff_base: float = BACKOFF_BASE,
        backoff_cap: float = BACKOFF_CAP,
        max_retry_after: float = MAX_RETRY_AFTER,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._core = _Core(
            base_url,
            api_key,
            max_retries=max_retries,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            max_retry_after=max_retry_after,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def _sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def _request(self, method: str, path: str, *, key: str, json: dict[str, Any] | None = None) -> httpx.Response:
        headers = {**self._core.headers, "Idempotency-Key": key}
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._http.request(method, self._core.base_url + path, json=json, headers=headers)
            except httpx.TransportError as exc:
                error: GatewayError = _connection_failed(exc)
            else:
                if response.status_code < 400:
                    return response
                error = self._core.error_for(response)
            if not self._core.should_retry(error, attempt):
                raise error
            await self._sleep(self._core.backoff(attempt, error.retry_after))

    async def send_message(
        self,
        instance_id: str,
        phone: str,
        message: str,
        purpose: str,
        *,
        idempotency_key: str | None = None,
        dry_run: bool = False,
    ) -> SendResult:
        """See :meth:`Client.send_message`."""
        key = self._core.idempotency_key(idempotency_key)
        body = self._core.send_body(instance_id, phone, message, purpose, dry_run=dry_run)
        return self._core.send_result(await self._request("POST", "/api/send-message", key=key, json=body), key)

    async def send_template(
        self,
        instance_id: str,
        phone: str,
        name: str,
        language: str,
        purpose: str,
        *,
        variables: Sequence[str] = (),
        idempotency_key: str | None = None,
        dry_run: bool = False,
    ) -> SendResult:
        """See :meth:`Client.send_template`."""
        key = self._core.idempotency_key(idempotency_key)
        body = self._core.template_body(instance_id, phone, name, language, purpose, variables, dry_run=dry_run)
        return self._core.send_result(await self._request("POST", "/api/send-message", key=key, json=body), key)

    async def get_message(self, message_id: str) -> Message:
        """See :meth:`Client.get_message`."""
        response = await self._request(
            "GET", f"/api/messages/{urllib.parse.quote(message_id, safe='')}", key=self._core.idempotency_key(None)
        )
        return Message.from_dict(self._core.json_object(response))
