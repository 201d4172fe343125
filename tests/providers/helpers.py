"""Shared helpers for provider tests: load fixture payloads, parse them, read the ignored-events counter."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from whatsapp_gateway.providers.metrics import ignored_count
from whatsapp_gateway.providers.registry import get_provider

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_bytes(provider: str, name: str) -> bytes:
    return (FIXTURES / provider / f"{name}.json").read_bytes()


def fixture_json(provider: str, name: str):
    return json.loads(fixture_bytes(provider, name))


def parse(instance, provider: str, name: str) -> list:
    return get_provider(provider).parse_callback(instance, headers={}, body=fixture_bytes(provider, name))


def at(ts: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC)


class IgnoredCounter:
    """Reads the Prometheus counter before and after: ``counter.delta("malformed")``."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.start = {
            r: ignored_count(provider, r) for r in ("unknown_event", "malformed", "other_instance", "not_relevant")
        }

    def delta(self, reason: str) -> float:
        return ignored_count(self.provider, reason) - self.start[reason]
