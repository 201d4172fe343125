"""Opt-out and re-subscribe keywords arriving through the pipeline: suppression, event, confirmation."""

from __future__ import annotations

import pytest

from tests.inbound.helpers import deliver, text_event
from whatsapp_gateway.accounts.models import AuditLog
from whatsapp_gateway.inbound.models import InboundMessage
from whatsapp_gateway.suppression.models import Suppression
from whatsapp_gateway.suppression.selectors import suppression_blocking
from whatsapp_gateway.suppression.services import suppression_add
from whatsapp_gateway.webhooks.models import Event

PHONE = "+966512345678"


def opted_out_events(instance):
    return list(Event.objects.filter(instance=instance, event_type="recipient.opted_out"))


def test_stop_suppresses_the_sender_emits_the_event_and_sends_one_confirmation(
    owner_alice, alice_bare_instance, sent_confirmations, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        deliver(alice_bare_instance, text_event("  Stop "))

    row = InboundMessage.objects.get()
    assert row.is_opt_out and row.keyword == "stop" and row.keyword_action == "opt_out"
    suppression = Suppression.objects.get()
    assert (suppression.phone_e164, suppression.reason, suppression.source, suppression.keyword) == (
        PHONE,
        "opted_out",
        "keyword",
        "stop",
    )
    assert suppression.instance == alice_bare_instance
    [event] = opted_out_events(alice_bare_instance)
    assert {k: event.payload[k] for k in ("phone", "keyword", "suppression_id")} == {
        "phone": PHONE,
        "keyword": "stop",
        "suppression_id": suppression.public_id,
    }
    assert Event.objects.filter(event_type="message.received").count() == 1
    [call] = sent_confirmations
    assert call["source"] == "opt_out_confirmation" and call["purpose"] == "operational"
    assert call["phone"] == PHONE and call["instance_ref"] == alice_bare_instance.public_id
    assert "START" in call["text"]
    assert AuditLog.objects.filter(action="suppression.opted_out", target_id=suppression.public_id).exists()


def test_an_arabic_opt_out_gets_an_arabic_confirmation(
    alice_bare_instance, sent_confirmations, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        deliver(alice_bare_instance, text_event("إيقاف"))
    assert Suppression.objects.get().keyword == "إيقاف"
    assert "أرسل START" in sent_confirmations[0]["text"]


def test_a_second_stop_creates_nothing_new(alice_bare_instance, sent_confirmations, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        deliver(alice_bare_instance, text_event("STOP"))
        deliver(alice_bare_instance, text_event("stop"))
    assert Suppression.objects.count() == 1
    assert len(opted_out_events(alice_bare_instance)) == 1
    assert len(sent_confirmations) == 1
    assert InboundMessage.objects.filter(is_opt_out=True).count() == 2


def test_no_confirmation_when_the_account_turned_it_off(
    owner_alice, alice_bare_instance, sent_confirmations, django_capture_on_commit_callbacks
):
    owner_alice.account.send_opt_out_confirmation = False
    owner_alice.account.save()
    alice_bare_instance.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        deliver(alice_bare_instance, text_event("STOP"))
    assert Suppression.objects.count() == 1
    assert sent_confirmations == []


def test_the_confirmation_really_goes_through_the_send_guard(
    owner_alice, alice_bare_instance, django_capture_on_commit_callbacks
):
    from whatsapp_gateway.messaging.models import Message

    with django_capture_on_commit_callbacks(execute=True):
        deliver(alice_bare_instance, text_event("STOP"))
    message = Message.objects.get(source="opt_out_confirmation")
    assert message.phone_e164 == PHONE and message.status != "blocked"


def test_account_keywords_opt_out_too(owner_alice, alice_bare_instance, sent_confirmations):
    owner_alice.account.extra_opt_out_keywords = ["basta"]
    owner_alice.account.save()
    alice_bare_instance.refresh_from_db()
    deliver(alice_bare_instance, text_event("BASTA"))
    assert Suppression.objects.get().keyword == "basta"


@pytest.mark.parametrize("text", ["stop please", "STOP!", "Please unsubscribe me", "ايقاف الرسائل"])
def test_messages_that_merely_contain_a_keyword_do_not_opt_out(alice_bare_instance, text):
    deliver(alice_bare_instance, text_event(text))
    assert not Suppression.objects.exists()
    assert not InboundMessage.objects.get().is_opt_out


def test_a_keyword_caption_on_an_image_is_not_an_opt_out(alice_bare_instance):
    deliver(alice_bare_instance, text_event("STOP", message_type="image", metadata={"caption": "STOP"}))
    assert not Suppression.objects.exists()


def test_start_resubscribes_a_number_that_opted_out_by_keyword(owner_alice, alice_bare_instance, sent_confirmations):
    deliver(alice_bare_instance, text_event("STOP"))
    deliver(alice_bare_instance, text_event("start"))

    suppression = Suppression.objects.get()
    assert suppression.removed_at is not None and suppression.removed_note == "Re-subscribed by replying START"
    assert suppression_blocking(account=owner_alice.account, phone_e164=PHONE, purpose="support") is None
    row = InboundMessage.objects.order_by("-id").first()
    assert row.keyword_action == "resubscribe" and not row.is_opt_out
    assert AuditLog.objects.filter(action="suppression.resubscribed").exists()

    deliver(alice_bare_instance, text_event("STOP"))  # and can opt out again
    assert Suppression.objects.filter(removed_at__isnull=True).count() == 1


def test_unstop_resubscribes_too(alice_bare_instance, sent_confirmations):
    deliver(alice_bare_instance, text_event("ايقاف"))
    deliver(alice_bare_instance, text_event("UNSTOP"))
    assert Suppression.objects.get().removed_at is not None


def test_start_never_lifts_a_manual_block(owner_alice, alice_bare_instance):
    suppression_add(account=owner_alice.account, phone_e164=PHONE, note="abusive")
    deliver(alice_bare_instance, text_event("START"))
    suppression = Suppression.objects.get()
    assert suppression.removed_at is None and suppression.reason == "blocked"
    assert InboundMessage.objects.get().keyword_action == ""


def test_start_does_not_lift_an_imported_or_3cx_opt_out(owner_alice, alice_bare_instance):
    suppression_add(account=owner_alice.account, phone_e164=PHONE, reason="opted_out", source="threecx")
    deliver(alice_bare_instance, text_event("START"))
    assert Suppression.objects.get().removed_at is None


def test_stop_from_a_blocked_number_keeps_the_block(owner_alice, alice_bare_instance, sent_confirmations):
    suppression_add(account=owner_alice.account, phone_e164=PHONE, note="abusive")
    deliver(alice_bare_instance, text_event("STOP"))
    suppression = Suppression.objects.get()
    assert suppression.reason == "blocked"
    assert InboundMessage.objects.get().is_opt_out
    assert not opted_out_events(alice_bare_instance)


# --- The authentication exception (docs/api.md "Opt-outs and suppression"), in the selector and through the real send guard --------------


def _send(account, instance, purpose):
    from whatsapp_gateway.messaging.services import send_message

    return send_message(
        account=account,
        instance_ref=instance.name,
        phone=PHONE,
        text="Your code is 123456",
        purpose=purpose,
        source="api",
    )


def test_one_time_codes_reach_a_number_that_opted_out_by_keyword(owner_alice, alice_bare_instance):
    from whatsapp_gateway.lib import errors

    deliver(alice_bare_instance, text_event("STOP"))
    account = owner_alice.account
    assert suppression_blocking(account=account, phone_e164=PHONE, purpose="authentication") is None
    assert suppression_blocking(account=account, phone_e164=PHONE, purpose="transactional") is not None
    assert _send(account, alice_bare_instance, "authentication").status == "queued"
    with pytest.raises(errors.RecipientSuppressed):
        _send(account, alice_bare_instance, "transactional")


def test_one_time_codes_never_reach_a_blocked_number(owner_alice, alice_bare_instance):
    from whatsapp_gateway.lib import errors

    suppression_add(account=owner_alice.account, phone_e164=PHONE)
    assert suppression_blocking(account=owner_alice.account, phone_e164=PHONE, purpose="authentication") is not None
    with pytest.raises(errors.RecipientSuppressed):
        _send(owner_alice.account, alice_bare_instance, "authentication")


def test_the_account_can_turn_the_authentication_exception_off(owner_alice, alice_bare_instance):
    from whatsapp_gateway.lib import errors

    deliver(alice_bare_instance, text_event("STOP"))
    account = owner_alice.account
    account.allow_authentication_to_opted_out = False
    account.save()
    assert suppression_blocking(account=account, phone_e164=PHONE, purpose="authentication") is not None
    with pytest.raises(errors.RecipientSuppressed):
        _send(account, alice_bare_instance, "authentication")
