"""Native event types and the checks that come before anything is sent."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.factories import make_instance
from tests.threecx.helpers import customer_wrote
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.threecx.models import IntegrationEvent
from whatsapp_gateway.threecx.services import did_mapping_add, integration_update
from whatsapp_gateway.webhooks.models import Event

CUSTOMER = "+966512345678"


def last_log(integration) -> IntegrationEvent:
    return IntegrationEvent.objects.filter(integration=integration).order_by("-id").first()


def error_of(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]


@pytest.mark.django_db
def test_inbound_reply_is_logged_and_sends_nothing(post_native, integration):
    response = post_native({"event_type": "inbound_reply", "from": CUSTOMER, "message": "thanks"})
    assert response.status_code == 200
    assert response.json() == {"success": True, "status": "logged", "event_type": "inbound_reply"}
    assert last_log(integration).decision == "logged"


@pytest.mark.django_db
@pytest.mark.parametrize(("event_type", "status"), [("call_started", "started"), ("queue_event", "queued")])
def test_logged_call_events_emit_call_received(post_native, integration, alice_threecx_instance, event_type, status):
    response = post_native({"event_type": event_type, "caller": CUSTOMER, "call_id": "c-1", "is_video": True})
    assert response.status_code == 200
    assert response.json()["status"] == "logged"
    event = Event.objects.get(event_type="call.received")
    assert event.instance == alice_threecx_instance
    assert {k: event.payload[k] for k in ("from", "call_id", "is_video", "status")} == {
        "from": CUSTOMER,
        "call_id": "c-1",
        "is_video": True,
        "status": status,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("event_type", "webhook_event", "status"),
    [
        ("missed_call", "call.missed", "missed"),
        ("voicemail", "call.missed", "voicemail"),
        ("after_hours", "call.missed", "after_hours"),
        ("queue_callback", "call.missed", "callback_requested"),
        ("call_ended", "call.received", "ended"),
    ],
)
def test_template_call_events_emit_their_customer_webhook_even_when_the_template_is_off(
    post_native, integration, event_type, webhook_event, status
):
    templates = {k: {**v, "enabled": False} for k, v in integration.templates.items()}
    integration_update(integration=integration, templates=templates)
    response = post_native({"event_type": event_type, "customer_phone": CUSTOMER})
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "status": "skipped",
        "reason": "template_disabled",
        "event_type": event_type,
    }
    event = Event.objects.get(event_type=webhook_event)
    assert event.payload["status"] == status and event.payload["from"] == CUSTOMER
    assert event.payload["call_id"].startswith("3cx_") and event.payload["is_video"] is False


@pytest.mark.django_db
def test_a_crm_report_of_a_missed_call_type_counts_as_missed_call(post_native, integration):
    response = post_native({"event_type": "call_ended", "call_type": "Notanswered", "caller": CUSTOMER})
    # missed_call's template is on by default; the caller never wrote, so strict mode refuses it.
    assert error_of(response) == (409, "conversation_window_closed")
    assert last_log(integration).event_type == "missed_call"
    assert Event.objects.filter(event_type="call.missed").count() == 1


@pytest.mark.django_db
def test_an_outbound_call_that_ended_gets_no_thank_you_template(post_native, integration):
    templates = {**integration.templates, "call_ended": {"enabled": True, "text": "Thanks for calling"}}
    integration_update(integration=integration, templates=templates)
    response = post_native({"event_type": "call_ended", "call_type": "Outbound", "caller": CUSTOMER})
    assert response.json()["reason"] == "outbound_call"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "event_type",
    ["missed_call", "call_started", "call_ended", "voicemail", "queue_event", "queue_callback", "after_hours"],
)
def test_call_events_are_refused_when_call_events_are_off(post_native, integration, event_type):
    integration_update(integration=integration, call_event_enabled=False)
    assert error_of(post_native({"event_type": event_type, "caller": CUSTOMER})) == (403, "call_events_disabled")
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_outbound_messages_are_refused_when_outbound_is_off_in_both_forms(post_native, post_generic, integration):
    integration_update(integration=integration, outbound_enabled=False)
    native = post_native({"event_type": "outbound_message", "to": CUSTOMER, "message_text": "hi"})
    generic = post_generic({"from": "+13052314933", "to": CUSTOMER, "text": "hi"})
    assert error_of(native) == (403, "outbound_disabled")
    assert error_of(generic) == (403, "outbound_disabled")


@pytest.mark.django_db
def test_test_and_inbound_reply_work_with_outbound_and_call_events_off(post_native, integration):
    integration_update(integration=integration, outbound_enabled=False, call_event_enabled=False)
    assert post_native({"event_type": "test"}).status_code == 200
    assert post_native({"event_type": "inbound_reply"}).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("event_type", ["outbound_message", "missed_call", "voicemail", "call_started"])
def test_a_missing_phone_gets_422_missing_phone(post_native, event_type):
    response = post_native({"event_type": event_type, "message_text": "hi", "to": ""})
    assert error_of(response) == (422, "missing_phone")


@pytest.mark.django_db
def test_a_missing_phone_on_the_generic_form_gets_422(post_generic):
    assert error_of(post_generic({"from": "+13052314933", "text": "hi"})) == (422, "missing_phone")


@pytest.mark.django_db
@pytest.mark.parametrize("payload", [{}, {"message_text": "   "}, {"message": ""}])
def test_a_missing_text_gets_422_missing_message_text(post_native, payload):
    response = post_native({"event_type": "outbound_message", "to": CUSTOMER, **payload})
    assert error_of(response) == (422, "missing_message_text")


@pytest.mark.django_db
def test_a_missing_text_on_the_generic_form_gets_422(post_generic):
    assert error_of(post_generic({"from": "+13052314933", "to": CUSTOMER})) == (422, "missing_message_text")


@pytest.mark.django_db
@pytest.mark.parametrize("alias", ["to", "from", "customer_phone", "caller", "phone"])
def test_every_phone_alias_is_understood(post_native, integration, alias):
    response = post_native({"event_type": "outbound_message", alias: CUSTOMER, "message_text": "hi"})
    # The alias was read (no missing_phone); the closed window is the next check.
    assert error_of(response) == (409, "conversation_window_closed")
    assert last_log(integration).phone_masked == "+9665****5678"


@pytest.mark.django_db
def test_an_invalid_phone_names_the_field(post_native):
    response = post_native({"event_type": "outbound_message", "caller": "12ab", "message_text": "hi"})
    assert error_of(response) == (422, "validation_error")
    assert response.json()["details"] == {"field": "caller"}


@pytest.mark.django_db
@pytest.mark.parametrize("event_type", [None, "", "sms", 7])
def test_an_unknown_event_type_is_a_validation_error(post_native, event_type):
    response = post_native({"event_type": event_type, "to": CUSTOMER})
    assert error_of(response) == (422, "validation_error")
    assert response.json()["details"] == {"field": "event_type"}


@pytest.mark.django_db
def test_purpose_unknown_is_not_allowed_for_3cx(post_native, alice_threecx_instance):
    customer_wrote(alice_threecx_instance, CUSTOMER)
    response = post_native(
        {"event_type": "outbound_message", "to": CUSTOMER, "message_text": "hi", "message_purpose": "unknown"}
    )
    assert error_of(response) == (422, "message_purpose_not_allowed")


@pytest.mark.django_db
def test_an_unknown_instance_id_is_404_invalid_instance(post_native, outsider_charlie):
    other = make_instance(
        outsider_charlie.account,
        name="charlie-line",
        provider="fake",
        connected=True,
        phone_number="+966500000009",
        paired_at=now(),
        state_changed_at=now(),
    )
    for ref in ("inst_nope", other.public_id, other.name):
        response = post_native(
            {"event_type": "outbound_message", "to": CUSTOMER, "message_text": "hi", "instance_id": ref}
        )
        assert error_of(response) == (404, "invalid_instance")


@pytest.mark.django_db
def test_an_unmapped_did_is_refused_once_dids_are_mapped(post_generic, integration, alice_threecx_instance):
    did_mapping_add(integration=integration, did="+13052314933", instance=alice_threecx_instance)
    response = post_generic({"from": "+13059999999", "to": CUSTOMER, "text": "hi"})
    assert error_of(response) == (404, "invalid_instance")


@pytest.mark.django_db
def test_the_window_is_closed_when_the_customer_never_wrote(post_native, post_generic):
    native = post_native({"event_type": "outbound_message", "to": CUSTOMER, "message_text": "hi"})
    generic = post_generic({"from": "+13052314933", "to": CUSTOMER, "text": "hi"})
    assert error_of(native) == (409, "conversation_window_closed")
    assert error_of(generic) == (409, "conversation_window_closed")


@pytest.mark.django_db
def test_the_window_is_closed_25_hours_after_the_last_message(post_native, alice_threecx_instance):
    customer_wrote(alice_threecx_instance, CUSTOMER, at=now() - dt.timedelta(hours=25))
    response = post_native({"event_type": "outbound_message", "to": CUSTOMER, "message_text": "hi"})
    assert error_of(response) == (409, "conversation_window_closed")
    assert response.json()["details"]["last_inbound_at"]


@pytest.mark.django_db
def test_a_message_to_another_instance_does_not_open_the_window(post_native, owner_alice):
    other = make_instance(
        owner_alice.account,
        name="other-line",
        provider="fake",
        connected=True,
        phone_number="+966500000002",
        paired_at=now(),
        state_changed_at=now(),
    )
    customer_wrote(other, CUSTOMER)
    response = post_native({"event_type": "outbound_message", "to": CUSTOMER, "message_text": "hi"})
    assert error_of(response) == (409, "conversation_window_closed")


@pytest.mark.django_db
def test_the_window_closed_answer_for_a_missed_call_template_is_409(post_native):
    response = post_native({"event_type": "missed_call", "caller": CUSTOMER})
    assert error_of(response) == (409, "conversation_window_closed")


CONTRACT_EVENT_TYPES = [
    "test",
    "outbound_message",
    "inbound_reply",
    "missed_call",
    "call_started",
    "call_ended",
    "voicemail",
    "queue_event",
    "queue_callback",
    "after_hours",
]
# event type -> (HTTP status, event-log decision, WhatsApp messages sent, customer webhook emitted)
EXPECTED_OUTCOME = {
    "test": (200, "ok", 0, None),
    "outbound_message": (202, "queued", 1, None),
    "inbound_reply": (200, "logged", 0, None),
    "missed_call": (202, "queued", 1, "call.missed"),
    "call_started": (200, "logged", 0, "call.received"),
    "call_ended": (202, "queued", 1, "call.received"),
    "voicemail": (202, "queued", 1, "call.missed"),
    "queue_event": (200, "logged", 0, "call.received"),
    "queue_callback": (202, "queued", 1, "call.missed"),
    "after_hours": (202, "queued", 1, "call.missed"),
}


def test_the_ten_event_types_are_exactly_the_contracts():
    from whatsapp_gateway.threecx.call_templates import EVENT_TYPES

    assert sorted(EVENT_TYPES) == sorted(CONTRACT_EVENT_TYPES) == sorted(EXPECTED_OUTCOME)


@pytest.mark.django_db
@pytest.mark.parametrize("event_type", CONTRACT_EVENT_TYPES)
def test_each_event_type_does_what_the_contract_says(post_native, integration, alice_threecx_instance, event_type):
    from whatsapp_gateway.messaging.models import Message

    integration_update(
        integration=integration,
        templates={k: {"enabled": True, "text": f"{k} for {{{{customer_phone}}}}"} for k in integration.templates},
    )
    customer_wrote(alice_threecx_instance, CUSTOMER)
    response = post_native({"event_type": event_type, "to": CUSTOMER, "message_text": "Agent reply"})
    status, decision, sent, webhook_event = EXPECTED_OUTCOME[event_type]
    assert response.status_code == status, response.json()
    assert response.json()["success"] is True
    assert last_log(integration).decision == decision
    assert Message.objects.filter(source="threecx").count() == sent
    if event_type in integration.templates:
        assert Message.objects.get().text == f"{event_type} for {CUSTOMER}"
    emitted = list(Event.objects.values_list("event_type", flat=True))
    assert emitted == ([webhook_event] if webhook_event else [])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "raw_time",
    [b"1e20", b"Infinity", b"-5", b'"9999-12-31T23:59:59-14:00"', b'"0001-01-01T00:00:00+14:00"', b'"yesterday"'],
    ids=["huge", "infinity", "negative", "year-9999", "year-1", "words"],
)
def test_an_implausible_call_time_is_ignored_not_a_500(post_native, integration, alice_threecx_instance, raw_time):
    from whatsapp_gateway.messaging.models import Message

    integration_update(integration=integration, business_name="Alice Bakery")
    templates = {**integration.templates, "missed_call": {"enabled": True, "text": "Missed at {{call_time}}"}}
    integration_update(integration=integration, templates=templates)
    customer_wrote(alice_threecx_instance, CUSTOMER)
    body = b'{"event_type": "missed_call", "caller": "+966512345678", "call_time": ' + raw_time + b"}"
    response = post_native(None, raw=body)
    assert response.status_code == 202, response.json()
    year = int(Message.objects.get().text.removeprefix("Missed at ")[:4])
    assert now().year - 1 <= year <= now().year + 1  # the time we heard of it, not the implausible one
    assert Event.objects.filter(event_type="call.missed").count() == 1
