"""Secrets never reach the logs: a full flow (login, key creation, API sends, inbound messages and an opt-out,
provider callbacks, webhook deliveries to a failing receiver, 3CX webhooks, failed authentications) is run with
every logger at DEBUG through the production log pipeline, and the output is searched for every secret used."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from django.test import Client

from tests.factories import PASSWORD, make_instance
from tests.messaging.conftest import ApiClient, body
from tests.reliability.cluster import Receiver
from tests.tallies import SECURITY as TALLY
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib.logs import JsonFormatter, PlainFormatter, RedactingFilter
from whatsapp_gateway.providers.sandbox import simulate
from whatsapp_gateway.providers.sandbox.server import callback_body, signed_headers
from whatsapp_gateway.threecx.services import integration_create
from whatsapp_gateway.webhooks.endpoints import endpoint_create
from whatsapp_gateway.webhooks.worker import endpoint_deliver_due

pytestmark = pytest.mark.django_db

RECIPIENT, SENDER, THREECX_CUSTOMER = "+966501234567", "+966507654321", "+966509998877"


@pytest.fixture
def captured_logs():
    stream = io.StringIO()
    handlers = []
    for formatter in (JsonFormatter(), PlainFormatter()):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        handler.addFilter(RedactingFilter())
        handlers.append(handler)
    root = logging.getLogger()
    previous = root.level
    quiet = {name: logging.getLogger(name).level for name in ("django.db.backends", "huey", "httpx", "httpcore")}
    root.setLevel(logging.DEBUG)
    for name in quiet:
        logging.getLogger(name).setLevel(logging.DEBUG)
    for handler in handlers:
        root.addHandler(handler)
    yield stream
    for handler in handlers:
        root.removeHandler(handler)
    root.setLevel(previous)
    for name, level in quiet.items():
        logging.getLogger(name).setLevel(level)


def test_no_secret_key_token_password_or_phone_number_is_ever_logged(
    owner_alice, captured_logs, settings, django_capture_on_commit_callbacks
):
    settings.GATEWAY_ALLOW_PRIVATE_WEBHOOKS = True
    secrets: dict[str, str] = {"password": PASSWORD}
    browser = Client()
    browser.post("/accounts/login/", {"login": owner_alice.user.email, "password": "wrong-" + PASSWORD})
    assert browser.post("/accounts/login/", {"login": owner_alice.user.email, "password": PASSWORD}).status_code == 302

    with django_capture_on_commit_callbacks(execute=True):
        from tests.factories import make_instance

        instance = make_instance(owner_alice.account, name="log-line", connected=True)
    instance = Instance.objects.get(pk=instance.pk)
    secrets["callback token"] = instance.callback_token

    page = browser.post("/api-keys", {"name": "CRM"})
    key = re.search(rb"wg_live_[A-Za-z0-9_\-]+", page.content).group().decode()
    secrets["api key"] = key

    api = ApiClient(key)
    with django_capture_on_commit_callbacks(execute=True):
        assert api.send(body(instance_id="log-line", phone=RECIPIENT)).status_code == 202
        api.send(body(instance_id="log-line", phone=RECIPIENT, message_purpose="marketing"))
        api.send(body(instance_id="log-line", phone=RECIPIENT, dry_run=True))
    ApiClient(key[:-3] + "xyz").send(body(instance_id="log-line", phone=RECIPIENT))

    receiver = Receiver()
    receiver.status = 500
    try:
        endpoint, whsec = endpoint_create(
            account=owner_alice.account, instance=instance, url=receiver.url, events=["message.received"]
        )
        secrets["webhook secret"] = whsec
        with django_capture_on_commit_callbacks(execute=True):
            simulate.inbound(instance=instance, from_phone=SENDER, text="Hello, my card is 4111")
            simulate.stop(instance=instance, from_phone=SENDER)
        endpoint_deliver_due(endpoint_id=endpoint.pk, time_budget=5)
    finally:
        receiver.close()

    callback = callback_body("message", {"from": SENDER[1:] + "@s.whatsapp.net", "text": "via http"})
    headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in signed_headers(instance, callback).items()}
    Client().post(f"/providers/sandbox/callback/{instance.callback_token}", callback, "application/json", **headers)

    integration, credentials = integration_create(account=owner_alice.account, name="PBX", default_instance=instance)
    secrets["3cx secret"], secrets["3cx key"] = credentials.secret, credentials.api_key
    hook = f"/integrations/3cx/webhook/{integration.public_id}"
    payload = json.dumps({"event_type": "outbound_message", "to": THREECX_CUSTOMER, "message_text": "Hi"})
    Client().post(hook, payload, "application/json", HTTP_X_WHATSAPP_GATEWAY_3CX_SECRET=credentials.secret)
    Client().post(hook, payload, "application/json", HTTP_X_WHATSAPP_GATEWAY_3CX_SECRET=credentials.secret + "x")
    Client().post(hook, payload, "application/json", HTTP_AUTHORIZATION=f"Bearer {credentials.api_key}")

    output = captured_logs.getvalue()
    lines = output.count("\n")
    assert lines > 50, "the flow should have logged something"
    leaks = {name: value for name, value in secrets.items() if value and value in output}
    for phone in (RECIPIENT, SENDER, THREECX_CUSTOMER):
        for form in (phone, phone[1:]):
            if form in output:
                leaks[f"phone {phone}"] = form
    TALLY["logs: lines searched"] += lines
    TALLY["logs: secrets and numbers searched for"] += len(secrets) + 6
    TALLY["logs: leaks"] += len(leaks)
    assert leaks == {}, f"leaked into logs: {sorted(leaks)}"


def test_callback_tokens_never_reach_a_log_line_even_from_djangos_request_logger(owner_alice, caplog, monkeypatch):
    """caplog's handler has no filter of ours: the redaction must already be on the ``django.request`` logger."""
    from whatsapp_gateway.providers import views as provider_views

    instance = make_instance(owner_alice.account, name="log-line", connected=True)
    token = instance.callback_token
    caplog.set_level(logging.INFO)
    client = Client(raise_request_exception=False)
    assert client.post("/providers/sandbox/callback/not-a-real-token-123", b"{}", "application/json").status_code == 401
    assert client.post(f"/providers/sandbox/callback/{token}", b"{}", "application/json").status_code == 401

    def broken(**kwargs):
        raise RuntimeError("provider code failed")

    monkeypatch.setattr(provider_views.services, "callback_receive", broken)
    assert client.post(f"/providers/sandbox/callback/{token}", b"{}", "application/json").status_code == 500
    text = caplog.text
    assert "Unauthorized: /providers/sandbox/callback/****" in text
    assert "Internal Server Error: /providers/sandbox/callback/****" in text
    assert token not in text and "not-a-real-token-123" not in text
    TALLY["logs: lines searched"] += len(text.splitlines())
    TALLY["logs: secrets and numbers searched for"] += 2
