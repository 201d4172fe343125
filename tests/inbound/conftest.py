from __future__ import annotations

import importlib

import pytest

from tests.factories import make_instance


@pytest.fixture
def alice_bare_instance(owner_alice):
    """Alice's connected sandbox instance row, without the pairing ceremony (fast unit tests)."""
    return make_instance(owner_alice.account, name="support-line", connected=True, phone_number="+966500000001")


@pytest.fixture
def charlie_bare_instance(outsider_charlie):
    """Charlie's connected sandbox instance row (another account)."""
    return make_instance(outsider_charlie.account, name="charlie-line", connected=True, phone_number="+966500000009")


@pytest.fixture
def messaging_services(monkeypatch):
    return importlib.import_module("whatsapp_gateway.messaging.services")


@pytest.fixture
def sent_confirmations(monkeypatch, messaging_services):
    """Replaces the send service: records what the opt-out confirmation would send."""
    calls: list[dict] = []

    class Outcome:
        def __init__(self, n: int) -> None:
            self.message_id = f"msg_test{n}"

    def fake_send(**kwargs):
        calls.append(kwargs)
        return Outcome(len(calls))

    # Patched where the opt-out confirmation looks it up.
    monkeypatch.setattr(importlib.import_module("whatsapp_gateway.inbound.services"), "send_message", fake_send)
    return calls
