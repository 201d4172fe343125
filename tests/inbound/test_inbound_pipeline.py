"""The inbound handlers: every normalised event writes its rows and its customer event in one transaction."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from tests.inbound.helpers import deliver, text_event
from whatsapp_gateway.contacts.models import Contact, Conversation
from whatsapp_gateway.inbound import hooks
from whatsapp_gateway.inbound.models import ForwardingStatus, InboundMessage
from whatsapp_gateway.providers import base
from whatsapp_gateway.webhooks.models import Event

NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)


def events_of(instance, event_type):
    return list(Event.objects.filter(instance=instance, event_type=event_type).order_by("id"))


@time_machine.travel(NOW, tick=False)
def test_a_text_message_becomes_a_row_a_conversation_and_a_message_received_event(alice_bare_instance):
    deliver(
        alice_bare_instance,
        text_event("Hello, is my order ready?", message_id="3A55AA", at=NOW - dt.timedelta(seconds=3)),
    )

    row = InboundMessage.objects.get()
    assert row.public_id.startswith("in_")
    assert row.account == alice_bare_instance.account and row.instance == alice_bare_instance
    assert row.sender_phone == "+966512345678" and row.sender_name == "Maria"
    assert row.sender_id == "966512345678@s.whatsapp.net"
    assert row.message_type == "text" and row.text == "Hello, is my order ready?"
    assert row.received_at == NOW - dt.timedelta(seconds=3)
    assert row.forwarding_status == ForwardingStatus.NONE and not row.is_opt_out
    conversation = Conversation.objects.get()
    assert conversation.contact.phone_e164 == "+966512345678"
    assert conversation.inbound_count == 1 and conversation.last_inbound_at == row.received_at
    [event] = events_of(alice_bare_instance, "message.received")
    assert event.payload == {
        "event": "message.received",
        "event_id": event.public_id,
        "occurred_at": "2026-11-24T09:59:57Z",
        "instance_id": alice_bare_instance.public_id,
        "instance_name": alice_bare_instance.name,
        "from": "+966512345678",
        "from_name": "Maria",
        "message_text": "Hello, is my order ready?",
        "message_type": "text",
        "external_message_id": "3A55AA",
        "message_id": row.public_id,
    }


def test_a_repeated_provider_delivery_is_recorded_once(alice_bare_instance):
    event = text_event("Hello", message_id="3AREPEAT")
    deliver(alice_bare_instance, event)
    deliver(alice_bare_instance, event)
    deliver(alice_bare_instance, text_event("Hello", message_id="3AREPEAT", name="Other name"))

    assert InboundMessage.objects.count() == 1
    assert Conversation.objects.get().inbound_count == 1
    assert len(events_of(alice_bare_instance, "message.received")) == 1


def test_a_duplicate_delivered_at_the_same_moment_is_recorded_once(alice_bare_instance, monkeypatch):
    """Two workers pass the "seen before?" check together; the unique constraint stops the second one, which then
    writes nothing else (no conversation count, no event) and leaves the surrounding transaction usable."""
    from whatsapp_gateway.inbound import services

    original = services.contact_resolve

    def first_worker_wins(**kwargs):
        contact = original(**kwargs)
        InboundMessage.objects.create(  # the other worker's row lands between the check and our insert
            account=alice_bare_instance.account,
            instance=alice_bare_instance,
            provider_message_id="3ARACE",
            text="Hello",
            received_at=dt.datetime.now(dt.UTC),
        )
        return contact

    monkeypatch.setattr(services, "contact_resolve", first_worker_wins)
    assert (
        services.inbound_message_record(instance=alice_bare_instance, event=text_event("Hello", message_id="3ARACE"))
        is None
    )
    assert InboundMessage.objects.filter(provider_message_id="3ARACE").count() == 1
    assert events_of(alice_bare_instance, "message.received") == []
    assert not Conversation.objects.filter(inbound_count__gt=0).exists()


def test_the_same_provider_id_on_another_instance_is_a_different_message(owner_alice, alice_bare_instance):
    from tests.factories import make_instance

    other = make_instance(owner_alice.account, name="sales-line", connected=True, phone_number="+966500000002")
    deliver(alice_bare_instance, text_event("Hi", message_id="3ASAME"))
    deliver(other, text_event("Hi", message_id="3ASAME"))
    assert InboundMessage.objects.count() == 2


@pytest.mark.parametrize(
    ("message_type", "text", "metadata"),
    [
        ("image", "look at this", {"mimetype": "image/jpeg", "caption": "look at this"}),
        ("video", "", {"mimetype": "video/mp4", "seconds": 12}),
        ("audio", "", {"mimetype": "audio/ogg", "ptt": True}),
        ("document", "", {"mimetype": "application/pdf", "filename": "invoice.pdf"}),
        ("sticker", "", {"mimetype": "image/webp"}),
        ("location", "", {"latitude": 24.7136, "longitude": 46.6753, "name": "Riyadh"}),
        ("contact", "", {"display_name": "Omar", "vcard": "BEGIN:VCARD\nEND:VCARD"}),
        ("reaction", "👍", {"target_message_id": "3AOLD", "emoji": "👍"}),
    ],
)
def test_non_text_messages_are_recorded_with_type_and_metadata(alice_bare_instance, message_type, text, metadata):
    deliver(alice_bare_instance, text_event(text, message_type=message_type, metadata=metadata))

    row = InboundMessage.objects.get()
    assert row.message_type == message_type and row.metadata == metadata
    [event] = events_of(alice_bare_instance, "message.received")
    assert event.payload["message_type"] == message_type and event.payload["metadata"] == metadata


def test_an_unknown_message_type_is_kept_as_other(alice_bare_instance):
    deliver(alice_bare_instance, text_event("", message_type="poll_vote"))
    assert InboundMessage.objects.get().message_type == "unknown"


def test_a_group_message_emits_group_message_received_and_is_not_a_conversation(alice_bare_instance):
    deliver(
        alice_bare_instance,
        text_event(
            "Team, the delivery is late",
            chat_id="120363000000000001@g.us",
            is_group=True,
            group_name="Drivers",
        ),
    )

    row = InboundMessage.objects.get()
    assert row.is_group and row.group_id == "120363000000000001@g.us" and row.group_name == "Drivers"
    assert not Conversation.objects.exists()
    assert not events_of(alice_bare_instance, "message.received")
    [event] = events_of(alice_bare_instance, "group.message_received")
    assert event.payload["group_id"] == "120363000000000001@g.us"
    assert event.payload["group_name"] == "Drivers"
    assert event.payload["participant"] == "+966512345678"
    assert event.payload["message_text"] == "Team, the delivery is late"


def test_stop_in_a_group_is_not_an_opt_out(alice_bare_instance):
    deliver(alice_bare_instance, text_event("STOP", chat_id="120363000000000001@g.us", is_group=True))
    row = InboundMessage.objects.get()
    assert not row.is_opt_out
    assert not events_of(alice_bare_instance, "recipient.opted_out")


def test_a_message_sent_from_the_phone_is_recorded_as_outbound_not_inbound(alice_bare_instance):
    from whatsapp_gateway.messaging.models import Message

    deliver(
        alice_bare_instance,
        base.InboundMessage(
            provider_message_id="3EB0FROMPHONE",
            chat_id="966512345678@s.whatsapp.net",
            sender_id="966500000001@s.whatsapp.net",
            sender_phone="+966500000001",
            from_me=True,
            text="Sure, it ships today.",
        ),
    )

    assert not InboundMessage.objects.exists()
    assert not events_of(alice_bare_instance, "message.received")
    message = Message.objects.get()
    assert message.source == "phone" and message.phone_e164 == "+966512345678"
    assert message.provider_message_id == "3EB0FROMPHONE"
    conversation = Conversation.objects.get(contact__phone_e164="+966512345678")
    assert conversation.outbound_count == 1 and conversation.inbound_count == 0


@time_machine.travel(NOW, tick=False)
def test_a_late_delivery_does_not_move_the_conversation_back(alice_bare_instance):
    deliver(alice_bare_instance, text_event("second", at=NOW))
    deliver(alice_bare_instance, text_event("first", at=NOW - dt.timedelta(hours=2)))
    conversation = Conversation.objects.get()
    assert conversation.last_inbound_at == NOW and conversation.inbound_count == 2


@time_machine.travel(NOW, tick=False)
def test_a_provider_clock_in_the_future_is_clamped_to_now(alice_bare_instance):
    deliver(alice_bare_instance, text_event("from the future", at=NOW + dt.timedelta(days=2)))
    assert InboundMessage.objects.get().received_at == NOW


def test_nothing_is_kept_when_a_later_step_fails(alice_bare_instance, monkeypatch):
    def broken(row, *, is_opt_out):
        raise RuntimeError("forwarder crashed")

    hooks.register_forwarder(broken)
    try:
        with pytest.raises(RuntimeError):
            deliver(alice_bare_instance, text_event("STOP"))
    finally:
        hooks.unregister_forwarder(broken)
    assert not InboundMessage.objects.exists()
    assert not Conversation.objects.exists()
    assert not Event.objects.filter(instance=alice_bare_instance).exists()
    from whatsapp_gateway.suppression.models import Suppression

    assert not Suppression.objects.exists()


def test_forwarders_run_after_opt_out_handling_and_set_the_forwarding_status(alice_bare_instance):
    seen = []

    def forwarder(row, *, is_opt_out):
        from whatsapp_gateway.suppression.models import Suppression

        seen.append((row.public_id, is_opt_out, Suppression.objects.filter(phone_e164=row.sender_phone).exists()))
        return ForwardingStatus.SKIPPED if is_opt_out else ForwardingStatus.PENDING

    hooks.register_forwarder(forwarder)
    try:
        deliver(alice_bare_instance, text_event("Hello"))
        deliver(alice_bare_instance, text_event("STOP"))
        deliver(alice_bare_instance, text_event("Hello again", message_id="3AHELLO"))
        deliver(alice_bare_instance, text_event("Hello again", message_id="3AHELLO"))  # duplicate: not forwarded again
    finally:
        hooks.unregister_forwarder(forwarder)

    rows = list(InboundMessage.objects.order_by("id"))
    assert [s[1:] for s in seen] == [(False, False), (True, True), (False, True)]
    assert [r.forwarding_status for r in rows] == ["pending", "skipped", "pending"]


def test_forwarding_status_can_be_updated_later(alice_bare_instance):
    from whatsapp_gateway.inbound.services import inbound_forwarding_update

    deliver(alice_bare_instance, text_event("Hello"))
    row = InboundMessage.objects.get()
    inbound_forwarding_update(inbound=row, status="forwarded", detail="3CX answered 200")
    row.refresh_from_db()
    assert row.forwarding_status == "forwarded" and row.forwarding_detail == "3CX answered 200"
    with pytest.raises(ValueError):
        inbound_forwarding_update(inbound=row, status="teleported")


@pytest.mark.parametrize(
    ("status", "event_type"), [("offer", "call.received"), ("missed", "call.missed"), ("rejected", "call.missed")]
)
def test_calls_emit_call_events(alice_bare_instance, status, event_type):
    deliver(
        alice_bare_instance,
        base.CallEvent(
            call_id="CALL1",
            caller_id="966512345678@s.whatsapp.net",
            caller_phone="+966512345678",
            is_video=True,
            status=status,
        ),
    )
    [event] = events_of(alice_bare_instance, event_type)
    assert {k: event.payload[k] for k in ("from", "call_id", "is_video", "status")} == {
        "from": "+966512345678",
        "call_id": "CALL1",
        "is_video": True,
        "status": status,
    }
    assert Contact.objects.get().phone_e164 == "+966512345678"


def test_accepted_and_ended_calls_emit_nothing(alice_bare_instance):
    for status in ("accepted", "ended"):
        deliver(
            alice_bare_instance, base.CallEvent(call_id="C2", caller_id="966512345678@s.whatsapp.net", status=status)
        )
    assert not Event.objects.filter(event_type__startswith="call.").exists()


def test_a_group_change_emits_group_updated(alice_bare_instance):
    deliver(
        alice_bare_instance,
        base.GroupUpdate(
            group_id="120363000000000001@g.us",
            group_name="Drivers",
            action="join",
            participants=("966512345678@s.whatsapp.net", "103899771998284@lid"),
        ),
    )
    [event] = events_of(alice_bare_instance, "group.updated")
    assert event.payload["group_id"] == "120363000000000001@g.us"
    assert event.payload["group_name"] == "Drivers" and event.payload["action"] == "join"
    assert event.payload["participant"] == "+966512345678"
    assert event.payload["participants"] == ["+966512345678", "103899771998284@lid"]


@time_machine.travel(NOW, tick=False)
def test_a_chat_change_emits_conversation_updated_with_our_times(alice_bare_instance):
    deliver(alice_bare_instance, text_event("Hello", at=NOW - dt.timedelta(minutes=5)))
    deliver(
        alice_bare_instance,
        base.ConversationUpdate(chat_id="966512345678@s.whatsapp.net", unread_count=0, archived=True, event_id="e1"),
    )
    [event] = events_of(alice_bare_instance, "conversation.updated")
    assert {
        k: event.payload[k]
        for k in ("phone", "chat_id", "unread_count", "archived", "last_inbound_at", "last_outbound_at")
    } == {
        "phone": "+966512345678",
        "chat_id": "966512345678@s.whatsapp.net",
        "unread_count": 0,
        "archived": True,
        "last_inbound_at": "2026-11-24T09:55:00Z",
        "last_outbound_at": None,
    }


def test_the_handlers_are_registered_for_every_inbound_event_type():
    from whatsapp_gateway.inbound import services
    from whatsapp_gateway.providers import dispatch

    assert services.handle_inbound_message in dispatch.handlers_for(base.InboundMessage())
    assert services.handle_call in dispatch.handlers_for(base.CallEvent())
    assert services.handle_group_update in dispatch.handlers_for(base.GroupUpdate())
    assert services.handle_conversation_update in dispatch.handlers_for(base.ConversationUpdate())
