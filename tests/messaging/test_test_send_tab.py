"""The test-send tab: verify one of the account's own numbers by code, then send through the same guard."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages

from whatsapp_gateway.messaging import policy
from whatsapp_gateway.messaging.models import Message, TestNumber

pytestmark = pytest.mark.django_db


def tab(instance):
    return f"/instances/{instance.public_id}/manage?tab=test-send"


def flashes(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def add_number(client, instance, phone="+966501234567"):
    response = client.post(tab(instance), {"action": "add", "phone": phone, "label": "my phone"})
    assert response.status_code == 302, response.content
    message = Message.objects.filter(source="portal_test").latest("log_id")
    code = re.search(r"code is (\d{6})", message.text).group(1)
    return TestNumber.objects.get(phone_e164=message.phone_e164), code


def test_it_sends_a_code_and_verifies_the_number(alice_client, alice_fake_instance):
    number, code = add_number(alice_client, alice_fake_instance)
    assert not number.is_verified
    sent = Message.objects.get(source="portal_test")
    assert sent.purpose == "authentication" and sent.status == "queued"
    wrong = alice_client.post(
        tab(alice_fake_instance),
        {"action": "verify", "number": number.public_id, "code": "000000" if code != "000000" else "111111"},
    )
    assert "not right" in " ".join(flashes(wrong))
    alice_client.post(tab(alice_fake_instance), {"action": "verify", "number": number.public_id, "code": code})
    number.refresh_from_db()
    assert number.is_verified


def test_it_sends_a_test_message_through_the_guard(alice_client, alice_fake_instance, owner_alice):
    number, code = add_number(alice_client, alice_fake_instance)
    alice_client.post(tab(alice_fake_instance), {"action": "verify", "number": number.public_id, "code": code})
    response = alice_client.post(
        tab(alice_fake_instance),
        {"action": "send", "number": number.public_id, "message": "Hi me", "purpose": "support"},
    )
    assert response.status_code == 302
    message = Message.objects.filter(source="portal_test").latest("log_id")
    assert message.text == "Hi me" and message.actor == owner_alice.user and message.status == "queued"
    page = alice_client.get(response["Location"]).content.decode()
    assert 'data-testid="last-sent"' in page


def test_guard_blocks_show_their_code(alice_client, alice_fake_instance):
    number, code = add_number(alice_client, alice_fake_instance)
    alice_client.post(tab(alice_fake_instance), {"action": "verify", "number": number.public_id, "code": code})
    spam = "HUGE SALE! 50% off, limited time offer, buy now: bit.ly/x"
    response = alice_client.post(
        tab(alice_fake_instance), {"action": "send", "number": number.public_id, "message": spam, "purpose": "support"}
    )
    assert "policy_violation" in " ".join(flashes(response))


def test_unverified_numbers_cannot_receive_test_messages(alice_client, alice_fake_instance):
    number, _ = add_number(alice_client, alice_fake_instance)
    response = alice_client.post(
        tab(alice_fake_instance), {"action": "send", "number": number.public_id, "message": "Hi", "purpose": "support"}
    )
    assert response.status_code == 400
    assert Message.objects.filter(source="portal_test").count() == 1  # only the code


def test_the_daily_cap_applies(alice_client, alice_fake_instance, monkeypatch):
    monkeypatch.setattr(policy, "PORTAL_TEST_DAILY_CAP", 1)
    add_number(alice_client, alice_fake_instance)
    response = alice_client.post(tab(alice_fake_instance), {"action": "add", "phone": "+966501234568"})
    assert "at most 1 test messages a day" in " ".join(flashes(response))
    assert Message.objects.filter(source="portal_test").count() == 1


def test_test_numbers_of_another_account_cannot_be_used(
    alice_client, charlie_client, alice_fake_instance, charlie_fake_instance
):
    number, code = add_number(alice_client, alice_fake_instance)
    response = charlie_client.post(
        tab(charlie_fake_instance), {"action": "verify", "number": number.public_id, "code": code}
    )
    assert "No such test number" in " ".join(flashes(response))
    number.refresh_from_db()
    assert not number.is_verified


def test_the_tab_renders(alice_client, alice_fake_instance):
    page = alice_client.get(tab(alice_fake_instance)).content.decode()
    assert "My test numbers" in page and f"of {policy.PORTAL_TEST_DAILY_CAP} test messages" in page


def test_check_first_shows_the_content_verdict_without_sending(alice_client, alice_fake_instance):
    number, code = add_number(alice_client, alice_fake_instance)
    alice_client.post(tab(alice_fake_instance), {"action": "verify", "number": number.public_id, "code": code})
    before = Message.objects.count()
    promo = "Weekend flash sale! 30% off everything with code SAVE30, shop now 🛍️"
    response = alice_client.post(
        tab(alice_fake_instance),
        {"action": ["send", "check"], "number": number.public_id, "message": promo, "purpose": "support"},
    )
    html = response.content.decode()
    assert response.status_code == 200 and 'data-testid="test-verdict"' in html
    assert "Would be blocked" in html and "<mark>" in html
    assert Message.objects.count() == before
