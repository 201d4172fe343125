"""POST /providers/{provider}/callback/{token}: authentication, caps, storage, processing, deduplication."""

from __future__ import annotations

import json

import pytest
import time_machine

from tests.factories import make_instance
from whatsapp_gateway.instances.services import instance_delete
from whatsapp_gateway.providers import dispatch
from whatsapp_gateway.providers.base import InboundMessage
from whatsapp_gateway.providers.models import (
    CallbackRejection,
    CallbackStatus,
    ProcessedProviderEvent,
    ProviderCallback,
)
from whatsapp_gateway.providers.sandbox.adapter import SandboxProvider
from whatsapp_gateway.providers.sandbox.server import callback_body, signed_headers
from whatsapp_gateway.providers.services import callback_process, callbacks_sweep


@pytest.fixture
def instance(owner_alice):
    return make_instance(owner_alice.account, connected=True)


@pytest.fixture
def inbound_seen():
    """Records InboundMessage events dispatched (stands in for the inbound app's handler)."""
    seen: list[InboundMessage] = []

    def handler(instance, event):
        seen.append(event)

    dispatch.register(InboundMessage, handler)
    yield seen
    dispatch._HANDLERS[InboundMessage].remove(handler)


def _url(instance, token=None, provider="sandbox") -> str:
    return f"/providers/{provider}/callback/{token or instance.callback_token}"


def _message_body(message_id="MSG1", text="Hello") -> bytes:
    return callback_body(
        "message", {"id": message_id, "from": "12025550142@s.whatsapp.net", "type": "text", "text": text}
    )


def _post(client, instance, body: bytes, *, headers=None, token=None, provider="sandbox"):
    hdrs = signed_headers(instance, body) if headers is None else headers
    hdrs = {k: v for k, v in hdrs.items() if k != "content-type"}
    return client.post(_url(instance, token, provider), data=body, content_type="application/json", headers=hdrs)


def _rejections(reason: str) -> int:
    return sum(CallbackRejection.objects.filter(reason=reason).values_list("count", flat=True))


def test_a_signed_callback_is_stored_answered_200_and_processed(
    client, instance, inbound_seen, django_capture_on_commit_callbacks
):
    body = _message_body()
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, instance, body)

    assert response.status_code == 200
    assert response.json()["success"] is True
    callback = ProviderCallback.objects.get(instance=instance, body__contains="MSG1")
    assert callback.status == CallbackStatus.PROCESSED
    assert callback.events_count == 1
    assert "x-sandbox-signature" in callback.headers
    assert [e.text for e in inbound_seen] == ["Hello"]
    assert inbound_seen[0].sender_phone == "+12025550142"


def test_the_answer_does_not_wait_for_processing(client, instance, inbound_seen):
    # Without running on-commit callbacks the job never runs: the route only stores and answers.
    response = _post(client, instance, _message_body())

    assert response.status_code == 200
    assert ProviderCallback.objects.get(body__contains="MSG1").status == "pending"
    assert inbound_seen == []


def test_a_wrong_token_is_refused_with_401_and_nothing_is_stored(client, instance):
    response = _post(client, instance, _message_body(), token="not-the-token")

    assert response.status_code == 401
    assert response.json() == {
        "success": False,
        "error": "invalid_callback",
        "message": "Invalid provider callback.",
        "details": {},
    }
    assert not ProviderCallback.objects.filter(body__contains="MSG1").exists()
    assert _rejections("unknown_token") == 1


def test_a_token_of_another_provider_is_refused(client, instance):
    response = _post(client, instance, _message_body(), provider="waha")
    assert response.status_code in (401, 404)
    assert not ProviderCallback.objects.filter(body__contains="MSG1").exists()


def test_an_unknown_provider_is_404_invalid_callback(client, instance):
    response = _post(client, instance, _message_body(), provider="nope")
    assert response.status_code == 404
    assert response.json()["error"] == "invalid_callback"
    assert _rejections("unknown_provider") == 1


def test_a_deleted_instance_token_stops_working(client, instance):
    token = instance.callback_token
    instance_delete(instance=instance)
    response = _post(client, instance, _message_body(), token=token)
    assert response.status_code == 401


def test_a_bad_signature_is_refused(client, instance):
    body = _message_body()
    headers = signed_headers(instance, body)
    headers["x-sandbox-signature"] = "sha256=" + "0" * 64
    response = _post(client, instance, body, headers=headers)

    assert response.status_code == 401
    assert not ProviderCallback.objects.filter(body__contains="MSG1").exists()
    assert _rejections("bad_signature") == 1


def test_a_missing_signature_is_refused(client, instance):
    response = _post(client, instance, _message_body(), headers={})
    assert response.status_code == 401
    assert _rejections("missing_signature") == 1


def test_a_replayed_old_callback_is_refused(client, instance):
    with time_machine.travel("2026-11-24 10:00:00Z", tick=False):
        body = _message_body()
        headers = signed_headers(instance, body)
    with time_machine.travel("2026-11-24 10:10:00Z", tick=False):
        response = _post(client, instance, body, headers=headers)

    assert response.status_code == 401
    assert not ProviderCallback.objects.filter(body__contains="MSG1").exists()
    assert _rejections("stale_timestamp") == 1


def test_an_oversized_body_is_refused_with_413_and_not_stored(client, instance, settings):
    settings.GATEWAY_CALLBACK_MAX_BYTES = 1024
    body = _message_body(text="x" * 2000)
    response = _post(client, instance, body)

    assert response.status_code == 413
    assert response.json()["error"] == "invalid_callback"
    assert response.json()["details"] == {"reason": "too_large"}
    assert not ProviderCallback.objects.filter(body__contains="MSG1").exists()
    assert _rejections("too_large") == 1


def test_the_default_cap_is_256_kb(client, instance):
    body = _message_body(text="x" * (256 * 1024))
    response = _post(client, instance, body)
    assert response.status_code == 413


@pytest.mark.parametrize("body", [b"not json", b'{"open": ', b"\xff\xfe\x00", b""])
def test_a_malformed_body_is_refused_with_400_and_nothing_is_stored(client, instance, body):
    before = ProviderCallback.objects.count()
    response = _post(client, instance, body)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_callback"
    assert ProviderCallback.objects.count() == before
    assert _rejections("malformed_json") == 1


def test_get_without_a_handshake_is_refused_and_other_methods_are_405(client, instance):
    assert client.get(_url(instance)).status_code == 405
    assert client.get(_url(instance, token="wrong")).status_code == 401
    assert client.put(_url(instance)).status_code == 405


def test_the_same_body_twice_is_stored_once_and_processed_once(
    client, instance, inbound_seen, django_capture_on_commit_callbacks
):
    body = _message_body("DUP1")
    headers = signed_headers(instance, body)
    with django_capture_on_commit_callbacks(execute=True):
        first = _post(client, instance, body, headers=headers)
        second = _post(client, instance, body, headers=headers)

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json() == {"success": True, "duplicate": True}
    assert ProviderCallback.objects.filter(body__contains="DUP1").count() == 1
    assert len(inbound_seen) == 1


def test_the_same_provider_event_in_two_callbacks_is_dispatched_once(
    client, instance, inbound_seen, django_capture_on_commit_callbacks
):
    # A provider retry with a new envelope (different event id) but the same message id.
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, instance, _message_body("SAME"))
        _post(client, instance, _message_body("SAME"))

    callbacks = ProviderCallback.objects.filter(body__contains="SAME").order_by("id")
    assert callbacks.count() == 2
    assert [c.duplicates_count for c in callbacks] == [0, 1]
    assert len(inbound_seen) == 1
    assert ProcessedProviderEvent.objects.filter(instance=instance, dedup_key="msg:SAME").count() == 1


def test_processing_twice_is_a_no_op(client, instance, inbound_seen):
    _post(client, instance, _message_body("TWICE"))
    callback = ProviderCallback.objects.get(body__contains="TWICE")

    assert callback_process(callback_id=callback.pk) == 1
    assert callback_process(callback_id=callback.pk) == 0
    assert len(inbound_seen) == 1


def test_a_failing_handler_rolls_back_and_the_callback_is_retried_later(client, instance):
    calls = []

    def broken(instance, event):
        calls.append(event)
        raise RuntimeError("handler bug")

    dispatch.register(InboundMessage, broken)
    try:
        _post(client, instance, _message_body("BROKEN"))
        callback = ProviderCallback.objects.get(body__contains="BROKEN")
        assert callback_process(callback_id=callback.pk) == 0
    finally:
        dispatch._HANDLERS[InboundMessage].remove(broken)

    callback.refresh_from_db()
    assert callback.status == CallbackStatus.PENDING
    assert callback.attempts == 1
    assert "handler bug" in callback.last_error
    assert callback.next_attempt_at is not None
    assert not ProcessedProviderEvent.objects.filter(dedup_key="msg:BROKEN").exists()  # rolled back with it

    # Once the handler is fixed, the sweeper's retry processes it.
    with time_machine.travel(callback.next_attempt_at, tick=False):
        assert callbacks_sweep() >= 1
    callback.refresh_from_db()
    assert callback.status == CallbackStatus.PROCESSED
    assert len(calls) == 1


def test_the_sweeper_picks_up_a_callback_whose_job_was_lost(client, instance, inbound_seen):
    with time_machine.travel("2026-11-24 10:00:00Z", tick=False):
        _post(client, instance, _message_body("LOST"))  # on-commit never ran: the job is "lost"
        assert callbacks_sweep() == 0  # too fresh: its job may still be on its way
    with time_machine.travel("2026-11-24 10:02:00Z", tick=False):
        assert callbacks_sweep() == 1

    assert ProviderCallback.objects.get(body__contains="LOST").status == CallbackStatus.PROCESSED
    assert len(inbound_seen) == 1


def test_odd_json_never_breaks_the_parser(client, instance):
    provider = SandboxProvider()
    odd = [
        b"[]",
        b"1",
        b"null",
        b'{"sandbox": "v1"}',
        b'{"sandbox": "v1", "type": "message", "data": []}',
        b'{"sandbox": "v1", "type": "status", "data": {"status": 5}}',
        b'{"sandbox": "v1", "type": "unknown", "data": {}}',
        json.dumps({"sandbox": "v1", "type": "call", "data": {"from": 1, "is_video": "yes"}}).encode(),
        json.dumps({"sandbox": "v1", "type": "group", "data": {"participants": "x"}, "timestamp": 1e30}).encode(),
    ]
    for body in odd:
        provider.parse_callback(instance, headers={}, body=body)  # never raises
