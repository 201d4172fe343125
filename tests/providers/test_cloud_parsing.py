"""Meta WhatsApp Cloud API webhook payloads (``fixtures/cloud/*.json``) → normalised events, one test per fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories import make_instance
from tests.providers.helpers import FIXTURES, IgnoredCounter, at, parse
from whatsapp_gateway.inbound.models import InboundMessage as InboundRow
from whatsapp_gateway.providers.base import InboundMessage, MessageStatusUpdate
from whatsapp_gateway.providers.cloud.client import WINDOW_MESSAGE
from whatsapp_gateway.providers.services import events_process

pytestmark = pytest.mark.django_db
WAMID = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"


@pytest.fixture
def instance(owner_alice):
    return make_instance(owner_alice.account, provider="cloud", provider_ref="106540352242922")


def one(instance, name):
    (event,) = parse(instance, "cloud", name)
    return event


def test_inbound_text(instance):
    event = one(instance, "messages_text")
    assert event == InboundMessage(
        provider_message_id="wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzTEXT",
        chat_id="16505551234@s.whatsapp.net",
        sender_id="16505551234@s.whatsapp.net",
        sender_phone="+16505551234",
        sender_name="Sheena Nelson",
        chat_phone="+16505551234",
        message_type="text",
        text="Does it come in another color?",
        occurred_at=at(1749416383),
    )


def test_a_reply_keeps_the_quoted_message_id(instance):
    event = one(instance, "messages_reply_context")
    assert (event.text, event.metadata) == ("STOP", {"reply_to": "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJPUklHSU5BTAA="})


def test_a_click_to_whatsapp_ad_keeps_its_referral(instance):
    event = one(instance, "messages_referral")
    assert event.metadata["referral"] == {
        "source_type": "ad",
        "source_id": "120200000000000",
        "source_url": "https://fb.me/abc123",
        "headline": "Spring sale",
        "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ",
    }


def test_an_image(instance):
    event = one(instance, "messages_image")
    assert (event.message_type, event.text) == ("image", "Broken screen")
    assert event.metadata == {"media_id": "1234567890123456", "mime_type": "image/jpeg", "caption": "Broken screen"}


def test_a_voice_note(instance):
    event = one(instance, "messages_audio_voice")
    assert (event.message_type, event.metadata["voice_note"]) == ("audio", True)


def test_a_document(instance):
    event = one(instance, "messages_document")
    assert event.metadata == {
        "media_id": "3234567890123456",
        "mime_type": "application/pdf",
        "caption": "My invoice",
        "file_name": "invoice-1042.pdf",
    }


def test_a_sticker(instance):
    assert one(instance, "messages_sticker").message_type == "sticker"


def test_a_location(instance):
    event = one(instance, "messages_location")
    assert event.metadata == {
        "latitude": -23.5505,
        "longitude": -46.6333,
        "name": "Loja Centro",
        "address": "Av. Paulista, 1000",
    }


def test_contacts(instance):
    event = one(instance, "messages_contacts")
    assert event.message_type == "contact"
    assert event.metadata["contacts"] == [{"display_name": "João Silva", "vcard": "", "phones": ["+55 11 97777-6666"]}]


def test_a_reaction(instance):
    event = one(instance, "messages_reaction")
    assert (event.message_type, event.text) == ("reaction", "👍")
    assert event.metadata["target_message_id"] == "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJPUklHSU5BTAA="


def test_an_interactive_button_reply_is_text(instance):
    event = one(instance, "messages_interactive_button_reply")
    assert (event.message_type, event.text) == ("text", "Yes, confirm")
    assert event.metadata == {"reply_kind": "button_reply", "reply_id": "confirm-yes"}


def test_a_template_quick_reply_button_is_text(instance):
    event = one(instance, "messages_button")
    assert (event.text, event.metadata["reply_id"]) == ("Stop promotions", "STOP_PROMOTIONS")


def test_an_unsupported_message_is_unknown(instance):
    event = one(instance, "messages_unsupported")
    assert (event.message_type, event.metadata) == ("unknown", {"provider_type": "unsupported"})


@pytest.mark.parametrize(
    ("fixture", "status"), [("statuses_sent", "sent"), ("statuses_delivered", "delivered"), ("statuses_read", "read")]
)
def test_statuses(instance, fixture, status):
    event = one(instance, fixture)
    assert event == MessageStatusUpdate(
        provider_message_id=WAMID, status=status, recipient="+16505551234", occurred_at=at(1698903217)
    )


def test_a_message_outside_the_24_hour_window_fails_with_a_clear_reason(instance):
    event = one(instance, "statuses_failed_24h_window")
    assert (event.status, event.error_code, event.error_message) == ("failed", "outside_24h_window", WINDOW_MESSAGE)
    assert "template" in event.error_message


def test_an_undeliverable_message(instance):
    event = one(instance, "statuses_failed_undeliverable")
    assert (event.status, event.error_code) == ("failed", "undeliverable")


def test_an_unknown_error_code_keeps_meta_s_words(instance):
    event = one(instance, "statuses_failed_unknown_code")
    assert event.error_code == "provider_error_135000"
    assert event.error_message.startswith("Generic user error Message failed to send")


def test_several_statuses_in_one_webhook(instance):
    delivered, read = parse(instance, "cloud", "statuses_batch")
    assert (delivered.provider_message_id, delivered.status) == ("wamid.A", "delivered")
    assert (read.provider_message_id, read.status, read.recipient) == ("wamid.B", "read", "+16505551235")


def test_a_webhook_for_another_phone_number_is_ignored(instance):
    counter = IgnoredCounter("cloud")
    assert parse(instance, "cloud", "other_phone_number") == []
    assert counter.delta("other_instance") == 1


def test_other_webhook_fields_are_ignored_and_counted(instance):
    counter = IgnoredCounter("cloud")
    assert parse(instance, "cloud", "account_update") == []
    assert counter.delta("unknown_event") == 1


def test_webhook_level_errors_carry_no_event(instance):
    counter = IgnoredCounter("cloud")
    assert parse(instance, "cloud", "webhook_errors") == []
    assert counter.delta("not_relevant") == 1


def test_an_unconfigured_instance_ignores_everything(owner_alice):
    unconfigured = make_instance(owner_alice.account, provider="cloud", name="new")
    assert parse(unconfigured, "cloud", "messages_text") == []


@pytest.mark.parametrize(
    "fixture", ["messages_edit", "messages_revoke", "messages_system_number_changed"], ids=["edit", "revoke", "system"]
)
def test_edits_revokes_and_system_notices_are_not_new_messages(instance, fixture):
    counter = IgnoredCounter("cloud")
    assert parse(instance, "cloud", fixture) == []
    assert counter.delta("not_relevant") == 1 and counter.delta("malformed") == 0


def test_a_user_with_a_username_and_no_wa_id_is_kept(instance):
    event = one(instance, "messages_username_only")
    assert isinstance(event, InboundMessage)
    assert (event.chat_id, event.sender_id, event.sender_phone) == ("US.13491208655302741918",) * 2 + ("",)
    assert (event.sender_name, event.text) == ("Sheena Nelson", "Is my order ready?")
    assert event.metadata == {"user_id": "US.13491208655302741918"}
    # …and it is recorded like any inbound message (no phone number to attach it to).
    assert events_process(instance=instance, events=[event]) == (1, 0)
    assert InboundRow.objects.filter(instance=instance, text="Is my order ready?").count() == 1


def test_every_cloud_fixture_has_a_test():
    names = {p.stem for p in (FIXTURES / "cloud").glob("*.json")}
    source = Path(__file__).read_text(encoding="utf-8")
    assert {n for n in names if f'"{n}"' not in source} == set()
