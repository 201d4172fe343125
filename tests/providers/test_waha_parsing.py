"""WAHA webhook payloads (``fixtures/waha/*.json``) → normalised events, one test per fixture."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import time_machine

from tests.factories import make_instance
from tests.providers.fakes.waha import WahaSession
from tests.providers.helpers import FIXTURES, IgnoredCounter, at, parse
from whatsapp_gateway.instances.models import InstanceState
from whatsapp_gateway.providers.base import (
    CallEvent,
    ConnectionUpdate,
    ConversationUpdate,
    GroupUpdate,
    InboundMessage,
    MessageStatusUpdate,
    QrUpdate,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def instance(owner_alice, fake_waha):
    fake_waha.sessions["acme-01"] = WahaSession(name="acme-01", config={}, status="SCAN_QR_CODE")
    return make_instance(
        owner_alice.account,
        provider="waha",
        provider_ref="acme-01",
        credentials={"hmac_key": "k"},
        phone_number="+5511900001111",
    )


def one(instance, name):
    (event,) = parse(instance, "waha", name)
    return event


def test_inbound_text(instance):
    event = one(instance, "message_text")
    assert event == InboundMessage(
        provider_message_id="AAAAAAAAAAAAAAAAAAAA",
        chat_id="5511988887777@c.us",
        sender_id="5511988887777@c.us",
        sender_phone="+5511988887777",
        sender_name="Maria",
        chat_phone="+5511988887777",
        message_type="text",
        text="STOP",
        occurred_at=at(1667561485),
    )
    assert event.dedup_key == "msg:AAAAAAAAAAAAAAAAAAAA"


def test_message_any_from_the_phone_is_from_me(instance):
    event = one(instance, "message_any_from_me")
    assert event.from_me is True
    assert (event.provider_message_id, event.chat_id) == ("3EB0BBBBBBBBBBBBBBBB", "5511988887777@c.us")
    assert (event.chat_phone, event.sender_phone) == ("+5511988887777", "+5511900001111")


def test_a_group_message_names_the_participant(instance):
    event = one(instance, "message_group")
    assert (event.is_group, event.chat_id, event.sender_phone, event.provider_message_id) == (
        True,
        "120363001234567890@g.us",
        "+5511988887777",
        "3A11111111111111",
    )


def test_a_lid_sender_is_resolved_from_engine_data(instance, fake_waha):
    event = one(instance, "message_lid_with_alt")
    assert (event.sender_lid, event.sender_phone, event.sender_name) == (
        "103899771998284@lid",
        "+5511988887777",
        "Maria",
    )
    assert fake_waha.requests == []  # no lookup needed


def test_a_lid_sender_is_resolved_with_the_lids_api(instance, fake_waha):
    fake_waha.sessions["acme-01"].lids["103899771998284@lid"] = "5511988887777@c.us"

    event = one(instance, "message_lid_lookup")

    (call,) = fake_waha.requests
    assert (call.method, call.path) == ("GET", "/api/acme-01/lids/103899771998284@lid")
    assert call.header("x-api-key") == fake_waha.api_key
    assert (event.sender_lid, event.sender_phone, event.chat_phone) == (
        "103899771998284@lid",
        "+5511988887777",
        "+5511988887777",
    )


def test_an_image_with_caption_and_media_url(instance):
    event = one(instance, "message_image")
    assert (event.message_type, event.text) == ("image", "Broken screen")
    assert event.metadata == {
        "mime_type": "image/jpeg",
        "media_url": "http://waha.test/api/files/acme-01/3A44444444444444.jpeg",
        "caption": "Broken screen",
    }


def test_a_voice_note(instance):
    event = one(instance, "message_voice")
    assert (event.message_type, event.text, event.metadata["mime_type"]) == ("audio", "", "audio/ogg; codecs=opus")


def test_a_location(instance):
    event = one(instance, "message_location")
    assert event.message_type == "location"
    assert event.metadata == {"latitude": "-23.5505", "longitude": "-46.6333", "name": "Loja Centro"}


def test_a_contact_card(instance):
    event = one(instance, "message_vcard")
    assert event.message_type == "contact"
    assert "FN:João" in event.metadata["contacts"][0]["vcard"]


def test_a_reply_keeps_the_bare_id_of_the_quoted_message(instance):
    event = one(instance, "message_reply")
    assert event.metadata == {"reply_to": "3EB0C431C26A1916E07E"}


def test_status_broadcasts_are_ignored(instance):
    counter = IgnoredCounter("waha")
    assert parse(instance, "waha", "message_status_broadcast") == []
    assert counter.delta("not_relevant") == 1


def test_revoke_notifications_are_ignored(instance):
    counter = IgnoredCounter("waha")
    assert parse(instance, "waha", "message_revoked_notification") == []
    assert counter.delta("not_relevant") == 1


@pytest.mark.parametrize(
    ("fixture", "status"),
    [
        ("message_ack_server", "sent"),
        ("message_ack_device", "delivered"),
        ("message_ack_read", "read"),
        ("message_ack_played", "read"),
    ],
)
def test_acks_map_to_statuses(instance, fixture, status):
    event = one(instance, fixture)
    assert event == MessageStatusUpdate(
        provider_message_id="4CC5A1B2C3D4E5F60718",
        status=status,
        recipient="+5511988887777",
        occurred_at=at(1741249702),
    )


def test_an_error_ack_fails_the_message(instance):
    event = one(instance, "message_ack_error")
    assert (event.status, event.error_code) == ("failed", "provider_error")


@pytest.mark.parametrize("fixture", ["message_ack_pending", "message_ack_inbound"])
def test_pending_acks_and_receipts_of_inbound_messages_are_ignored(instance, fixture):
    counter = IgnoredCounter("waha")
    assert parse(instance, "waha", fixture) == []
    assert counter.delta("not_relevant") == 1


def test_working_means_connected_with_the_paired_number(instance):
    event = one(instance, "session_status_working")
    assert isinstance(event, ConnectionUpdate)
    assert (event.state, event.phone_number, event.profile_name) == (InstanceState.CONNECTED, "+5511900001111", "Acme")
    assert event.dedup_key == f"conn:{event.event_id}" and event.event_id.startswith("evt_")


def test_scan_qr_code_means_pairing_and_fetches_the_new_qr(instance, fake_waha):
    with time_machine.travel(dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC), tick=False):
        connection, qr = parse(instance, "waha", "session_status_scan_qr_code")

    assert connection.state == InstanceState.PAIRING
    assert qr == QrUpdate(qr_payload="2@wahaqr,acme-01", expires_at=dt.datetime(2026, 3, 1, 12, 0, 40, tzinfo=dt.UTC))
    (call,) = fake_waha.requests
    assert (call.method, call.path, call.params) == ("GET", "/api/acme-01/auth/qr", {"format": "raw"})
    assert call.header("accept") == "application/json"


def test_starting_before_pairing_is_pairing(instance):
    assert one(instance, "session_status_starting").state == InstanceState.PAIRING


def test_starting_after_being_connected_is_a_restart(instance):
    instance.state = InstanceState.CONNECTED
    event = one(instance, "session_status_starting")
    assert (event.state, event.reason) == (InstanceState.DISCONNECTED, "The session is restarting.")


def test_failed_means_failed_and_suggests_a_ban(instance):
    event = one(instance, "session_status_failed")
    assert event.state == InstanceState.FAILED and "banned" in event.reason


def test_stopped_means_disconnected(instance):
    assert one(instance, "session_status_stopped").state == InstanceState.DISCONNECTED


def test_a_received_call(instance):
    assert one(instance, "call_received") == CallEvent(
        call_id="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        caller_id="5511988887777@c.us",
        caller_phone="+5511988887777",
        status="offer",
        occurred_at=at(1721374000),
    )


def test_an_accepted_call(instance):
    assert one(instance, "call_accepted").status == "accepted"


def test_a_caller_hanging_up_is_a_missed_call(instance):
    """WAHA reports a caller who hangs up before anyone answers as ``call.rejected``."""
    event = one(instance, "call_rejected")
    assert (event.status, event.is_video) == ("missed", True)


def test_noweb_media_that_was_not_downloaded_keeps_its_type(instance):
    """NOWEB with WHATSAPP_DOWNLOAD_MEDIA=false: ``hasMedia`` false, ``media`` null, the type is in ``_data``."""
    event = one(instance, "message_image_noweb_not_downloaded")
    assert (event.message_type, event.text, event.sender_name) == ("image", "Broken screen", "Maria")
    assert event.metadata == {"mime_type": "image/jpeg", "caption": "Broken screen"}


def test_a_gows_voice_note_that_was_not_downloaded_is_audio(instance):
    event = one(instance, "message_voice_gows_not_downloaded")
    assert (event.message_type, event.text, event.sender_name) == ("audio", "", "Maria")
    assert event.metadata == {"mime_type": "audio/ogg; codecs=opus", "voice_note": True}


def test_a_gows_video_known_only_from_its_media_type_is_a_video(instance):
    assert one(instance, "message_video_gows_media_type_only").message_type == "video"


def test_a_media_object_without_has_media_is_media_not_text(instance):
    event = one(instance, "message_media_without_has_media")
    assert (event.message_type, event.text) == ("document", "Invoice attached")
    assert event.metadata["mime_type"] == "application/pdf" and event.metadata["file_name"] == "invoice-1042.pdf"


def test_joining_a_group(instance):
    event = one(instance, "group_v2_join")
    assert event == GroupUpdate(
        group_id="120363001234567890@g.us",
        group_name="Work Group",
        action="join",
        event_id=event.event_id,
        occurred_at=at(1666943582),
    )
    assert event.event_id.startswith("evt_")


def test_leaving_a_group(instance):
    assert one(instance, "group_v2_leave").action == "leave"


def test_group_participants_joining(instance):
    event = one(instance, "group_v2_participants")
    assert (event.action, event.participants) == ("join", ("5511977776666@c.us",))


def test_a_group_update(instance):
    event = one(instance, "group_v2_update")
    assert (event.action, event.group_name) == ("updated", "New Work Group Name")


def test_archiving_a_chat(instance):
    event = one(instance, "chat_archive")
    assert isinstance(event, ConversationUpdate)
    assert (event.chat_id, event.phone, event.archived) == ("5511988887777@c.us", "+5511988887777", True)


def test_an_unknown_event_is_ignored_and_counted(instance):
    counter = IgnoredCounter("waha")
    assert parse(instance, "waha", "presence_update") == []
    assert counter.delta("unknown_event") == 1


def test_an_event_for_another_session_is_ignored(owner_alice):
    other = make_instance(owner_alice.account, provider="waha", provider_ref="other-session", name="other")
    counter = IgnoredCounter("waha")
    assert parse(other, "waha", "message_text") == []
    assert counter.delta("other_instance") == 1


def test_every_waha_fixture_has_a_test():
    names = {p.stem for p in (FIXTURES / "waha").glob("*.json")}
    source = Path(__file__).read_text(encoding="utf-8")
    assert {n for n in names if f'"{n}"' not in source} == set()
