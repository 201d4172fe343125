"""Webhook test helpers: an instance, an endpoint pointing at a local receiver (pytest-httpserver), and a way to run
what ``transaction.on_commit`` enqueued (Huey runs eagerly in tests)."""

from __future__ import annotations

import pytest

from tests.factories import make_instance
from whatsapp_gateway.webhooks.catalogue import EVENT_NAMES
from whatsapp_gateway.webhooks.endpoints import endpoint_create


@pytest.fixture(autouse=True)
def _webhook_settings(settings):
    # Tests deliver to a receiver on 127.0.0.1: the operator's development flag allows it (docs/api.md "URL safety").
    settings.GATEWAY_ALLOW_PRIVATE_WEBHOOKS = True
    settings.GATEWAY_WEBHOOK_MAX_IN_FLIGHT = 2
    settings.GATEWAY_WEBHOOK_BATCH_SIZE = 25


@pytest.fixture(autouse=True)
def _fresh_clients():
    from whatsapp_gateway.webhooks.delivery import close_thread_clients

    yield
    close_thread_clients()


@pytest.fixture
def alice_sandbox_instance(owner_alice):
    """Alice's sandbox instance, paired with the simulated phone."""
    return make_instance(owner_alice.account, connected=True)


@pytest.fixture
def charlie_sandbox_instance(outsider_charlie):
    """Charlie's sandbox instance (another account), not paired."""
    return make_instance(outsider_charlie.account, name="charlie-line")


@pytest.fixture
def receiver(httpserver):
    """A local receiver answering 200 to POST /hook."""
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok", status=200)
    return httpserver


@pytest.fixture
def alice_endpoint(owner_alice, alice_sandbox_instance, httpserver):
    endpoint, secret = endpoint_create(
        account=owner_alice.account,
        instance=alice_sandbox_instance,
        url=httpserver.url_for("/hook"),
        events=sorted(EVENT_NAMES),
        actor=owner_alice.user,
    )
    endpoint.plain_secret = secret
    return endpoint
