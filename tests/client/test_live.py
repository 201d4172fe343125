"""The Python client (clients/python) against a real gateway process started by the tests: sends, dry runs,
idempotent replays, the error classes, retries after Retry-After, a message reaching ``read``, and
``verify_webhook`` on deliveries the gateway really made (both schemes, stale, tampered, rotated secret)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
import uuid

import pytest

import whatsapp_gateway_client as wgc
from tests.client.conftest import WAIT_SECONDS, FaultProxy, LiveGateway

pytestmark = pytest.mark.slow

STANDARD_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
GATEWAY_HEADERS = ("x-whatsapp-gateway-timestamp", "x-whatsapp-gateway-signature")


class RecordingClient(wgc.Client):
    """Records the pauses between attempts (and really waits them)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.pauses: list[float] = []

    def _sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        super()._sleep(seconds)


def unique_phone() -> str:
    """A fresh recipient per test (the per-recipient limits are not what these tests are about)."""
    return f"+1202555{uuid.uuid4().int % 10000:04d}"


@pytest.fixture
def client(live_gateway: LiveGateway):
    with wgc.Client(live_gateway.url, live_gateway.setup["api_key"]) as c:
        yield c


def only(headers: dict[str, str], keep: tuple[str, ...]) -> dict[str, str]:
    """The delivery's headers minus the other scheme's signature headers."""
    drop = set(STANDARD_HEADERS + GATEWAY_HEADERS) - set(keep)
    return {k: v for k, v in headers.items() if k.lower() not in drop}


def test_send_then_get_message_reaches_read(client: wgc.Client, live_gateway: LiveGateway) -> None:
    result = client.send_message(
        live_gateway.setup["instance_id"], unique_phone(), "Your order #1042 has shipped.", "transactional"
    )
    assert result.status == "queued" and result.http_status == 202
    assert result.message_id.startswith("msg_") and result.log_id > 0
    assert not result.replayed and not result.dry_run and result.idempotency_key

    deadline = time.monotonic() + WAIT_SECONDS
    message = client.get_message(result.message_id)
    while message.status != "read" and time.monotonic() < deadline:
        time.sleep(0.2)
        message = client.get_message(result.message_id)
    assert message.status == "read"
    assert message.message_id == result.message_id and message.log_id == result.log_id
    assert message.read_at is not None and message.sent_at is not None
    assert [step.status for step in message.history][-3:] == ["sent", "delivered", "read"]


def test_dry_run_validates_without_sending(client: wgc.Client, live_gateway: LiveGateway) -> None:
    result = client.send_message(
        live_gateway.setup["instance_id"], unique_phone(), "Your code is 482913", "authentication", dry_run=True
    )
    assert (result.status, result.dry_run, result.http_status) == ("validated", True, 200)
    assert result.risk_score == 0 and result.reasons == [] and result.message_id is None


def test_idempotent_replay_returns_the_first_answer(client: wgc.Client, live_gateway: LiveGateway) -> None:
    key = f"order-{uuid.uuid4()}"
    args = (live_gateway.setup["instance_id"], unique_phone(), "Receipt for order #7.", "transactional")
    first = client.send_message(*args, idempotency_key=key)
    again = client.send_message(*args, idempotency_key=key)
    assert (first.replayed, again.replayed) == (False, True)
    assert again.message_id == first.message_id and again.idempotency_key == key
    with pytest.raises(wgc.IdempotencyKeyReused) as caught:
        client.send_message(args[0], args[1], "A different body.", "transactional", idempotency_key=key)
    assert caught.value.status == 422


def test_send_template_by_name(client: wgc.Client, live_gateway: LiveGateway) -> None:
    instance, phone = live_gateway.setup["instance_id"], unique_phone()
    check = client.send_template(
        instance, phone, "order_update", "en", "transactional", variables=["#1042", "Thursday"], dry_run=True
    )
    assert (check.status, check.dry_run) == ("validated", True)
    sent = client.send_template(instance, phone, "order_update", "en", "transactional", variables=["#1042", "Thursday"])
    assert sent.status == "queued" and sent.message_id.startswith("msg_")
    message = client.get_message(sent.message_id)
    assert message.template == wgc.TemplateRef(name="order_update", language="en", source="reviewed")
    with pytest.raises(wgc.ValidationError) as caught:
        client.send_template(instance, phone, "no_such_template", "en", "transactional", variables=["x"])
    assert caught.value.details["field"] == "template"


def test_error_classes_from_the_live_gateway(client: wgc.Client, live_gateway: LiveGateway) -> None:
    setup = live_gateway.setup
    instance = setup["instance_id"]

    def raised(call) -> wgc.GatewayError:
        with pytest.raises(wgc.GatewayError) as caught:
            call()
        return caught.value

    cases = {
        wgc.ValidationError: lambda: client.send_message(instance, "12", "Hello", "support"),
        wgc.MessagePurposeRequired: lambda: client.send_message(instance, unique_phone(), "Hello", ""),
        wgc.MessagePurposeNotAllowed: lambda: client.send_message(instance, unique_phone(), "Hello", "marketing"),
        wgc.InvalidInstance: lambda: client.send_message("inst_nope", unique_phone(), "Hello", "support"),
        wgc.InstanceNotConnected: lambda: client.send_message(
            setup["offline_instance_id"], unique_phone(), "Hello", "support"
        ),
        wgc.PayloadTooLarge: lambda: client.send_message(instance, unique_phone(), "x" * 70_000, "support"),
        wgc.NotFound: lambda: client.get_message("msg_doesnotexist"),
        wgc.PolicyViolation: lambda: client.send_message(
            instance,
            unique_phone(),
            "SALE! Buy now, discount coupon, limited time offer, best price: bit.ly/deal",
            "transactional",
        ),
    }
    for cls, call in cases.items():
        error = raised(call)
        assert type(error) is cls, (cls, error)
        assert error.code == cls.code and error.status >= 400 and error.message
    policy = raised(cases[wgc.PolicyViolation])
    assert policy.risk_score >= 80 and any(r.startswith("promotion: ") for r in policy.reasons)
    assert policy.details["action"] == "block"

    with wgc.Client(live_gateway.url, "wg_live_not_a_real_key_at_all_0000000000") as stranger:
        assert type(raised(lambda: stranger.get_message("msg_x"))) is wgc.InvalidApiKey
    with wgc.Client(live_gateway.url, setup["revoked_api_key"]) as revoked:
        assert type(raised(lambda: revoked.get_message("msg_x"))) is wgc.RevokedApiKey


def test_a_long_retry_after_is_handed_to_the_caller(live_gateway: LiveGateway) -> None:
    """The same text to the same recipient twice within ten minutes: 429 sending_throttled with a Retry-After of
    minutes, above max_retry_after, so the client raises at once with ``retry_after`` instead of sleeping."""
    with RecordingClient(live_gateway.url, live_gateway.setup["api_key"]) as client:
        args = (live_gateway.setup["instance_id"], unique_phone(), "Your table is ready.", "operational")
        client.send_message(*args)
        with pytest.raises(wgc.SendingThrottled) as caught:
            client.send_message(*args)
    assert caught.value.status == 429 and caught.value.reasons == ["duplicate_text"]
    assert 60 < caught.value.retry_after <= 600
    assert client.pauses == []


def test_429_then_503_then_a_dropped_connection_are_retried_with_one_key(
    live_gateway: LiveGateway, fault_proxy: FaultProxy
) -> None:
    throttled = {"success": False, "error": "sending_throttled", "message": "Slow down.", "details": {}}
    unavailable = {"success": False, "error": "service_unavailable", "message": "Try again.", "details": {}}
    fault_proxy.faults = [(429, {"Retry-After": "1"}, throttled), (503, {}, unavailable), None]
    with RecordingClient(fault_proxy.url, live_gateway.setup["api_key"], backoff_base=0.05) as client:
        result = client.send_message(
            live_gateway.setup["instance_id"], unique_phone(), "Your parcel is at the door.", "transactional"
        )
        assert result.status == "queued" and not result.replayed
        assert client.get_message(result.message_id).message_id == result.message_id
    sends = [seen for seen in fault_proxy.seen if seen[0] == "POST"]
    assert len(sends) == 4
    assert len({key for _, _, key in sends}) == 1  # the same Idempotency-Key on every attempt
    assert client.pauses[0] == 1.0  # Retry-After honoured
    assert all(0 <= pause <= 0.05 * 2**attempt for attempt, pause in enumerate(client.pauses[1:], start=1))


def test_retries_stop_after_max_retries(live_gateway: LiveGateway, fault_proxy: FaultProxy) -> None:
    unavailable = {"success": False, "error": "service_unavailable", "message": "Try again.", "details": {}}
    fault_proxy.faults = [(503, {"Retry-After": "0"}, unavailable)] * 3
    client = RecordingClient(fault_proxy.url, live_gateway.setup["api_key"], max_retries=2)
    with client, pytest.raises(wgc.ServiceUnavailable) as caught:
        client.get_message("msg_whatever")
    assert caught.value.retry_after == 0 and len(fault_proxy.seen) == 3 and len(client.pauses) == 2


def test_async_client_has_the_same_surface(live_gateway: LiveGateway) -> None:
    async def scenario() -> tuple[wgc.SendResult, wgc.Message, wgc.GatewayError]:
        async with wgc.AsyncClient(live_gateway.url, live_gateway.setup["api_key"]) as client:
            sent = await client.send_message(
                live_gateway.setup["instance_id"], unique_phone(), "Your booking is confirmed.", "transactional"
            )
            message = await client.get_message(sent.message_id)
            try:
                await client.send_message("inst_nope", unique_phone(), "Hello", "support")
            except wgc.GatewayError as exc:
                return sent, message, exc
        raise AssertionError("no error")

    # Its own thread: a browser test earlier in the same process may leave an event loop running in this one.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        sent, message, error = pool.submit(asyncio.run, scenario()).result()
    assert sent.status == "queued" and message.message_id == sent.message_id
    assert type(error) is wgc.InvalidInstance and error.status == 404


def test_verify_webhook_on_real_deliveries(client: wgc.Client, live_gateway: LiveGateway) -> None:
    setup, receiver = live_gateway.setup, live_gateway.receiver
    sent = client.send_message(setup["instance_id"], unique_phone(), "Your invoice is ready.", "transactional")
    [delivery] = receiver.wait_for(
        lambda d: d.event.get("message_id") == sent.message_id and d.event["event"] == "message.sent"
    )
    secret = setup["secret"]

    event = wgc.verify_webhook(delivery.body, delivery.headers, secret)
    assert isinstance(event, wgc.MessageSent)
    assert (event.message_id, event.status, event.instance_id) == (sent.message_id, "sent", setup["instance_id"])
    assert event.event_id == delivery.headers["webhook-id"] and event.occurred_at.tzinfo is not None

    # each scheme on its own
    standard = only(delivery.headers, STANDARD_HEADERS)
    ours = only(delivery.headers, GATEWAY_HEADERS)
    assert wgc.verify_signature(delivery.body, standard, secret) == "standard"
    assert wgc.verify_signature(delivery.body, ours, secret) == "gateway"
    # the official Standard Webhooks library agrees with the client's check
    from standardwebhooks.webhooks import Webhook

    assert Webhook(secret).verify(delivery.body, standard)["message_id"] == sent.message_id

    # tampered body, wrong secret, stale and future timestamps: rejected under both schemes
    tampered = delivery.body.replace(b'"sent"', b'"read"', 1)
    assert tampered != delivery.body
    timestamp = int(delivery.headers["webhook-timestamp"])
    for headers in (standard, ours):
        with pytest.raises(wgc.InvalidSignature):
            wgc.verify_webhook(tampered, headers, secret)
        with pytest.raises(wgc.InvalidSignature):
            wgc.verify_webhook(delivery.body, headers, "whsec_" + "A" * 43 + "=")
        with pytest.raises(wgc.InvalidSignature, match="300 s"):
            wgc.verify_webhook(delivery.body, headers, secret, now=timestamp + 301)
        with pytest.raises(wgc.InvalidSignature):
            wgc.verify_webhook(delivery.body, headers, secret, now=timestamp - 301)
        assert wgc.verify_webhook(delivery.body, headers, secret, now=timestamp + 299).event_id == event.event_id
    with pytest.raises(wgc.InvalidSignature):
        wgc.verify_webhook(delivery.body, only(delivery.headers, ()), secret)


def test_verify_webhook_across_a_secret_rotation(client: wgc.Client, live_gateway: LiveGateway) -> None:
    setup, receiver = live_gateway.setup, live_gateway.receiver
    old = setup["secret"]
    new = live_gateway.ctl("rotate", str(setup["endpoint_id"]))["secret"]
    setup["secret"] = new  # later tests verify with the current secret
    sent = client.send_message(setup["instance_id"], unique_phone(), "Your refund was issued.", "transactional")
    [delivery] = receiver.wait_for(
        lambda d: d.event.get("message_id") == sent.message_id and d.event["event"] == "message.sent"
    )
    assert len(delivery.headers["webhook-signature"].split()) == 2  # signed with both secrets during the overlap
    for keep in (STANDARD_HEADERS, GATEWAY_HEADERS):
        headers = only(delivery.headers, keep)
        for secrets in ([new], [old], [new, old], [old, new], new):
            assert wgc.verify_webhook(delivery.body, headers, secrets).event == "message.sent"
        with pytest.raises(wgc.InvalidSignature):
            wgc.verify_webhook(delivery.body, headers, ["whsec_" + "B" * 43 + "="])


def test_typed_events_from_the_simulated_phone(live_gateway: LiveGateway) -> None:
    setup, receiver = live_gateway.setup, live_gateway.receiver
    phone = unique_phone()
    statuses = live_gateway.ctl("simulate", setup["instance_id"], phone)["statuses"]
    assert set(statuses) == {200}
    expected = {
        "message.received": wgc.MessageReceived,
        "call.received": wgc.CallReceived,
        "call.missed": wgc.CallMissed,
        "group.message_received": wgc.GroupMessageReceived,
        "group.updated": wgc.GroupUpdated,
        "conversation.updated": wgc.ConversationUpdated,
        "recipient.opted_out": wgc.RecipientOptedOut,
    }
    mentions_phone = json.dumps(phone)[1:-1].encode()
    events = {}
    for name, cls in expected.items():
        [delivery, *_] = receiver.wait_for(lambda d, name=name: d.event["event"] == name and mentions_phone in d.body)
        events[name] = wgc.verify_webhook(delivery.body, delivery.headers, setup["secret"])
        assert type(events[name]) is cls and events[name].extra == {}, (name, events[name].extra)
    received = events["message.received"]
    assert (received.from_, received.message_text, received.from_name) == (phone, "Where is my order?", "Maria")
    assert events["recipient.opted_out"].phone == phone and events["call.missed"].from_ == phone
