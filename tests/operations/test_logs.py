"""Structured logs: redaction of secrets and phone numbers, JSON fields, request ids."""

from __future__ import annotations

import json
import logging

import pytest

from whatsapp_gateway.lib.logs import JsonFormatter, PlainFormatter, RedactingFilter, log_context, redact


@pytest.mark.parametrize(
    ("raw", "secret", "shown"),
    [
        ("key wg_live_AbC123xyz_-987 used", "AbC123xyz_-987", "wg_live_****"),
        ("secret whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ= set", "c2VjcmV0", "whsec_****"),
        ("Authorization: Bearer eyJhbGciOi.abc.def", "eyJhbGciOi", "Authorization: ****"),
        ("calling with bearer eyJhbGciOi.abc.def", "eyJhbGciOi", "bearer ****"),
        ('{"password": "hunter2-hunter2"}', "hunter2", '"password": "****'),
        ("login password=s3cr3t-pass&user=x", "s3cr3t", "password=****"),
        ("callback ?token=abcdef123456", "abcdef123456", "token=****"),
        ("to +966512344321 ok", "+966512344321", "+9665****4321"),
        ("jid 966512344321@s.whatsapp.net", "966512344321@", "9665****4321@s.whatsapp.net"),
        ("bare 966512344321 digits", "966512344321", "9665****4321"),
        ("ciphertext gAAAAABmZ3Rva2VuLXRva2VuLXRva2Vu", "Rva2VuLXRva2Vu", "gAAAAA****"),
    ],
)
def test_it_masks_secrets_and_phone_numbers(raw, secret, shown):
    text = redact(raw)
    assert secret not in text
    assert shown in text


def test_it_keeps_ordinary_numbers_and_ids_readable():
    text = redact("inst_abc123 took 1763970000 s, log_id 123, status 200, msg_4729384729384")
    assert text == "inst_abc123 took 1763970000 s, log_id 123, status 200, msg_4729384729384"


def _record(msg, *args, **extra):
    record = logging.LogRecord("whatsapp_gateway.test", logging.INFO, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return record


def test_the_filter_redacts_format_arguments_too():
    record = _record("sent to %s with %s", "+966512344321", "wg_live_secretsecret")
    RedactingFilter().filter(record)
    assert record.getMessage() == "sent to +9665****4321 with wg_live_****"


def test_json_lines_carry_level_logger_context_and_extra_fields_redacted():
    with log_context(account_id="acc_1", instance_id="inst_2"):
        line = JsonFormatter().format(_record("hello %s", "+966512344321", phone="+966512344321", count=3))
    body = json.loads(line)
    assert body["level"] == "INFO"
    assert body["logger"] == "whatsapp_gateway.test"
    assert body["message"] == "hello +9665****4321"
    assert body["account_id"] == "acc_1" and body["instance_id"] == "inst_2"
    assert body["phone"] == "+9665****4321"
    assert body["count"] == 3


def test_tracebacks_are_redacted():
    try:
        raise ValueError("bad key wg_live_abcdefabcdef for +966512344321")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    for formatter in (JsonFormatter(), PlainFormatter()):
        text = formatter.format(record)
        assert "wg_live_abcdefabcdef" not in text
        assert "+966512344321" not in text


def test_a_request_gets_an_id_and_keeps_a_valid_incoming_one(client, db):
    response = client.get("/healthz")
    assert len(response["X-Request-ID"]) == 32
    response = client.get("/healthz", HTTP_X_REQUEST_ID="trace-abc.123")
    assert response["X-Request-ID"] == "trace-abc.123"
    response = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert response["X-Request-ID"] != "bad id\nwith newline"


def test_the_access_log_names_the_route_pattern_request_id_and_account(alice_client, caplog):
    caplog.set_level(logging.INFO, logger="whatsapp_gateway.access")
    handler = logging.StreamHandler()
    lines: list[str] = []
    handler.emit = lambda record: lines.append(JsonFormatter().format(record))  # type: ignore[method-assign]
    logging.getLogger("whatsapp_gateway.access").addHandler(handler)
    try:
        response = alice_client.get("/instances", HTTP_X_REQUEST_ID="req-42")
    finally:
        logging.getLogger("whatsapp_gateway.access").removeHandler(handler)
    assert response.status_code == 200
    body = json.loads(lines[-1])
    assert body["request_id"] == "req-42"
    assert body["route"] == "/instances"
    assert body["status"] == 200
    assert body["account_id"].startswith("acc_")


def test_a_background_job_logs_its_instance_and_account(owner_alice, alice_fake_instance, fake_provider, monkeypatch):
    """A provider error inside a worker's send job names the job, the instance and the account (not a phone)."""
    from whatsapp_gateway.messaging import queue
    from whatsapp_gateway.messaging.services import send_message

    send_message(
        account=owner_alice.account,
        instance_ref=alice_fake_instance,
        phone="+966501234567",
        text="Your order has shipped.",
        purpose="transactional",
        source="api",
    )

    def broken(self, instance, *, to, text, typing_ms=0):
        raise RuntimeError(f"adapter bug while sending to {to}")

    monkeypatch.setattr(type(fake_provider), "send_text", broken)
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(JsonFormatter().format(record))  # type: ignore[method-assign]
    logger = logging.getLogger("whatsapp_gateway.messaging.queue")
    logger.addHandler(handler)
    try:
        queue.lane_job_enqueue(alice_fake_instance.pk)  # the send's job; it runs inline here (Huey immediate mode)
    finally:
        logger.removeHandler(handler)
    body = json.loads(next(line for line in lines if "raised while sending" in line))
    assert body["job"] == "send_lane_run" and body["job_id"]
    assert body["instance_id"] == alice_fake_instance.public_id
    assert body["account_id"] == owner_alice.account.public_id
    assert "+966501234567" not in json.dumps(body)


def test_a_webhook_delivery_job_logs_its_endpoint_instance_and_account(owner_alice, alice_fake_instance, settings):
    from whatsapp_gateway.operations.tasks_hooks import _subject_fields
    from whatsapp_gateway.webhooks.endpoints import endpoint_create

    settings.GATEWAY_ALLOW_PRIVATE_WEBHOOKS = True
    endpoint, _ = endpoint_create(
        account=owner_alice.account,
        instance=alice_fake_instance,
        url="http://127.0.0.1:9/hook",
        events=["message.sent"],
    )
    job = type("webhook_deliver", (), {"name": "webhook_deliver", "data": ((endpoint.pk,), {})})()
    assert _subject_fields(job) == {
        "account_id": owner_alice.account.public_id,
        "instance_id": alice_fake_instance.public_id,
        "endpoint_id": endpoint.public_id,
    }
    gone = type("webhook_deliver", (), {"name": "webhook_deliver", "data": ((10**9,), {})})()
    assert _subject_fields(gone) == {}


def test_the_send_api_access_line_names_the_instance_from_the_body(alice_api, alice_fake_instance, owner_alice):
    from tests.messaging.conftest import body

    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(JsonFormatter().format(record))  # type: ignore[method-assign]
    access = logging.getLogger("whatsapp_gateway.access")
    access.addHandler(handler)
    try:
        accepted = alice_api.send(body())
        blocked = alice_api.send(body(message_purpose="marketing"))
        unknown = alice_api.send(body(instance_id="no-such-line"))
    finally:
        access.removeHandler(handler)
    assert (accepted.status_code, blocked.status_code, unknown.status_code) == (202, 422, 404)
    first, second, third = (json.loads(line) for line in lines[-3:])
    for line in (first, second):
        assert line["route"] == "/api/send-message"
        assert line["instance_id"] == alice_fake_instance.public_id
        assert line["account_id"] == owner_alice.account.public_id
    assert "instance_id" not in third  # an id that resolved to nothing is not echoed into the logs
