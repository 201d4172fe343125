"""Counters about provider callbacks (Prometheus). Labels are fixed vocabularies, never provider input."""

from __future__ import annotations

from prometheus_client import REGISTRY, Counter

IGNORED_REASONS = ("unknown_event", "malformed", "other_instance", "not_relevant")

CALLBACK_EVENTS_IGNORED = Counter(
    "gateway_provider_callback_events_ignored",
    "Provider callback events (or parts of them) the parser ignored, by provider and reason.",
    ["provider", "reason"],
)


def count_ignored(provider: str, reason: str) -> None:
    """Count one ignored event. ``reason`` is one of ``IGNORED_REASONS``: unknown_event (an event type we do not
    handle), malformed (a known event whose body we cannot use), other_instance (meant for another instance),
    not_relevant (e.g. status broadcasts, pending acks)."""
    CALLBACK_EVENTS_IGNORED.labels(provider=provider, reason=reason if reason in IGNORED_REASONS else "malformed").inc()


def ignored_count(provider: str, reason: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "gateway_provider_callback_events_ignored_total", {"provider": provider, "reason": reason}
        )
        or 0.0
    )
