"""The Python client's pieces without a server: the error classes match the gateway's codes, the event models
match the webhook catalogue, signatures made by the gateway's own signing code verify, and the retry policy
(on an httpx mock transport)."""

from __future__ import annotations

import dataclasses
import email.utils
import json
import time

import httpx
import pytest

import whatsapp_gateway_client as wgc
from whatsapp_gateway.lib.errors import ErrorCode
from whatsapp_gateway.lib.signing import secret_generate, signature_headers
from whatsapp_gateway.webhooks.catalogue import EVENT_TYPES, TEST_EVENT
from whatsapp_gateway_client._client import _Core, parse_retry_after


def test_one_exception_class_per_gateway_error_code() -> None:
    assert set(wgc.ERROR_CLASSES) == {str(code) for code in ErrorCode}
    for code, cls in wgc.ERROR_CLASSES.items():
        assert issubclass(cls, wgc.GatewayError) and cls.code == code
        error = wgc.errors.error_from_response(418, {"error": code, "message": "m", "details": {"x": 1}}, {}, 5.0)
        assert type(error) is cls and (error.status, error.message, error.details, error.retry_after) == (
            418,
            "m",
            {"x": 1},
            5.0,
        )
    assert len(set(wgc.ERROR_CLASSES.values())) == len(wgc.ERROR_CLASSES)


def test_unknown_codes_and_foreign_bodies_still_raise_gateway_error() -> None:
    future = wgc.errors.error_from_response(409, {"error": "brand_new_code", "message": "New."}, {}, None)
    assert type(future) is wgc.GatewayError and future.code == "brand_new_code" and future.status == 409
    proxy = wgc.errors.error_from_response(502, "<html>Bad gateway</html>", {}, None)
    assert proxy.code == "http_error" and "Bad gateway" in proxy.message
    assert wgc.GatewayError.code == "unknown_error"  # an unknown code never leaks onto the class


def _declared(cls: type) -> set[str]:
    names = {f.name for f in dataclasses.fields(cls)} - {"extra", "raw"}
    return {"from" if n == "from_" else n for n in names}


@pytest.mark.parametrize("spec", EVENT_TYPES, ids=lambda spec: spec.name)
def test_a_typed_model_for_every_catalogue_event(spec) -> None:
    cls = wgc.EVENT_CLASSES[spec.name]
    common = {"event", "event_id", "occurred_at", "instance_id", "instance_name"}
    assert _declared(cls) == common | {f.name for f in spec.fields}
    event = wgc.parse_event(spec.example)
    assert type(event) is cls and event.extra == {} and event.raw == spec.example
    assert event.event == spec.name and event.occurred_at.isoformat() == "2026-11-24T10:00:00+00:00"


def test_sixteen_events_and_the_test_event() -> None:
    assert len(EVENT_TYPES) == 16
    assert set(wgc.EVENT_CLASSES) == {e.name for e in EVENT_TYPES} | {TEST_EVENT}


def test_unknown_fields_and_event_types_are_kept() -> None:
    body = {**EVENT_TYPES[0].example, "sentiment": "happy"}
    event = wgc.parse_event(body)
    assert event.extra == {"sentiment": "happy"} and event.raw["sentiment"] == "happy"
    future = wgc.parse_event({"event": "payment.received", "event_id": "evt_1", "occurred_at": None, "amount": 5})
    assert type(future) is wgc.UnknownEvent and future.extra == {"amount": 5}
    sparse = wgc.parse_event({"event": "message.read", "event_id": "evt_2", "occurred_at": "2026-11-24T10:00:00Z"})
    assert sparse.message_id is None and sparse.previous_status is None


def test_signatures_from_the_gateways_signing_code_verify() -> None:
    old, new = secret_generate(), secret_generate()
    body = json.dumps(EVENT_TYPES[1].example).encode()
    now = int(time.time())
    single = signature_headers([old], msg_id="evt_1", timestamp=now, body=body)
    rotating = signature_headers([new, old], msg_id="evt_1", timestamp=now, body=body)
    for scheme in ("standard", "gateway"):
        assert wgc.verify_signature(body, single, old, scheme=scheme) == scheme
        for secrets in ([new], [old], [old, new]):
            assert wgc.verify_signature(body, rotating, secrets, scheme=scheme) == scheme
        with pytest.raises(wgc.InvalidSignature):
            wgc.verify_signature(body, single, new, scheme=scheme)
    upper = {k.upper(): v for k, v in single.items()}  # header names are matched whatever their case
    assert isinstance(wgc.verify_webhook(body.decode(), upper, old), wgc.MessageSent)
    with pytest.raises(ValueError, match="secret"):
        wgc.verify_webhook(body, single, [])


def test_retry_after_and_backoff() -> None:
    assert parse_retry_after("7") == 7.0 and parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = email.utils.formatdate(time.time() + 120, usegmt=True)
    assert 100 < parse_retry_after(later) <= 120
    core = _Core("http://x", "k", max_retries=3, backoff_base=0.5, backoff_cap=8.0, max_retry_after=60)
    assert core.backoff(1, 3.0) == 3.0
    pauses = [core.backoff(attempt, None) for attempt in range(1, 12) for _ in range(20)]
    assert all(0 <= p <= 8.0 for p in pauses) and max(pauses) > 4.0  # capped, and it does grow
    assert len({round(p, 6) for p in pauses}) > 100  # jittered


class Recorded(wgc.Client):
    def _sleep(self, seconds: float) -> None:
        self.pauses = [*getattr(self, "pauses", []), seconds]


def _client(answers: list, **kwargs) -> tuple[Recorded, list[httpx.Request]]:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    http = httpx.Client(transport=httpx.MockTransport(handler))
    return Recorded("http://gw.test/", "wg_live_k", http_client=http, **kwargs), requests


def _error(status: int, code: str, **headers: str) -> httpx.Response:
    return httpx.Response(
        status, json={"success": False, "error": code, "message": code, "details": {}}, headers=headers
    )


ACCEPTED = httpx.Response(202, json={"success": True, "status": "queued", "message_id": "msg_1", "log_id": 9})


def test_transient_failures_are_retried_with_one_generated_key() -> None:
    client, requests = _client(
        [httpx.ConnectError("refused"), _error(500, "internal_error"), _error(409, "idempotency_in_progress"), ACCEPTED]
    )
    result = client.send_message("inst_1", "+12025550100", "Hi", "support")
    assert (result.message_id, result.log_id, result.status) == ("msg_1", 9, "queued")
    keys = {r.headers["Idempotency-Key"] for r in requests}
    assert len(requests) == 4 and keys == {result.idempotency_key}
    assert requests[0].headers["Authorization"] == "Bearer wg_live_k"
    assert requests[0].headers["User-Agent"].startswith("whatsapp-gateway-client/0.1.0 ")
    assert json.loads(requests[0].content) == {
        "instance_id": "inst_1",
        "phone": "+12025550100",
        "message": "Hi",
        "message_purpose": "support",
    }
    assert len(client.pauses) == 3


def test_send_template_body() -> None:
    client, requests = _client([ACCEPTED])
    client.send_template("inst_1", "+12025550100", "order_update", "en", "transactional", variables=("#7", 3))
    assert json.loads(requests[0].content) == {
        "instance_id": "inst_1",
        "phone": "+12025550100",
        "template": {"name": "order_update", "language": "en", "variables": ["#7", "3"]},
        "message_purpose": "transactional",
    }
    with pytest.raises(TypeError):
        client.send_template("inst_1", "+12025550100", "order_update", "en", "transactional", variables="#7")


def test_client_errors_are_not_retried_and_long_waits_are_not_slept() -> None:
    client, requests = _client([_error(422, "validation_error")])
    with pytest.raises(wgc.ValidationError):
        client.send_message("inst_1", "1", "Hi", "support", idempotency_key="mine")
    assert len(requests) == 1 and requests[0].headers["Idempotency-Key"] == "mine"
    client, requests = _client([_error(429, "daily_limit_reached", **{"Retry-After": "3600"})])
    with pytest.raises(wgc.DailyLimitReached) as caught:
        client.send_message("inst_1", "+12025550100", "Hi", "support")
    assert caught.value.retry_after == 3600 and len(requests) == 1 and not hasattr(client, "pauses")


def test_connection_failures_after_the_last_retry() -> None:
    client, requests = _client([httpx.ReadTimeout("slow")] * 3, max_retries=2)
    with pytest.raises(wgc.ConnectionFailed) as caught:
        client.get_message("msg/1")
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout) and caught.value.status == 0
    assert [r.url.raw_path for r in requests] == [b"/api/messages/msg%2F1"] * 3
    with pytest.raises(ValueError):
        wgc.Client("http://gw.test", "")
