"""Evolution API v2 webhook payloads (``fixtures/evolution/*.json``) → normalised events, one test per fixture."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import time_machine

from tests.factories import make_instance
from tests.providers.helpers import FIXTURES, IgnoredCounter, at, fixture_json, parse
from whatsapp_gateway.instances.models import InstanceState
from whatsapp_gateway.providers.base import (
    CallbackRejected,
    CallEvent,
    ConnectionUpdate,
    ConversationUpdate,
    GroupUpdate,
    InboundMessage,
    MessageStatusUpdate,
    QrUpdate,
)
from whatsapp_gateway.providers.evolution.messages import history_status
from whatsapp_gateway.providers.registry import get_provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def instance(owner_alice):
    return make_instance(
        owner_alice.account, provider="evolution", provider_ref="acme-01", phone_number="+5511900001111"
    )


def one(instance, name):
    (event,) = parse(instance, "evolution", name)
    return event


def test_inbound_text(instance):
    event = one(instance, "messages_upsert_text")
    assert event == InboundMessage(
        provider_message_id="3A554E20ECABF3D45BB2",
        chat_id="5511988887777@s.whatsapp.net",
        sender_id="5511988887777@s.whatsapp.net",
        sender_phone="+5511988887777",
        sender_name="Maria",
        chat_phone="+5511988887777",
        message_type="text",
        text="STOP",
        occurred_at=at(1753614857),
    )
    assert event.dedup_key == "msg:3A554E20ECABF3D45BB2"


def test_inbound_extended_text_keeps_the_reply_target(instance):
    event = one(instance, "messages_upsert_extended_text")
    assert (event.message_type, event.text) == ("text", "Yes, tomorrow works")
    assert event.metadata == {"reply_to": "3EB0C431C26A1916E07E"}


def test_a_message_sent_from_the_phone_is_from_me(instance):
    event = one(instance, "messages_upsert_from_me")
    assert event.from_me is True
    assert (event.chat_phone, event.sender_phone, event.sender_name) == ("+5511988887777", "+5511900001111", "")
    assert event.text == "Sent from the phone"


def test_a_lid_sender_is_resolved_through_remote_jid_alt(instance):
    event = one(instance, "messages_upsert_lid_remote_jid_alt")
    assert event.chat_id == "103899771998284@lid"
    assert (event.sender_lid, event.sender_phone, event.chat_phone) == (
        "103899771998284@lid",
        "+5511988887777",
        "+5511988887777",
    )


def test_a_lid_sender_is_resolved_through_the_older_sender_pn(instance):
    event = one(instance, "messages_upsert_lid_sender_pn")
    assert (event.sender_lid, event.sender_phone) == ("103899771998284@lid", "+5511988887777")


def test_an_unresolvable_lid_keeps_the_lid_without_a_phone(instance):
    event = one(instance, "messages_upsert_lid_unresolved")
    assert (event.sender_lid, event.sender_phone, event.chat_phone) == ("103899771998284@lid", "", "")


def test_a_group_message_names_the_participant(instance):
    event = one(instance, "messages_upsert_group")
    assert event.is_group is True
    assert (event.chat_id, event.sender_id, event.sender_phone) == (
        "120363001234567890@g.us",
        "5511988887777@s.whatsapp.net",
        "+5511988887777",
    )
    assert event.chat_phone == ""


def test_a_group_message_from_a_lid_participant_uses_participant_alt(instance):
    event = one(instance, "messages_upsert_group_lid_participant")
    assert (event.sender_lid, event.sender_phone, event.is_group) == ("103899771998284@lid", "+5511988887777", True)


def test_an_image_carries_caption_mime_type_and_media_url(instance):
    event = one(instance, "messages_upsert_image")
    assert (event.message_type, event.text) == ("image", "Broken screen")
    assert event.metadata == {
        "media_url": "https://s3.example.com/evolution/acme-01/3A554E20ECABF3D45BB8.jpeg",
        "mime_type": "image/jpeg",
        "caption": "Broken screen",
    }


def test_a_voice_note(instance):
    event = one(instance, "messages_upsert_audio")
    assert (event.message_type, event.text) == ("audio", "")
    assert event.metadata == {"mime_type": "audio/ogg; codecs=opus", "voice_note": True, "seconds": 7}


def test_a_document_with_caption_is_unwrapped(instance):
    event = one(instance, "messages_upsert_document")
    assert (event.message_type, event.text) == ("document", "My invoice")
    assert event.metadata == {"mime_type": "application/pdf", "file_name": "invoice-1042.pdf", "caption": "My invoice"}


def test_a_location(instance):
    event = one(instance, "messages_upsert_location")
    assert event.message_type == "location"
    assert event.metadata == {
        "latitude": -23.5505,
        "longitude": -46.6333,
        "name": "Loja Centro",
        "address": "Av. Paulista, 1000",
    }


def test_a_contact_card(instance):
    event = one(instance, "messages_upsert_contact")
    assert event.message_type == "contact"
    (card,) = event.metadata["contacts"]
    assert card["display_name"] == "João" and "waid=5511977776666" in card["vcard"]


def test_a_sticker(instance):
    event = one(instance, "messages_upsert_sticker")
    assert (event.message_type, event.metadata) == ("sticker", {"mime_type": "image/webp"})


def test_a_reaction_points_at_the_reacted_message(instance):
    event = one(instance, "messages_upsert_reaction")
    assert (event.message_type, event.text) == ("reaction", "👍")
    assert event.metadata == {"emoji": "👍", "target_message_id": "3EB0C431C26A1916E07E"}


def test_an_ephemeral_message_is_unwrapped(instance):
    assert one(instance, "messages_upsert_ephemeral").text == "Disappearing hello"


def test_a_protobuf_long_timestamp_is_read(instance):
    assert one(instance, "messages_upsert_long_timestamp").occurred_at == at(1753614857)


def test_status_broadcasts_are_ignored_and_counted(instance):
    counter = IgnoredCounter("evolution")
    assert parse(instance, "evolution", "messages_upsert_status_broadcast") == []
    assert counter.delta("not_relevant") == 1


def test_protocol_messages_are_ignored(instance):
    counter = IgnoredCounter("evolution")
    assert parse(instance, "evolution", "messages_upsert_protocol") == []
    assert counter.delta("not_relevant") == 1


@pytest.mark.parametrize(
    ("fixture", "status"),
    [
        ("messages_update_server_ack", "sent"),
        ("messages_update_delivery_ack", "delivered"),
        ("messages_update_read", "read"),
        ("messages_update_played", "read"),
    ],
)
def test_status_updates_map_the_status_enum(instance, fixture, status):
    event = one(instance, fixture)
    assert event == MessageStatusUpdate(
        provider_message_id="3EB0C431C26A1916E07E", status=status, recipient="+5511988887777"
    )
    assert event.dedup_key == f"status:3EB0C431C26A1916E07E:{status}"


def test_an_error_status_fails_the_message(instance):
    event = one(instance, "messages_update_error")
    assert (event.status, event.error_code) == ("failed", "provider_error")
    assert event.error_message


@pytest.mark.parametrize(
    "fixture", ["messages_update_pending", "messages_update_deleted", "messages_update_inbound_receipt"]
)
def test_pending_deleted_and_inbound_receipts_are_not_status_changes(instance, fixture):
    counter = IgnoredCounter("evolution")
    assert parse(instance, "evolution", fixture) == []
    assert counter.delta("not_relevant") == 1


def test_send_message_confirms_the_message_was_sent(instance):
    assert one(instance, "send_message") == MessageStatusUpdate(
        provider_message_id="3EB0C431C26A1916E07E",
        status="sent",
        recipient="+5511988887777",
        occurred_at=at(1717604327),
    )


def test_connection_open_reports_the_paired_number(instance):
    event = one(instance, "connection_update_open")
    assert isinstance(event, ConnectionUpdate)
    assert (event.state, event.phone_number, event.profile_name) == (InstanceState.CONNECTED, "+5511900001111", "Acme")
    assert event.occurred_at is None  # date_time is local time stamped "Z": not trusted without a zone
    assert event.dedup_key.startswith("conn:")


def test_the_envelope_time_is_corrected_with_the_server_time_zone(instance, settings):
    settings.EVOLUTION_SERVER_TIMEZONE = "America/Sao_Paulo"
    event = one(instance, "connection_update_open")
    # "2025-09-24T18:37:57.432Z" was São Paulo local time (UTC-3).
    assert event.occurred_at == dt.datetime(2025, 9, 24, 21, 37, 57, 432000, tzinfo=dt.UTC)


def test_connecting_while_pairing_means_pairing(instance):
    event = one(instance, "connection_update_connecting")
    assert event.state == InstanceState.PAIRING


def test_connecting_after_being_connected_means_reconnecting(instance):
    instance.state = InstanceState.CONNECTED
    event = one(instance, "connection_update_connecting")
    assert (event.state, event.reason) == (InstanceState.DISCONNECTED, "Reconnecting to WhatsApp.")


def test_close_401_means_logged_out(instance):
    event = one(instance, "connection_update_close_logged_out")
    assert event.state == InstanceState.LOGGED_OUT and "401" in event.reason


def test_a_close_401_while_pairing_is_the_restart_for_a_pairing_code_not_a_logout(instance):
    instance.state = InstanceState.PAIRING
    assert parse(instance, "evolution", "connection_update_close_logged_out") == []


def test_close_403_means_failed_possibly_banned(instance):
    event = one(instance, "connection_update_close_forbidden")
    assert event.state == InstanceState.FAILED and "banned" in event.reason


def test_other_close_codes_mean_disconnected(instance):
    event = one(instance, "connection_update_close_reconnecting")
    assert event.state == InstanceState.DISCONNECTED and "428" in event.reason


def test_refused_means_disconnected_and_asks_to_connect_again(instance):
    event = one(instance, "connection_update_refused")
    assert event.state == InstanceState.DISCONNECTED and "QR code limit" in event.reason


def test_a_new_qr_code(instance):
    with time_machine.travel(dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC), tick=False):
        event = one(instance, "qrcode_updated")
    assert event == QrUpdate(
        qr_payload="2@y8bQ4xZ,Vh3JpKq,1tE9mA==", expires_at=dt.datetime(2026, 3, 1, 12, 0, 40, tzinfo=dt.UTC)
    )


def test_qr_code_limit_reached(instance):
    event = one(instance, "qrcode_updated_limit_reached")
    assert event == QrUpdate(limit_reached=True)


def test_an_incoming_call(instance):
    event = one(instance, "call_offer")
    assert event == CallEvent(
        call_id="A5F1C2D3E4",
        caller_id="5511988887777@s.whatsapp.net",
        caller_phone="+5511988887777",
        is_video=False,
        status="offer",
        occurred_at=dt.datetime(2025, 10, 1, 12, 0, tzinfo=dt.UTC),
    )
    assert event.dedup_key == "call:A5F1C2D3E4:offer"


def test_an_unanswered_video_call_is_missed(instance):
    event = one(instance, "call_timeout")
    assert (event.status, event.is_video) == ("missed", True)


def test_a_rejected_call(instance):
    assert one(instance, "call_reject").status == "rejected"


def test_a_new_group(instance):
    event = one(instance, "groups_upsert")
    assert isinstance(event, GroupUpdate)
    assert (event.group_id, event.group_name, event.action) == ("120363001234567890@g.us", "Acme customers", "created")
    assert event.dedup_key.startswith("group:")


def test_a_group_update(instance):
    event = one(instance, "groups_update")
    assert (event.group_name, event.action) == ("Acme VIP customers", "updated")


def test_group_participants_added(instance):
    event = one(instance, "group_participants_update")
    assert (event.action, event.participants) == ("join", ("5511977776666@s.whatsapp.net",))


def test_a_reply_keeps_its_target_where_evolution_moved_it(instance):
    """2.3.x lifts contextInfo to the top of ``data`` and turns extendedTextMessage into a conversation."""
    event = one(instance, "messages_upsert_reply_conversation")
    assert (event.message_type, event.text) == ("text", "Yes, tomorrow works")
    assert event.metadata == {"reply_to": "3EB0C431C26A1916E07E"}


def test_chats_update_without_changes_emits_nothing(instance):
    """2.3.x sends only ``[{remoteJid, instanceId}]`` on almost every message: no conversation update."""
    counter = IgnoredCounter("evolution")
    assert parse(instance, "evolution", "chats_update_ids_only") == []
    assert counter.delta("not_relevant") == 2


def test_group_participants_carry_the_resolved_phone_numbers(instance):
    """``participantsData[].phoneNumber`` replaces the LIDs; an unresolved one (its LID digits) keeps the LID."""
    event = one(instance, "group_participants_update_lid")
    assert (event.action, event.participants) == ("join", ("5511977776666@s.whatsapp.net", "204711882233445@lid"))


def test_a_history_record_carries_the_status_evolution_stored():
    (record,) = fixture_json("evolution", "find_messages_read")["messages"]["records"]
    assert history_status(record) == MessageStatusUpdate(provider_message_id="3EB0C431C26A1916E07E", status="read")
    assert history_status({**record, "status": "SERVER_ACK"}) is None  # sent: the record itself says so
    assert history_status({**record, "key": {**record["key"], "fromMe": False}}) is None


def test_chat_update_reports_unread_messages(instance):
    event = one(instance, "chats_update")
    assert isinstance(event, ConversationUpdate)
    assert (event.chat_id, event.phone, event.unread_count, event.archived) == (
        "5511988887777@s.whatsapp.net",
        "+5511988887777",
        2,
        None,
    )


def test_an_unknown_event_is_ignored_and_counted(instance):
    counter = IgnoredCounter("evolution")
    assert parse(instance, "evolution", "presence_update") == []
    assert counter.delta("unknown_event") == 1


def test_an_event_for_another_instance_is_ignored(owner_alice):
    other = make_instance(owner_alice.account, provider="evolution", provider_ref="someone-else", name="other")
    counter = IgnoredCounter("evolution")
    assert parse(other, "evolution", "messages_upsert_text") == []
    assert counter.delta("other_instance") == 1


def test_a_body_that_is_not_json_is_rejected(instance):
    with pytest.raises(CallbackRejected) as caught:
        get_provider("evolution").parse_callback(instance, headers={}, body=b"<html>")
    assert caught.value.status == 400


def test_every_evolution_fixture_has_a_test():
    names = {p.stem for p in (FIXTURES / "evolution").glob("*.json")}
    source = Path(__file__).read_text(encoding="utf-8")
    assert {n for n in names if f'"{n}"' not in source} == set()


def test_a_message_sent_from_the_phone_to_a_lid_chat_names_the_recipient(instance):
    event = one(instance, "messages_upsert_from_me_lid")
    assert (event.from_me, event.chat_id, event.chat_phone) == (True, "103899771998284@lid", "+5511988887777")


def test_a_message_sent_from_the_phone_is_logged_as_outbound_through_the_route(
    evolution_instance, client, fake_evolution, django_capture_on_commit_callbacks
):
    from tests.providers.conftest import post_callback
    from tests.providers.helpers import fixture_json
    from whatsapp_gateway.messaging.models import Message

    data = fixture_json("evolution", "messages_upsert_from_me_lid")["data"]
    callback = fake_evolution.callback(evolution_instance.provider_ref, "messages.upsert", data)

    response = post_callback(client, evolution_instance, callback, capture=django_capture_on_commit_callbacks)

    assert response.status_code == 200
    message = Message.objects.get(instance=evolution_instance)
    assert (message.phone_e164, message.provider_message_id) == ("+5511988887777", "3EB0AAAA1111222244")
