"""The message checker page and the test-send tab's verdict: the content policy's decision, score, reasons and
highlighted words for a pasted text; nothing is sent, logged or counted."""

from __future__ import annotations

import pytest

from whatsapp_gateway.message_templates.models import Template
from whatsapp_gateway.messaging.models import Message

pytestmark = pytest.mark.django_db

PROMO = "Flash sale this weekend only! Take 30% off everything with code WEEKEND30. Shop now 🛍️"


def test_it_needs_a_signed_in_user(client):
    response = client.get("/message-checker")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_promotion_is_shown_blocked_with_its_words_highlighted(alice_client):
    page = alice_client.get("/message-checker")
    assert page.status_code == 200 and 'data-testid="checker-form"' in page.content.decode()
    response = alice_client.post("/message-checker", {"text": PROMO, "purpose": "transactional"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Blocked" in html and 'data-testid="checker-reasons"' in html
    assert "<mark>" in html and "WEEKEND30" in html
    assert 'data-testid="checker-request-review"' in html and 'name="prefill" value="1"' in html
    assert not Message.objects.exists()


def test_a_utility_text_is_shown_allowed(alice_client):
    text = "Hi Ana, your appointment with Dr. Silva is confirmed for Tuesday 14 May at 09:30."
    html = alice_client.post("/message-checker", {"text": text, "purpose": "operational"}).content.decode()
    assert "Allowed" in html and "<mark>" not in html and "checker-request-review" not in html


def test_an_empty_text_is_a_form_error(alice_client):
    assert alice_client.post("/message-checker", {"text": "  ", "purpose": "support"}).status_code == 400


def test_an_approved_template_of_the_account_passes_and_is_named(alice_client, owner_alice):
    Template.objects.create(
        account=owner_alice.account,
        name="weekend_notice",
        language="en",
        category="utility",
        status="approved",
        body="Flash sale this weekend only! Take {{1}} off everything with code {{2}}. Shop now 🛍️",
    )
    html = alice_client.post("/message-checker", {"text": PROMO, "purpose": "transactional"}).content.decode()
    assert "weekend_notice" in html and "Allowed" in html


def test_another_accounts_template_does_not_apply(alice_client, outsider_charlie):
    Template.objects.create(
        account=outsider_charlie.account,
        name="theirs",
        language="en",
        category="utility",
        status="approved",
        body=PROMO,
    )
    html = alice_client.post("/message-checker", {"text": PROMO, "purpose": "transactional"}).content.decode()
    assert "theirs" not in html and "Blocked" in html


def test_a_promotion_inside_a_templates_variable_is_still_judged(alice_client, owner_alice):
    Template.objects.create(
        account=owner_alice.account,
        name="order_note",
        language="en",
        category="utility",
        status="approved",
        body="Hello, a note about your order: {{1}}",
    )
    fine = "Hello, a note about your order: it leaves the warehouse on Monday."
    sneaky = "Hello, a note about your order: flash sale! 40% off everything with code SAVE40, shop now today only!"
    assert "order_note" in alice_client.post("/message-checker", {"text": fine, "purpose": "support"}).content.decode()
    html = alice_client.post("/message-checker", {"text": sneaky, "purpose": "support"}).content.decode()
    assert "order_note" not in html and "Blocked" in html
