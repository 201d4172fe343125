"""Prometheus event metrics: the counters every app records into, and the multiprocess files behind them.

Why multiprocess mode: the web process is gunicorn with several worker processes and background jobs run in
separate worker processes, so an in-memory counter would only show the one process a scrape happened to hit.
prometheus_client's multiprocess mode keeps each process's values in small mmap files under
``PROMETHEUS_MULTIPROC_DIR`` (default ``$GATEWAY_DATA_DIR/metrics``) and sums them at scrape time. Everything that
is state rather than an event — queue depth and age, instance states, the kill switch — is read from the database
at scrape time instead (``operations.collectors``), so it is exact whichever process answers. The exposition for
``/metrics`` is ``operations.metrics``.

Other apps call the small functions below; recording never raises into business code.

- ``send_recorded(outcome="accepted"|"blocked", code=..., source=...)`` — messaging's send service
- ``provider_call(provider=..., operation=...)`` — a context manager around every provider HTTP call
- ``webhook_delivery_recorded(outcome=..., seconds=...)`` — each webhook delivery attempt
- ``send_queue_paused(reason=...)``, ``send_queue_probe(outcome=...)`` — the send queue's circuit breaker
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

from prometheus_client import Counter, Histogram

logger = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0)

HTTP_REQUESTS = Counter(
    "gateway_http_requests_total", "HTTP requests by route pattern, method and status.", ["route", "method", "status"]
)
HTTP_DURATION = Histogram(
    "gateway_http_request_duration_seconds",
    "HTTP request latency by route pattern and method.",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
SENDS = Counter(
    "gateway_sends_total",
    "Send attempts through the send service: accepted, or blocked with the guard's error code.",
    ["outcome", "code", "source"],
)
PROVIDER_CALLS = Counter(
    "gateway_provider_calls_total",
    "Calls to messaging providers by provider, operation and outcome (ok | error).",
    ["provider", "operation", "outcome"],
)
PROVIDER_DURATION = Histogram(
    "gateway_provider_call_duration_seconds",
    "Messaging provider call latency.",
    ["provider", "operation"],
    buckets=LATENCY_BUCKETS,
)
WEBHOOK_DELIVERIES = Counter(
    "gateway_webhook_deliveries_total",
    "Webhook delivery attempts by outcome (sent, failed, retrying, blocked, gone, ...).",
    ["outcome"],
)
WEBHOOK_DURATION = Histogram(
    "gateway_webhook_delivery_duration_seconds",
    "Webhook delivery attempt latency (request sent to response read).",
    ["outcome"],
    buckets=LATENCY_BUCKETS,
)
SEND_QUEUE_PAUSES = Counter(
    "gateway_send_queue_pauses_total",
    "Instance send queues paused as a whole (provider_failing: the circuit breaker opened; instance_disconnected).",
    ["reason"],
)
SEND_QUEUE_PROBES = Counter(
    "gateway_send_queue_probes_total",
    "Probe sends of paused instance queues, by outcome (ok: the queue resumed | failed: it stays paused).",
    ["outcome"],
)
JOBS = Counter("gateway_jobs_total", "Background jobs finished, by task and outcome.", ["task", "outcome"])
JOB_DURATION = Histogram(
    "gateway_job_duration_seconds", "Background job run time by task.", ["task"], buckets=LATENCY_BUCKETS
)

# The event metrics a single process exposes itself when no multiprocess directory is configured.
EVENT_METRICS = (
    HTTP_REQUESTS,
    HTTP_DURATION,
    SENDS,
    PROVIDER_CALLS,
    PROVIDER_DURATION,
    WEBHOOK_DELIVERIES,
    WEBHOOK_DURATION,
    JOBS,
    JOB_DURATION,
)


def _safe(fn):
    def wrapper(*args, **kwargs):
        try:
            fn(*args, **kwargs)
        except Exception:  # metrics must never break sending, delivering or serving
            logger.debug("metric recording failed", exc_info=True)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


@_safe
def http_request_recorded(*, route: str, method: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(route=route, method=method, status=str(status)).inc()
    HTTP_DURATION.labels(route=route, method=method).observe(seconds)


@_safe
def send_recorded(*, outcome: str, code: str = "", source: str = "api") -> None:
    """One send attempt: ``outcome`` is ``accepted`` or ``blocked``; ``code`` the error code when blocked."""
    SENDS.labels(outcome=outcome, code=code or "", source=source or "").inc()


@_safe
def provider_call_recorded(*, provider: str, operation: str, seconds: float, ok: bool) -> None:
    PROVIDER_CALLS.labels(provider=provider, operation=operation, outcome="ok" if ok else "error").inc()
    PROVIDER_DURATION.labels(provider=provider, operation=operation).observe(seconds)


@contextlib.contextmanager
def provider_call(*, provider: str, operation: str) -> Iterator[None]:
    """Time one provider call; an exception escaping the block counts as an error (and is re-raised)."""
    started = time.perf_counter()
    ok = False
    try:
        yield
        ok = True
    finally:
        provider_call_recorded(provider=provider, operation=operation, seconds=time.perf_counter() - started, ok=ok)


@_safe
def webhook_delivery_recorded(*, outcome: str, seconds: float | None = None) -> None:
    """One delivery attempt and, when a request was made, its latency."""
    WEBHOOK_DELIVERIES.labels(outcome=outcome).inc()
    if seconds is not None:
        WEBHOOK_DURATION.labels(outcome=outcome).observe(seconds)


@_safe
def send_queue_paused(*, reason: str) -> None:
    SEND_QUEUE_PAUSES.labels(reason=reason).inc()


@_safe
def send_queue_probe(*, outcome: str) -> None:
    SEND_QUEUE_PROBES.labels(outcome=outcome).inc()


@_safe
def job_recorded(*, task: str, outcome: str, seconds: float | None) -> None:
    JOBS.labels(task=task, outcome=outcome).inc()
    if seconds is not None:
        JOB_DURATION.labels(task=task).observe(seconds)
