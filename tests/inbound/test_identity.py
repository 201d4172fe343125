"""Identity: every WhatsApp id seen is stored; an ``@lid`` is tied to its number when the provider gives it, and
contacts are merged so suppression matches every form."""

from __future__ import annotations

from tests.inbound.helpers import deliver, text_event
from whatsapp_gateway.contacts.models import Contact, ContactIdentity, Conversation
from whatsapp_gateway.contacts.services import clean_jid, contact_resolve
from whatsapp_gateway.inbound.models import InboundMessage
from whatsapp_gateway.suppression.models import Suppression
from whatsapp_gateway.suppression.selectors import suppression_blocking, suppression_find

LID = "103899771998284@lid"
PHONE = "+966512345678"


def ids_of(contact):
    return set(contact.identities.values_list("wa_id", flat=True))


def test_every_id_form_seen_is_stored_for_the_contact(alice_bare_instance):
    deliver(alice_bare_instance, text_event("hi", sender_id="966512345678@s.whatsapp.net", lid=LID))
    deliver(alice_bare_instance, text_event("hi again", sender_id="966512345678@c.us"))
    deliver(alice_bare_instance, text_event("device", sender_id="966512345678:12@s.whatsapp.net"))

    contact = Contact.objects.get()
    assert contact.phone_e164 == PHONE
    assert ids_of(contact) == {"966512345678@s.whatsapp.net", "966512345678@c.us", LID}


def test_a_lid_with_the_number_given_is_resolved_to_that_number(alice_bare_instance):
    deliver(alice_bare_instance, text_event("hi", phone=PHONE, sender_id=LID, lid=LID))
    row = InboundMessage.objects.get()
    assert row.sender_phone == PHONE and row.sender_lid == LID
    assert Contact.objects.get().phone_e164 == PHONE


def test_a_lid_only_sender_is_recorded_by_its_id(alice_bare_instance):
    deliver(alice_bare_instance, text_event("hi", phone="", sender_id=LID, lid=LID))
    row = InboundMessage.objects.get()
    assert row.sender_phone == "" and row.sender_display == LID
    contact = Contact.objects.get()
    assert contact.phone_e164 == "" and ids_of(contact) == {LID}


def test_a_lid_resolved_later_merges_the_two_contacts(alice_bare_instance):
    deliver(alice_bare_instance, text_event("from the lid", phone="", sender_id=LID, lid=LID))
    deliver(alice_bare_instance, text_event("from the number", phone=PHONE))
    assert Contact.objects.count() == 2

    deliver(alice_bare_instance, text_event("lid with number", phone=PHONE, sender_id=LID, lid=LID))

    contact = Contact.objects.get()
    assert contact.phone_e164 == PHONE
    assert ids_of(contact) == {LID, "966512345678@s.whatsapp.net"}
    assert set(InboundMessage.objects.values_list("contact", flat=True)) == {contact.pk}
    conversation = Conversation.objects.get()
    assert conversation.inbound_count == 3


def test_a_stop_sent_from_a_lid_blocks_the_number_it_resolves_to(owner_alice, alice_bare_instance):
    deliver(alice_bare_instance, text_event("STOP", phone="", sender_id=LID, lid=LID))
    suppression = Suppression.objects.get()
    assert suppression.phone_e164 == "" and suppression.wa_id == LID
    # The number is not known yet: only the lid is blocked.
    assert suppression_find(account=owner_alice.account, phone_e164=PHONE) is None
    assert suppression_find(account=owner_alice.account, phone_e164="", aliases=[LID]) == suppression

    deliver(alice_bare_instance, text_event("hello", phone=PHONE, sender_id=LID, lid=LID))

    assert suppression_find(account=owner_alice.account, phone_e164=PHONE) == suppression
    suppression.refresh_from_db()
    assert suppression.phone_e164 == PHONE  # the list now shows the number
    blocking = suppression_blocking(account=owner_alice.account, phone_e164=PHONE, purpose="support")
    assert blocking == suppression


def test_a_number_suppressed_by_hand_is_matched_when_the_person_writes_from_a_lid(owner_alice, alice_bare_instance):
    from whatsapp_gateway.suppression.services import suppression_add

    deliver(alice_bare_instance, text_event("hi", phone=PHONE, sender_id=LID, lid=LID))
    blocked = suppression_add(account=owner_alice.account, phone_e164=PHONE, note="asked by email")
    assert suppression_find(account=owner_alice.account, phone_e164="", aliases=[LID]) == blocked


def test_the_send_api_refuses_a_number_whose_lid_opted_out(owner_alice, alice_bare_instance):
    import pytest

    from whatsapp_gateway.lib import errors
    from whatsapp_gateway.messaging.services import send_message

    deliver(alice_bare_instance, text_event("STOP", phone="", sender_id=LID, lid=LID))
    deliver(alice_bare_instance, text_event("hello", phone=PHONE, sender_id=LID, lid=LID))
    with pytest.raises(errors.RecipientSuppressed):
        send_message(
            account=owner_alice.account,
            instance_ref=alice_bare_instance.name,
            phone=PHONE,
            text="Your order shipped.",
            purpose="transactional",
            source="api",
        )


def test_contacts_stay_per_account(owner_alice, outsider_charlie, alice_bare_instance, charlie_bare_instance):
    deliver(alice_bare_instance, text_event("hi", lid=LID))
    deliver(charlie_bare_instance, text_event("hi", lid=LID))
    assert Contact.objects.count() == 2
    assert ContactIdentity.objects.filter(wa_id=LID).count() == 2


def test_an_id_moves_to_the_number_the_provider_now_gives(owner_alice):
    account = owner_alice.account
    first = contact_resolve(account=account, phone_e164="+966512345678", wa_ids=[LID])
    second = contact_resolve(account=account, phone_e164="+966512345679", wa_ids=[LID])
    assert first.pk != second.pk
    assert ids_of(second) == {LID} and ids_of(first) == set()


def test_group_ids_are_never_stored_as_a_persons_id(owner_alice):
    contact = contact_resolve(account=owner_alice.account, wa_ids=["120363000000000001@g.us", LID])
    assert ids_of(contact) == {LID}


def test_clean_jid_drops_the_device_suffix():
    assert clean_jid("966512345678:7@s.whatsapp.net") == "966512345678@s.whatsapp.net"
    assert clean_jid(" 103899771998284@lid ") == LID
