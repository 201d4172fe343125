"""A scriptable provider for queue tests: each ``send_text`` takes the next scripted outcome."""

from __future__ import annotations

import itertools
from collections import deque

from whatsapp_gateway.providers.base import (
    ConnectResult,
    CreateResult,
    Provider,
    ProviderError,
    SendResult,
    StateResult,
)

_ids = itertools.count(1)


class FakeProvider(Provider):
    name = "fake"
    supports_typing = True

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.script: deque = deque()
        self.history: list = []

    def reset(self) -> None:
        self.sent.clear()
        self.script.clear()
        self.history.clear()

    def create_instance(self, instance):
        return CreateResult(provider_ref=f"fake-{instance.pk}")

    def connect(self, instance, *, phone_number=None):
        return ConnectResult(state="connected")

    def connection_state(self, instance):
        return StateResult(state="connected")

    def restart(self, instance):
        return None

    def logout(self, instance):
        return None

    def delete_instance(self, instance):
        return None

    def send_text(self, instance, *, to, text, typing_ms=0):
        self.sent.append({"instance": instance.pk, "to": to, "text": text, "typing_ms": typing_ms})
        outcome = self.script.popleft() if self.script else "sent"
        if isinstance(outcome, Exception):
            raise outcome
        if outcome == "accepted":
            return SendResult(provider_message_id=f"fake-{next(_ids)}", status="sending")
        return SendResult(provider_message_id=f"fake-{next(_ids)}", status="sent")

    def verify_callback(self, instance, *, headers, body):
        return None

    def parse_callback(self, instance, *, headers, body):
        return []

    def fetch_recent_messages(self, instance, *, since):
        return list(self.history)


def retryable(message: str = "upstream 503") -> ProviderError:
    return ProviderError(message, permanent=False, code="provider_unavailable")


def permanent(message: str = "not on WhatsApp") -> ProviderError:
    return ProviderError(message, permanent=True, code="not_on_whatsapp")
