"""Fuzzing every callback parser with hypothesis.

Properties: arbitrary JSON (fully random, and shaped like each provider's envelope with real field names and event
names) never raises out of ``parse_callback`` and always yields normalised events; a body that is not JSON is
refused with ``CallbackRejected`` (400) and nothing else; an unknown event is ignored and counted.

The parsers keep a last-resort ``except`` that logs "could not be parsed" and drops the callback; here that net
counts as a failure (``no_safety_net``), so the property is that the handlers themselves are total, not merely that
the net catches what they throw.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.factories import make_instance
from tests.providers.fakes.waha import WahaSession
from tests.providers.helpers import IgnoredCounter
from whatsapp_gateway.providers.base import CallbackRejected, NormalisedEvent
from whatsapp_gateway.providers.cloud import callbacks as cloud
from whatsapp_gateway.providers.evolution import callbacks as evolution
from whatsapp_gateway.providers.registry import get_provider
from whatsapp_gateway.providers.waha import callbacks as waha

pytestmark = pytest.mark.django_db
FUZZ = settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

# Field names that occur in real payloads, so generated objects reach deep into the parsers.
FIELDS = [
    "event",
    "instance",
    "data",
    "date_time",
    "sender",
    "key",
    "remoteJid",
    "remoteJidAlt",
    "senderPn",
    "fromMe",
    "id",
    "participant",
    "participantAlt",
    "message",
    "messageType",
    "messageTimestamp",
    "pushName",
    "status",
    "conversation",
    "extendedTextMessage",
    "text",
    "imageMessage",
    "caption",
    "mimetype",
    "documentMessage",
    "locationMessage",
    "reactionMessage",
    "contactMessage",
    "contactsArrayMessage",
    "ephemeralMessage",
    "keyId",
    "state",
    "statusReason",
    "wuid",
    "profileName",
    "qrcode",
    "code",
    "pairingCode",
    "isVideo",
    "date",
    "subject",
    "participants",
    "action",
    "unreadMessages",
    "low",
    "high",
    "session",
    "timestamp",
    "me",
    "payload",
    "from",
    "to",
    "body",
    "hasMedia",
    "media",
    "ack",
    "ackName",
    "_data",
    "group",
    "type",
    "archived",
    "location",
    "vCards",
    "object",
    "entry",
    "changes",
    "field",
    "value",
    "metadata",
    "phone_number_id",
    "messages",
    "statuses",
    "contacts",
    "profile",
    "wa_id",
    "recipient_id",
    "errors",
    "error_data",
    "context",
    "referral",
    "interactive",
]
EVENTS = {
    "evolution": [
        "messages.upsert",
        "messages.update",
        "send.message",
        "connection.update",
        "qrcode.updated",
        "call",
        "groups.upsert",
        "groups.update",
        "group-participants.update",
        "chats.update",
        "MESSAGES_UPSERT",
    ],
    "waha": [
        "message",
        "message.any",
        "message.ack",
        "session.status",
        "call.received",
        "call.accepted",
        "call.rejected",
        "group.v2.join",
        "group.v2.leave",
        "group.v2.participants",
        "group.v2.update",
        "chat.archive",
    ],
}
KNOWN_EVENTS = {name.lower().replace("_", ".") for names in EVENTS.values() for name in names}

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "5511988887777@s.whatsapp.net",
            "103899771998284@lid",
            "120363001234567890@g.us",
            "status@broadcast",
            "5511988887777@c.us",
            "true_5511988887777@c.us_3EB0",
            "open",
            "close",
            "connecting",
            "refused",
            "READ",
            "SERVER_ACK",
            "WORKING",
            "SCAN_QR_CODE",
            "FAILED",
            "offer",
            "timeout",
            "add",
            "join",
            "whatsapp_business_account",
            "messages",
            "text",
            "image",
            "failed",
            "acme-01",
            "106540352242922",
            "2025-10-01T12:00:00.000Z",
        ]
    )
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=40,
)


def envelopes(provider: str):
    if provider == "cloud":
        change = st.fixed_dictionaries(
            {"field": st.sampled_from(["messages", "account_update"]) | st.text(max_size=5), "value": json_values}
        )
        value_shaped = st.fixed_dictionaries(
            {
                "field": st.just("messages"),
                "value": st.fixed_dictionaries(
                    {"metadata": st.just({"phone_number_id": "106540352242922"})},
                    optional={"messages": json_values, "statuses": json_values, "contacts": json_values},
                ),
            }
        )
        return st.fixed_dictionaries(
            {
                "object": st.just("whatsapp_business_account"),
                "entry": st.lists(
                    st.fixed_dictionaries({"changes": st.lists(change | value_shaped, max_size=3)}), max_size=3
                ),
            }
        )
    event = st.sampled_from(EVENTS[provider])
    if provider == "evolution":
        return st.fixed_dictionaries({"event": event, "instance": st.just("acme-01"), "data": json_values})
    return st.fixed_dictionaries(
        {"event": event, "session": st.just("acme-01"), "payload": json_values, "me": json_values, "id": json_values}
    )


@pytest.fixture(autouse=True)
def no_safety_net(monkeypatch):
    """Fail when a parser falls back to its catch-all ``except`` (which would hide a handler bug as "malformed")."""
    for module in (evolution, waha, cloud):
        real = module.logger.warning

        def warning(message, *args, _real=real, _name=module.NAME, **kwargs):
            if "could not be parsed" in str(message):
                raise AssertionError(f"the {_name} parser raised and fell back to its safety net") from None
            _real(message, *args, **kwargs)

        monkeypatch.setattr(module.logger, "warning", warning)


@pytest.fixture
def instances(owner_alice, fake_waha):
    fake_waha.sessions["acme-01"] = WahaSession(name="acme-01", config={}, status="SCAN_QR_CODE")
    return {
        "evolution": make_instance(owner_alice.account, provider="evolution", provider_ref="acme-01", name="evo"),
        "waha": make_instance(owner_alice.account, provider="waha", provider_ref="acme-01", name="waha"),
        "cloud": make_instance(owner_alice.account, provider="cloud", provider_ref="106540352242922", name="cloud"),
    }


def parse_ok(instance, value) -> list[NormalisedEvent]:
    body = json.dumps(value).encode()
    events = get_provider(instance.provider).parse_callback(instance, headers={}, body=body)
    assert isinstance(events, list)
    assert all(isinstance(event, NormalisedEvent) for event in events)
    for event in events:
        assert event.dedup_key is None or isinstance(event.dedup_key, str)
    return events


@pytest.mark.parametrize("provider", ["evolution", "waha", "cloud"])
@FUZZ
@given(value=json_values)
def test_arbitrary_json_never_raises(instances, provider, value):
    parse_ok(instances[provider], value)


@pytest.mark.parametrize("provider", ["evolution", "waha", "cloud"])
@FUZZ
@given(data=st.data())
def test_provider_shaped_json_never_raises(instances, provider, data):
    parse_ok(instances[provider], data.draw(envelopes(provider)))


@pytest.mark.parametrize("provider", ["evolution", "waha", "cloud"])
@FUZZ
@given(body=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_a_body_that_is_not_json_is_only_ever_rejected(instances, provider, body):
    try:
        value = json.loads(body.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError is a ValueError too
        with pytest.raises(CallbackRejected) as caught:
            get_provider(provider).parse_callback(instances[provider], headers={}, body=body)
        assert caught.value.status == 400
    else:
        parse_ok(instances[provider], value)


@pytest.mark.parametrize("provider", ["evolution", "waha"])
@FUZZ
@given(event=st.text(max_size=30), data=json_values)
def test_unknown_events_are_ignored_and_counted(instances, provider, event, data):
    assume(event.strip().lower().replace("_", ".") not in KNOWN_EVENTS and event not in KNOWN_EVENTS)
    envelope = {"event": event, "instance": "acme-01", "session": "acme-01", "data": data, "payload": data}
    counter = IgnoredCounter(provider)
    assert parse_ok(instances[provider], envelope) == []
    assert counter.delta("unknown_event") == 1


@FUZZ
@given(field=st.text(max_size=20).filter(lambda f: f != "messages"), value=json_values)
def test_unknown_cloud_webhook_fields_are_ignored_and_counted(instances, field, value):
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": field, "value": value}]}],
    }
    counter = IgnoredCounter("cloud")
    assert parse_ok(instances["cloud"], body) == []
    assert counter.delta("unknown_event") == 1
