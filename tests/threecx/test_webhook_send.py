"""Agent replies and call-event templates through the real send service: guard, message log, window, dedup,
cooldown."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from tests.threecx.helpers import customer_wrote, suppress
from whatsapp_gateway.instances.models import InstanceState
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.messaging.models import Message
from whatsapp_gateway.threecx.models import IntegrationEvent
from whatsapp_gateway.threecx.services import integration_update
from whatsapp_gateway.webhooks.models import Event

CUSTOMER = "+966512345678"
DID = "+13052314933"


def generic(text="Hello, Sara from support here.", to=CUSTOMER):
    return {"from": DID, "to": to, "text": text}


def native(text="Hello, Sara from support here.", **extra):
    return {"event_type": "outbound_message", "to": CUSTOMER, "message_text": text, "agent_extension": "101", **extra}


def error_of(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]


@pytest.fixture
def wrote(alice_threecx_instance):
    return customer_wrote(alice_threecx_instance, CUSTOMER)


@pytest.mark.django_db
def test_a_generic_sms_reply_is_queued_and_answered_in_the_telnyx_shape(post_generic, integration, wrote):
    response = post_generic(generic())
    assert response.status_code == 200
    message = Message.objects.get()
    assert response.json() == {"data": {"id": message.public_id, "record_type": "message", "status": "queued"}}
    assert (message.source, message.purpose, message.phone_e164, message.status) == (
        "threecx",
        "support",
        CUSTOMER,
        "queued",
    )
    assert message.text == "Hello, Sara from support here."
    event = IntegrationEvent.objects.filter(integration=integration).latest("id")
    assert (event.decision, event.request_form, event.message_id) == ("queued", "generic_sms", message.public_id)


@pytest.mark.django_db
def test_generic_sms_attachments_become_links_under_the_text(post_generic, wrote):
    payload = {**generic("See the invoice"), "media_urls": ["https://files.example.com/inv.pdf"]}
    assert post_generic(payload).status_code == 200
    assert Message.objects.get().text == "See the invoice\nhttps://files.example.com/inv.pdf"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "attachment",
    [
        {"media_urls": ["https://files.example.com/photo.jpg"]},
        {"text": "", "media": [{"url": "https://files.example.com/photo.jpg", "content_type": "image/jpeg"}]},
    ],
    ids=["media_urls-no-text", "media-empty-text"],
)
def test_a_picture_without_words_from_3cx_goes_out_as_its_link(post_generic, wrote, attachment):
    payload = {"from": DID, "to": CUSTOMER, **attachment}
    response = post_generic(payload)
    assert response.status_code == 200, response.json()
    assert Message.objects.get().text == "https://files.example.com/photo.jpg"


@pytest.mark.django_db
def test_an_empty_message_without_attachments_is_still_refused(post_generic, wrote):
    response = post_generic({"from": DID, "to": CUSTOMER, "text": "  ", "media_urls": [" ", 7]})
    assert error_of(response) == (422, "missing_message_text")


@pytest.mark.django_db
def test_a_native_reply_is_queued_with_message_and_log_ids(post_native, wrote):
    response = post_native(native(message_purpose="operational"))
    assert response.status_code == 202
    message = Message.objects.get()
    assert response.json() == {
        "success": True,
        "status": "queued",
        "event_type": "outbound_message",
        "message_id": message.public_id,
        "log_id": message.log_id,
    }
    assert message.purpose == "operational"


@pytest.mark.django_db
def test_a_missing_purpose_defaults_to_support(post_native, wrote):
    post_native(native())
    assert Message.objects.get().purpose == "support"


@pytest.mark.django_db
@pytest.mark.parametrize("purpose", ["marketing", "promotion", "unknown", "gossip"])
def test_disallowed_purposes_are_refused_and_shown_in_the_message_log(post_native, wrote, purpose):
    response = post_native(native(message_purpose=purpose))
    assert error_of(response) == (422, "message_purpose_not_allowed")
    logged = Message.objects.get()
    assert (logged.source, logged.status, logged.block_code) == ("threecx", "blocked", "message_purpose_not_allowed")


@pytest.mark.django_db
def test_a_closed_window_refusal_is_in_the_message_log_too(post_generic):
    assert error_of(post_generic(generic())) == (409, "conversation_window_closed")
    assert Message.objects.get().block_code == "conversation_window_closed"


@pytest.mark.django_db
def test_a_suppressed_recipient_is_blocked_by_the_same_guard_as_the_api(post_native, post_generic, owner_alice, wrote):
    suppress(owner_alice.account, CUSTOMER)
    assert error_of(post_native(native())) == (403, "recipient_suppressed")
    assert error_of(post_generic(generic("Other text"))) == (403, "recipient_suppressed")
    assert list(Message.objects.values_list("status", "block_code")) == [("blocked", "recipient_suppressed")] * 2


@pytest.mark.django_db
def test_an_authentication_code_may_reach_a_number_that_opted_out_by_keyword(post_native, owner_alice, wrote):
    suppress(owner_alice.account, CUSTOMER)
    assert post_native(native("Your code is 4821", message_purpose="authentication")).status_code == 202


@pytest.mark.django_db
def test_a_disconnected_instance_is_refused_by_the_guard(post_native, alice_threecx_instance, wrote):
    alice_threecx_instance.state = InstanceState.DISCONNECTED
    alice_threecx_instance.save()
    assert error_of(post_native(native())) == (409, "instance_not_connected")


@pytest.mark.django_db
def test_the_window_is_open_within_24_hours(post_native, alice_threecx_instance):
    customer_wrote(alice_threecx_instance, CUSTOMER, at=now() - dt.timedelta(hours=23, minutes=59))
    assert post_native(native()).status_code == 202


@pytest.mark.django_db
def test_without_strict_mode_a_customer_who_never_wrote_can_be_answered(post_native, integration):
    integration_update(integration=integration, strict_window=False)
    assert post_native(native()).status_code == 202


@pytest.mark.django_db
def test_a_3cx_retry_gets_the_same_answer_and_nothing_is_sent_twice(post_generic, integration, wrote):
    first = post_generic(generic())
    second = post_generic(generic())
    assert second.status_code == first.status_code == 200
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Message.objects.count() == 1
    decisions = list(IntegrationEvent.objects.filter(integration=integration).values_list("decision", flat=True))
    assert sorted(decisions) == ["queued", "replayed"]


@pytest.mark.django_db
def test_after_the_dedup_window_the_same_text_meets_the_guards_duplicate_rule(post_generic, wrote):
    with time_machine.travel(now(), tick=False) as traveller:
        assert post_generic(generic()).status_code == 200
        traveller.shift(dt.timedelta(seconds=121))
        response = post_generic(generic())
    assert error_of(response) == (429, "sending_throttled")
    assert Message.objects.filter(status="queued").count() == 1


@pytest.mark.django_db
def test_a_different_text_or_recipient_is_not_a_retry(post_generic, alice_threecx_instance, wrote):
    customer_wrote(alice_threecx_instance, "+966512340000")
    assert post_generic(generic("One")).status_code == 200
    assert post_generic(generic("Two")).status_code == 200
    assert post_generic(generic("One", to="+966512340000")).status_code == 200
    assert Message.objects.count() == 3


@pytest.mark.django_db
def test_a_refused_request_is_evaluated_again_on_retry(post_generic, alice_threecx_instance):
    assert error_of(post_generic(generic())) == (409, "conversation_window_closed")
    customer_wrote(alice_threecx_instance, CUSTOMER)
    assert post_generic(generic()).status_code == 200


@pytest.mark.django_db
def test_native_retries_are_deduplicated_and_honour_an_idempotency_key(post_native, wrote):
    first = post_native(native())
    assert post_native(native()).json() == first.json()
    keyed = post_native(native("Another"), HTTP_IDEMPOTENCY_KEY="chat-123-msg-9")
    again = post_native(native("Another, edited"), HTTP_IDEMPOTENCY_KEY="chat-123-msg-9")
    assert again.json() == keyed.json() and again["Idempotent-Replayed"] == "true"
    assert Message.objects.count() == 2


@pytest.mark.django_db
def test_a_retry_arriving_while_the_first_is_still_being_sent_is_told_to_retry(post_generic, integration, wrote):
    from whatsapp_gateway.threecx.incoming.request import FORM_GENERIC
    from whatsapp_gateway.threecx.incoming.sending import fingerprint_of
    from whatsapp_gateway.threecx.models import RequestFingerprint

    body = generic()
    fingerprint = fingerprint_of(integration, FORM_GENERIC, body["from"], body["to"], body["text"])
    RequestFingerprint.objects.create(integration=integration, fingerprint=fingerprint, created_at=now())  # in flight
    response = post_generic(body)
    assert error_of(response) == (409, "idempotency_in_progress")
    assert not Message.objects.filter(status="queued").exists()


# --- Call-event templates -------------------------------------------------------------------------------------


def missed(**extra):
    return {"event_type": "missed_call", "caller": CUSTOMER, "agent_extension": "104", **extra}


@pytest.mark.django_db
def test_a_missed_call_sends_the_rendered_template_and_emits_call_missed(post_native, integration, owner_alice, wrote):
    owner_alice.account.timezone = "Asia/Riyadh"
    owner_alice.account.save()
    integration_update(
        integration=integration,
        business_name="Alice Bakery",
        templates={
            **integration.templates,
            "missed_call": {
                "enabled": True,
                "text": "{{business_name}}: sorry we missed you at {{call_time}} (ext {{agent_extension}}, "
                "{{queue}}) — {{customer_phone}}",
            },
        },
    )
    response = post_native(missed(queue="Sales", call_time="2026-11-24T09:30:00Z"))
    assert response.status_code == 202
    message = Message.objects.get()
    assert response.json()["message_id"] == message.public_id
    assert message.text == f"Alice Bakery: sorry we missed you at 2026-11-24 12:30 (ext 104, Sales) — {CUSTOMER}"
    assert (message.purpose, message.source) == ("support", "threecx")
    event = Event.objects.get(event_type="call.missed")
    assert event.payload["from"] == CUSTOMER and event.payload["status"] == "missed"


@pytest.mark.django_db
def test_a_second_missed_call_inside_15_minutes_is_skipped_for_cooldown(post_native, wrote):
    with time_machine.travel(now(), tick=False) as traveller:
        assert post_native(missed()).status_code == 202
        traveller.shift(dt.timedelta(minutes=14, seconds=59))
        response = post_native(missed())
        assert response.status_code == 200
        assert response.json() == {
            "success": True,
            "status": "skipped",
            "reason": "cooldown",
            "event_type": "missed_call",
        }
        assert Message.objects.count() == 1
        assert Event.objects.filter(event_type="call.missed").count() == 2  # the call itself is still reported
        traveller.shift(dt.timedelta(seconds=2))
        assert post_native(missed()).status_code == 202
    assert Message.objects.count() == 2


@pytest.mark.django_db
def test_the_cooldown_is_per_event_type_and_per_phone(post_native, integration, alice_threecx_instance, wrote):
    templates = {k: {**v, "enabled": True} for k, v in integration.templates.items()}
    integration_update(integration=integration, templates=templates)
    customer_wrote(alice_threecx_instance, "+966512340000")
    assert post_native(missed()).status_code == 202
    assert post_native({"event_type": "voicemail", "caller": CUSTOMER}).status_code == 202
    assert post_native(missed(caller="+966512340000")).status_code == 202
    assert post_native(missed()).json()["reason"] == "cooldown"


@pytest.mark.django_db
def test_a_blocked_template_does_not_use_up_the_cooldown(post_native, owner_alice, wrote):
    suppression = suppress(owner_alice.account, CUSTOMER)
    assert error_of(post_native(missed())) == (403, "recipient_suppressed")
    suppression.removed_at = now()
    suppression.save()
    assert post_native(missed()).status_code == 202


@pytest.mark.django_db
@pytest.mark.parametrize("event_type", ["voicemail", "call_ended", "queue_callback", "after_hours"])
def test_every_template_event_sends_its_own_template(post_native, integration, wrote, event_type):
    templates = {**integration.templates, event_type: {"enabled": True, "text": f"Template for {event_type}"}}
    integration_update(integration=integration, templates=templates)
    assert post_native({"event_type": event_type, "caller": CUSTOMER}).status_code == 202
    assert Message.objects.get().text == f"Template for {event_type}"


@pytest.mark.django_db
def test_a_missed_call_from_someone_who_never_wrote_is_sent_without_strict_mode(post_native, integration):
    integration_update(integration=integration, strict_window=False)
    assert post_native(missed()).status_code == 202


@pytest.mark.django_db
def test_a_call_reported_twice_is_answered_from_the_first_report(post_native, wrote):
    first = post_native(missed(call_id="3cx-call-77"))
    second = post_native(missed(call_id="3cx-call-77"))
    assert first.status_code == second.status_code == 202
    assert second.json() == first.json() and second["Idempotent-Replayed"] == "true"
    assert Message.objects.count() == 1
    assert Event.objects.filter(event_type="call.missed").count() == 1


@pytest.mark.django_db
def test_a_crm_journal_entry_sent_twice_is_one_call(post_native):
    report = {
        "event_type": "call_ended",
        "call_type": "Missed",
        "caller": CUSTOMER,
        "agent_extension": "101",
        "call_time": "2026-11-24T09:30:00Z",
    }
    first = post_native(report)
    second = post_native(report)
    assert first.status_code == second.status_code == 409  # never wrote: strict mode refuses the template
    assert second.json() == first.json()
    assert Event.objects.filter(event_type="call.missed").count() == 1
    assert post_native({**report, "call_time": "2026-11-24T09:45:00Z"}).status_code == 409
    assert Event.objects.filter(event_type="call.missed").count() == 2
