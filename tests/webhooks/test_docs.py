"""/docs/webhooks is generated from the catalogue, and its verification samples work on real deliveries."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from whatsapp_gateway.webhooks import docs
from whatsapp_gateway.webhooks.catalogue import COMMON_FIELDS, EVENT_TYPES, GROUPS, build_payload
from whatsapp_gateway.webhooks.endpoints import endpoint_rotate_secret
from whatsapp_gateway.webhooks.models import Delivery
from whatsapp_gateway.webhooks.outbox import event_emit
from whatsapp_gateway.webhooks.worker import endpoint_deliver_due


def test_the_catalogue_has_the_16_contract_events_each_with_fields_and_an_example():
    names = [e.name for e in EVENT_TYPES]
    assert len(names) == len(set(names)) == 16
    for spec in EVENT_TYPES:
        assert spec.group in GROUPS
        example = spec.example
        assert example["event"] == spec.name
        declared = [f.name for f in COMMON_FIELDS] + [f.name for f in spec.fields if f.name in example]
        assert list(example) == declared, spec.name
        assert set(spec.example_data) <= {f.name for f in spec.fields}, spec.name


def test_build_payload_fills_missing_fields_with_null_and_keeps_extras():
    import datetime as dt

    payload = build_payload(
        event_type="instance.qr_updated",
        event_id="evt_x",
        occurred_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        instance_id="inst_x",
        instance_name="x",
        data={"qr": "2@abc", "qr_expires_at": dt.datetime(2026, 1, 1, 0, 0, 20, tzinfo=dt.UTC), "extra": 1},
    )
    assert payload["qr_expires_at"] == "2026-01-01T00:00:20Z"
    assert payload["state"] is None
    assert payload["extra"] == 1


def test_the_docs_page_shows_every_event_its_fields_and_example(client):
    html = client.get("/docs/webhooks").content.decode()
    for spec in EVENT_TYPES:
        assert f'id="event-{spec.name}"' in html
        for f in spec.fields:
            assert f"<code>{f.name}</code>" in html
    for needle in (
        "X-WhatsApp-Gateway-Signature",
        "webhook-signature",
        "24 hours",
        "Retry-After",
        "410 Gone",
        "169.254.0.0/16",
        "Python",
        "Node.js",
        "PHP",
        "14 h",
        "75 h 35 min",
    ):
        assert needle in html, needle


def deliver_one(endpoint, instance, httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    event = event_emit(
        account=instance.account, instance=instance, event_type="message.received", data={"message_text": "Hi"}
    )
    endpoint_deliver_due(endpoint_id=endpoint.pk)
    assert Delivery.objects.get(event=event).state == "sent"
    request, _ = httpserver.log[-1]
    return request.get_data(), dict(request.headers)


def load_python_sample(monkeypatch, secret: str) -> dict:
    monkeypatch.setenv("WEBHOOK_SECRET", secret)
    namespace: dict = {}
    exec(compile(docs.PYTHON_SAMPLE, "docs-sample.py", "exec"), namespace)  # noqa: S102 - our own docs sample
    return namespace


def test_the_python_sample_verifies_a_real_delivery_with_both_schemes(
    monkeypatch, alice_endpoint, alice_sandbox_instance, httpserver
):
    body, headers = deliver_one(alice_endpoint, alice_sandbox_instance, httpserver)
    sample = load_python_sample(monkeypatch, alice_endpoint.plain_secret)
    assert sample["verify_standard"](body, headers)["event"] == "message.received"
    assert sample["verify_seed"](body, headers) is True
    assert sample["verify_seed"](body.replace(b"Hi", b"Ho"), headers) is False
    wrong = load_python_sample(monkeypatch, "whsec_" + "A" * 44)
    assert wrong["verify_seed"](body, headers) is False
    with pytest.raises(wrong["WebhookVerificationError"]):
        wrong["verify_standard"](body, headers)


def test_the_python_sample_accepts_both_secrets_during_a_rotation(
    monkeypatch, alice_endpoint, alice_sandbox_instance, httpserver
):
    old_secret = alice_endpoint.plain_secret
    endpoint, new_secret = endpoint_rotate_secret(endpoint=alice_endpoint)
    body, headers = deliver_one(endpoint, alice_sandbox_instance, httpserver)
    assert len(headers["Webhook-Signature"].split(" ")) == 2
    assert len(headers["X-Whatsapp-Gateway-Signature"].split(",")) == 2
    for secret in (old_secret, new_secret):
        sample = load_python_sample(monkeypatch, secret)
        assert sample["verify_seed"](body, headers)
        sample["verify_standard"](body, headers)


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_the_node_sample_verifies_a_real_delivery(tmp_path, alice_endpoint, alice_sandbox_instance, httpserver):
    body, headers = deliver_one(alice_endpoint, alice_sandbox_instance, httpserver)
    (tmp_path / "verify.js").write_text(docs.NODE_SAMPLE)
    (tmp_path / "body.bin").write_bytes(body)
    (tmp_path / "headers.json").write_text(json.dumps({k.lower(): v for k, v in headers.items()}))
    script = (
        "const fs = require('fs'); const v = require('./verify.js');"
        "const body = fs.readFileSync('body.bin'); const h = JSON.parse(fs.readFileSync('headers.json'));"
        "const bad = Buffer.concat([body, Buffer.from(' ')]);"
        "console.log(JSON.stringify([v.verifyStandard(body, h), v.verifySeed(body, h),"
        " v.verifyStandard(bad, h), v.verifySeed(bad, h)]));"
    )
    result = subprocess.run(
        ["node", "-e", script],
        cwd=tmp_path,
        env={"WEBHOOK_SECRET": alice_endpoint.plain_secret, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert json.loads(result.stdout) == [True, True, False, False]


def test_openapi_describes_every_webhook_event_and_the_signatures(client):
    schema = client.get("/openapi.json").json()
    assert set(schema["webhooks"]) == {e.name for e in EVENT_TYPES}
    received = schema["webhooks"]["message.received"]["post"]
    assert "X-WhatsApp-Gateway-Signature" in received["description"]
    assert {p["name"] for p in received["parameters"]} >= {"webhook-id", "webhook-signature"}
    component = schema["components"]["schemas"]["WebhookEvent_message_received"]
    assert component["properties"]["event_id"]["type"] == "string"
    assert "metadata" not in component["required"]
    assert component["examples"][0]["event"] == "message.received"
