"""The delivery engine's HTTP side: request builders per endpoint kind, pinned httpx clients, one attempt.

Endpoint kinds (what differs per kind: the request, which events) are registered in ``kinds``.

Design notes: small sync connection pools per worker thread (measured on a 2-core machine: several small sync clients beat one
big async pool), each pinned to the address the URL check approved (no DNS rebinding), keep-alive between
deliveries to the same address, 15 s timeout, redirects never followed, no cookies. Requests go to httpx's engine
(an httpcore pool, ``urlsafety.pinned_pool``) directly (``_post``), without ``httpx.Client``/``httpx.Request``
around them: a delivery needs none of their per-request work.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import httpcore
import httpx
from django.conf import settings

from whatsapp_gateway.lib import urlsafety
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.lib.signing import signature_headers
from whatsapp_gateway.webhooks.kinds import OutgoingRequest, kind_builder, register_kind
from whatsapp_gateway.webhooks.models import Delivery, Endpoint, EndpointKind, Event

logger = logging.getLogger(__name__)

RESPONSE_EXCERPT_BYTES = 1024
_MAX_BODY_READ = 64 * 1024


@functools.cache
def user_agent() -> str:
    return f"WhatsAppGateway-Webhooks/{settings.VERSION}"


def endpoint_signing_secrets(endpoint: Endpoint, at: dt.datetime | None = None) -> list[str]:
    """The current secret, plus the previous one while the 24 h rotation overlap lasts (newest first)."""
    at = at or now()
    result = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > at:
        result.append(endpoint.previous_secret)
    return result


def canonical_json(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signed_json_request(
    endpoint: Endpoint, *, msg_id: str, event_type: str, payload: dict, timestamp: int
) -> OutgoingRequest:
    """A JSON body with both signature header sets (docs/api.md "Signatures") from the endpoint's secret(s)."""
    body = canonical_json(payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": user_agent(),
        "X-WhatsApp-Gateway-Event": event_type,
        **signature_headers(endpoint_signing_secrets(endpoint), msg_id=msg_id, timestamp=timestamp, body=body),
    }
    return OutgoingRequest(body=body, headers=headers)


def build_customer_request(endpoint: Endpoint, event: Event, delivery: Delivery, timestamp: int) -> OutgoingRequest:
    # webhook-id is the event id: the same for every retry and every resend of this event.
    return signed_json_request(
        endpoint, msg_id=event.public_id, event_type=event.event_type, payload=event.payload, timestamp=timestamp
    )


register_kind(EndpointKind.CUSTOMER, build_customer_request)


def build_request(endpoint: Endpoint, event: Event, delivery: Delivery, timestamp: int) -> OutgoingRequest:
    build = kind_builder(endpoint.kind)
    if build is None:
        raise LookupError(f"no request builder registered for endpoint kind {endpoint.kind!r}")
    request = build(endpoint, event, delivery, timestamp)
    if "User-Agent" not in request.headers:
        request.headers["User-Agent"] = user_agent()
    return request


# --- Connection pools: one small pool per worker thread and pinned address --------------------------------------

_local = threading.local()
_MAX_POOLS_PER_THREAD = 32


def _pool_for(checked: urlsafety.CheckedURL) -> httpcore.ConnectionPool:
    pools: OrderedDict[tuple, httpcore.ConnectionPool] | None = getattr(_local, "pools", None)
    if pools is None:
        pools = _local.pools = OrderedDict()
    key = (checked.scheme, checked.host, checked.port, checked.pinned_ip)
    pool = pools.get(key)
    if pool is not None:
        pools.move_to_end(key)
        return pool
    pool = pools[key] = urlsafety.pinned_pool(checked.pinned_ip)
    while len(pools) > _MAX_POOLS_PER_THREAD:
        _key, old = pools.popitem(last=False)
        old.close()
    return pool


def close_thread_clients() -> None:
    """Close this thread's connection pools (tests, and a receiver that must see fresh connections)."""
    for pool in (getattr(_local, "pools", None) or {}).values():
        pool.close()
    _local.pools = OrderedDict()


# --- One attempt ----------------------------------------------------------------------------------------------------


@dataclass
class AttemptResult:
    """What happened to one attempt. ``outcome``: sent, failed, blocked, gone (410) or throttled (429/503)."""

    delivery: Delivery
    outcome: str
    attempted_at: dt.datetime
    status_code: int | None = None
    latency_ms: int | None = None
    excerpt: str = ""
    error: str = ""
    retry_after: float | None = None

    @property
    def is_network_failure(self) -> bool:
        return self.outcome == "failed" and self.status_code is None


def parse_retry_after(value: str | None, *, at: dt.datetime) -> float | None:
    """Seconds from a ``Retry-After`` header (delay-seconds or an HTTP-date); None when absent or malformed."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - at).total_seconds())


def _excerpt(raw: bytes, headers: list[tuple[bytes, bytes]]) -> str:
    """The first ``RESPONSE_EXCERPT_BYTES`` of a body read raw; a compressed body is decoded first (by httpx's
    decoders; we never ask for compression, so this is the rare path)."""
    if _header(headers, b"content-encoding"):
        # A body cut at _MAX_BODY_READ, or a broken one, stays as it came.
        with contextlib.suppress(httpx.DecodingError):
            raw = httpx.Response(200, headers=headers, content=raw).read()
    # NUL cannot be stored in a PostgreSQL text column: a binary answer must not make the attempt unrecordable.
    return raw[:RESPONSE_EXCERPT_BYTES].decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    """The first value of header ``name`` (lower case) in a raw httpcore header list, or ''."""
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


# A batch may reuse a URL check (DNS answer + verdict) this long; the connection still goes only to the checked
# address (the client is pinned to it), so this bounds how stale a DNS answer can be, not what is safe.
CHECK_REUSE_SECONDS = 5.0


class URLChecks:
    """URL checks shared by the attempts of one batch: one resolution per host and ``CHECK_REUSE_SECONDS``.
    Only passing checks are reused; a refusal or a DNS failure is checked again at the next attempt."""

    def __init__(self, ttl: float = CHECK_REUSE_SECONDS) -> None:
        self.ttl = ttl
        self._checked: dict[str, tuple[float, urlsafety.CheckedURL]] = {}

    def check(self, url: str) -> urlsafety.CheckedURL:
        hit = self._checked.get(url)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        checked = urlsafety.check_url(url, allow_private=settings.GATEWAY_ALLOW_PRIVATE_WEBHOOKS)
        self._checked[url] = (time.monotonic() + self.ttl, checked)
        return checked


@functools.lru_cache(maxsize=256)
def _parsed_url(url: str) -> tuple[httpcore.URL, bytes]:
    # The request target and Host header of a URL, reused as they are for every request to it.
    parsed = httpx.URL(url)
    host = parsed.raw_host
    if b":" in host:
        host = b"[" + host + b"]"
    default_port = {b"http": 80, b"https": 443}.get(parsed.raw_scheme)
    if parsed.port is not None and parsed.port != default_port:
        host += b":%d" % parsed.port
    target = httpcore.URL(scheme=parsed.raw_scheme, host=parsed.raw_host, port=parsed.port, target=parsed.raw_path)
    return target, host


@functools.lru_cache(maxsize=8)
def _timeout_extension(seconds: float) -> dict[str, float]:
    return httpx.Timeout(seconds).as_dict()


@dataclass
class _Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    excerpt: str


# Everything httpcore raises for a request that did not get an answer (its exceptions share no base class).
_TRANSPORT_ERRORS = (
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    httpcore.ConnectionNotAvailable,
    httpcore.ProxyError,
)


def _post(checked: urlsafety.CheckedURL, request: OutgoingRequest, timeout: float) -> _Answer:
    """POST ``request`` on the thread's connection pool pinned to the checked address, read at most
    ``_MAX_BODY_READ`` bytes of the answer (then the connection is dropped instead of reused) and release it.

    The request goes to httpcore's pool (the engine under httpx) directly, not through ``httpx.Client`` or even
    ``httpx.Request``: their per-request work (default headers and cookies merged, auth and redirect handling,
    header objects normalised twice, exceptions and streams wrapped) is nothing a delivery wants (redirects are
    never followed, no cookies are kept, our headers are already bytes) and costs as much CPU as the exchange.
    Raises httpcore's exceptions (see ``_TRANSPORT_ERRORS``, ``httpcore.TimeoutException``)."""
    target, host = _parsed_url(checked.url)
    headers = [(b"Host", host), (b"Accept", b"*/*")]
    headers += [(name.encode("latin-1"), value.encode("latin-1")) for name, value in request.headers.items()]
    headers.append((b"Content-Length", b"%d" % len(request.body)))
    outgoing = httpcore.Request(
        b"POST", target, headers=headers, content=request.body, extensions={"timeout": _timeout_extension(timeout)}
    )
    response = _pool_for(checked).handle_request(outgoing)
    try:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.stream:
            chunks.append(chunk)
            size += len(chunk)
            if size > _MAX_BODY_READ:
                break
    finally:
        response.close()
    raw = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return _Answer(response.status, response.headers, _excerpt(raw, response.headers))


def attempt(endpoint: Endpoint, delivery: Delivery, event: Event, *, checks: URLChecks | None = None) -> AttemptResult:
    """Check the URL, build and send one request. Never raises for network or receiver problems. ``checks``: a
    batch's shared URL checks (without it the URL is checked and resolved afresh)."""
    attempted_at = now()
    try:
        if checks is not None:
            checked = checks.check(endpoint.url)
        else:
            checked = urlsafety.check_url(endpoint.url, allow_private=settings.GATEWAY_ALLOW_PRIVATE_WEBHOOKS)
    except urlsafety.UnresolvableHost as exc:
        # A DNS outage is not a verdict on the destination: retry on the schedule like a refused connection.
        return AttemptResult(delivery, "failed", attempted_at, error=f"DNS lookup failed: {exc.reason}"[:300])
    except urlsafety.UnsafeURL as exc:
        return AttemptResult(delivery, "blocked", attempted_at, error=f"blocked: {exc.reason}"[:300])
    request = build_request(endpoint, event, delivery, int(attempted_at.timestamp()))
    timeout = settings.GATEWAY_WEBHOOK_TIMEOUT_SECONDS
    started = time.perf_counter()
    try:
        with urlsafety.total_deadline(timeout):
            answer = _post(checked, request, timeout)
    except httpcore.TimeoutException:
        latency = int((time.perf_counter() - started) * 1000)
        return AttemptResult(
            delivery, "failed", attempted_at, latency_ms=latency, error=f"timed out after {timeout:g} s"
        )
    except _TRANSPORT_ERRORS as exc:
        latency = int((time.perf_counter() - started) * 1000)
        return AttemptResult(
            delivery, "failed", attempted_at, latency_ms=latency, error=f"connection failed: {exc}"[:300] or "error"
        )
    status, excerpt = answer.status, answer.excerpt
    retry_after_header = _header(answer.headers, b"retry-after")
    location = _header(answer.headers, b"location")
    latency = int((time.perf_counter() - started) * 1000)
    result = AttemptResult(delivery, "failed", attempted_at, status_code=status, latency_ms=latency, excerpt=excerpt)
    if 200 <= status < 300:
        result.outcome = "sent"
    elif status == 410:
        result.outcome = "gone"
        result.error = "410 Gone: the endpoint was disabled"
    elif status in (429, 503):
        result.outcome = "throttled"
        result.retry_after = parse_retry_after(retry_after_header, at=attempted_at)
        result.error = f"HTTP {status}" + (f", Retry-After {retry_after_header}" if retry_after_header else "")
    elif 300 <= status < 400:
        result.error = f"HTTP {status} redirect not followed" + (f" (Location: {location})" if location else "")
    else:
        result.error = f"HTTP {status}"
    result.error = result.error[:300]
    return result
