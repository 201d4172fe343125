"""Messaging fixtures: a fake provider, connected instances for the cast, API keys and an API client."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.factories import make_instance
from whatsapp_gateway.apikeys.services import api_key_create


@pytest.fixture
def alice_fake_instance(owner_alice, fake_provider):
    """Alice's connected instance on the fake provider (sends are recorded, not made)."""
    return make_instance(owner_alice.account, name="support-line", provider="fake", connected=True)


@pytest.fixture
def charlie_fake_instance(outsider_charlie, fake_provider):
    """Charlie's connected instance on the fake provider (another account)."""
    return make_instance(outsider_charlie.account, name="charlie-line", provider="fake", connected=True)


@pytest.fixture
def alice_key(owner_alice):
    return api_key_create(account=owner_alice.account, name="CRM", created_by=owner_alice.user).full_key


class ApiClient:
    """Posts JSON with a Bearer key, like a customer's system."""

    def __init__(self, key: str | None) -> None:
        self.client = Client()
        self.key = key

    def headers(self, extra=None):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {self.key}"} if self.key else {}
        for name, value in (extra or {}).items():
            headers["HTTP_" + name.upper().replace("-", "_")] = value
        return headers

    def send(self, body=None, *, raw=None, content_type="application/json", headers=None, **fields):
        if raw is None:
            raw = json.dumps(body if body is not None else fields)
        return self.client.post("/api/send-message", data=raw, content_type=content_type, **self.headers(headers))

    def get(self, path, **kwargs):
        return self.client.get(path, **self.headers(), **kwargs)


@pytest.fixture
def alice_api(alice_key):
    return ApiClient(alice_key)


def body(**overrides):
    data = {
        "instance_id": "support-line",
        "phone": "+966501234567",
        "message": "Your order #1042 has shipped.",
        "message_purpose": "transactional",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not ...}


@pytest.fixture
def seeded_plans(transactional_db):
    """Transactional tests run after others flushed the database (seeded plans included): seed them again."""
    import importlib

    from django.apps import apps as django_apps

    importlib.import_module("whatsapp_gateway.accounts.migrations.0002_seed_plans").seed(django_apps, None)
