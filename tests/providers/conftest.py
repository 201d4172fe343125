"""Fixtures for the provider adapters: instances wired to the fake provider APIs (root conftest)."""

from __future__ import annotations

import json

import pytest

from tests.factories import make_instance
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.providers.registry import get_provider


def store_created(instance: Instance, result) -> Instance:
    instance.provider_ref = result.provider_ref
    instance.provider_credentials = json.dumps(result.credentials)
    instance.save(update_fields=["provider_ref", "provider_credentials"])
    instance.refresh_from_db()
    return instance


@pytest.fixture
def evolution_instance(owner_alice, fake_evolution):
    """An instance created on the fake Evolution API through the adapter (global key used once)."""
    instance = make_instance(owner_alice.account, provider="evolution")
    result = get_provider("evolution").create_instance(instance)
    fake_evolution.clear()
    return store_created(instance, result)


@pytest.fixture
def waha_instance(owner_alice, fake_waha):
    instance = make_instance(owner_alice.account, provider="waha")
    result = get_provider("waha").create_instance(instance)
    fake_waha.clear()
    return store_created(instance, result)


@pytest.fixture
def cloud_instance(owner_alice, fake_cloud):
    instance = make_instance(owner_alice.account, provider="cloud")
    result = get_provider("cloud").create_instance(instance)
    instance = store_created(instance, result)
    instance.provider_ref = "106540352242922"
    instance.save(update_fields=["provider_ref"])
    return instance


def post_callback(client, instance, callback, *, capture=None):
    """POST a provider's callback to the real route, as the provider would; runs its processing job when
    ``capture`` (pytest-django's ``django_capture_on_commit_callbacks``) is given."""
    headers = {k: v for k, v in callback.headers.items() if k.lower() != "content-type"}
    url = f"/providers/{instance.provider}/callback/{instance.callback_token}"

    def send():
        return client.post(url, data=callback.body, content_type="application/json", headers=headers)

    if capture is None:
        return send()
    with capture(execute=True):
        return send()


@pytest.fixture
def events_seen():
    """Records every normalised event dispatched, by type (stands in for, or sits beside, the apps' handlers)."""
    from whatsapp_gateway.providers import dispatch
    from whatsapp_gateway.providers.base import (
        CallEvent,
        ConnectionUpdate,
        ConversationUpdate,
        GroupUpdate,
        InboundMessage,
        MessageStatusUpdate,
        QrUpdate,
    )

    seen: list = []

    def handler(instance, event):
        seen.append(event)

    kinds = (
        InboundMessage,
        MessageStatusUpdate,
        ConnectionUpdate,
        QrUpdate,
        CallEvent,
        GroupUpdate,
        ConversationUpdate,
    )
    for kind in kinds:
        dispatch.register(kind, handler)
    yield seen
    for kind in kinds:
        dispatch._HANDLERS[kind].remove(handler)
