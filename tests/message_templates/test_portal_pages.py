"""The portal's templates pages: the list, submitting a text for review (also prefilled from a blocked message or
from the message checker), editing and resubmitting a rejected template; tenant isolation."""

from __future__ import annotations

import contextlib

import pytest

from tests.isolation import assert_other_account_gets_404
from tests.message_templates.conftest import submit
from whatsapp_gateway.accounts.models import AuditLog
from whatsapp_gateway.lib import errors
from whatsapp_gateway.message_templates.models import Template, TemplateStatus
from whatsapp_gateway.message_templates.services import template_reject
from whatsapp_gateway.messaging.models import Message

pytestmark = pytest.mark.django_db

FORM = {
    "name": "order_shipped",
    "language": "en",
    "category": "utility",
    "body": "Your order {{1}} has shipped today.",
    "use_case": "After dispatch, to the buyer.",
}


def blocked_message(account, text="Your order #5521 has shipped today.") -> Message:
    """A message in the log blocked by the content policy (recorded the way the send service records one)."""
    from whatsapp_gateway.messaging.services import _next_log_id

    return Message.objects.create(
        account=account,
        log_id=_next_log_id(account.pk),
        source="api",
        purpose="transactional",
        text=text,
        status="blocked",
        decision="block",
        block_code="policy_violation",
        block_message="The message looks like marketing.",
    )


def test_the_list_shows_both_sources_with_status_and_rejection_reason(alice_client, owner_alice, staff_oscar):
    template = submit(owner_alice)
    template_reject(template=template, operator=staff_oscar, reason="It invites a new purchase.")

    page = alice_client.get("/templates")

    assert page.status_code == 200
    body = page.content.decode()
    assert "order_shipped" in body and "Rejected" in body and "It invites a new purchase." in body
    assert "Meta templates" in body
    assert 'href="/templates"' in body  # in the main navigation


def test_submitting_a_text_creates_a_pending_template_and_an_audit_entry(alice_client, owner_alice):
    response = alice_client.post("/templates/new", FORM)

    assert response.status_code == 302 and response["Location"] == "/templates"
    template = Template.objects.get(account=owner_alice.account)
    assert (template.status, template.source, template.submitted_by) == ("pending", "reviewed", owner_alice.user)
    audit = AuditLog.objects.get(action="template.submitted")
    assert audit.target_id == template.public_id and audit.actor == owner_alice.user


def test_a_member_may_submit_too(bob_client, member_bob):
    assert bob_client.post("/templates/new", FORM).status_code == 302


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("body", "Hello {{name}} buy", "numbers only"),
        ("body", "Hi {{1}}", "at least 3 words"),
        ("name", "Order Shipped!", "lowercase letters"),
        ("category", "marketing", "not one of the available choices"),
    ],
)
def test_invalid_submissions_are_explained_and_nothing_is_saved(alice_client, field, value, error):
    response = alice_client.post("/templates/new", {**FORM, field: value})

    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Template.objects.exists()


def test_a_second_template_with_the_same_name_and_language_is_refused(alice_client, owner_alice):
    submit(owner_alice)
    response = alice_client.post("/templates/new", FORM)
    assert response.status_code == 400 and "already have a template named order_shipped" in response.content.decode()


def test_the_form_is_prefilled_from_one_of_the_account_s_messages(alice_client, owner_alice):
    message = blocked_message(owner_alice.account)

    page = alice_client.get(f"/templates/new?message={message.public_id}")

    assert page.status_code == 200
    html = page.content.decode()
    assert "Your order #5521 has shipped today.</textarea>" in html
    assert 'value="your_order_5521_has"' in html  # a suggested name
    assert f'value="{message.public_id}"' in html  # kept for the audit entry


def test_another_account_s_message_cannot_prefill_the_form(alice_client, outsider_charlie):
    message = blocked_message(outsider_charlie.account, text="Charlie's secret text")
    assert_other_account_gets_404(alice_client, f"/templates/new?message={message.public_id}")
    assert alice_client.get("/templates/new?message=msg_doesnotexist").status_code == 404


def test_the_message_checker_prefills_the_form_by_post_and_nothing_is_saved(alice_client):
    page = alice_client.post("/templates/new", {"prefill": "1", "text": "Your table for 4 is booked for Friday."})

    assert page.status_code == 200
    assert "Your table for 4 is booked for Friday.</textarea>" in page.content.decode()
    assert not Template.objects.exists()


def test_a_blocked_message_links_to_request_a_review(alice_client, owner_alice):
    message = blocked_message(owner_alice.account)

    html = alice_client.get(f"/messages/{message.public_id}").content.decode()

    assert f'href="/templates/new?message={message.public_id}"' in html and "Request a review" in html


def test_a_message_blocked_for_another_reason_has_no_review_link(alice_client, owner_alice):
    from whatsapp_gateway.messaging.services import send_message

    with contextlib.suppress(errors.GatewayError):
        send_message(
            account=owner_alice.account,
            instance_ref="nope",
            phone="+966501234567",
            text="Hello there",
            purpose="marketing",
            source="api",
        )
    message = Message.objects.get(account=owner_alice.account)
    assert "Request a review" not in alice_client.get(f"/messages/{message.public_id}").content.decode()


def test_a_rejected_template_is_edited_and_resubmitted(alice_client, owner_alice, staff_oscar):
    template = template_reject(template=submit(owner_alice), operator=staff_oscar, reason="Too vague.")

    page = alice_client.get(f"/templates/{template.public_id}/edit")
    assert page.status_code == 200 and "Too vague." in page.content.decode()

    response = alice_client.post(
        f"/templates/{template.public_id}/edit", {**FORM, "body": "Your order {{1}} has shipped with DHL today."}
    )

    assert response.status_code == 302
    template.refresh_from_db()
    assert template.status == TemplateStatus.PENDING
    assert template.body == "Your order {{1}} has shipped with DHL today."
    audit = AuditLog.objects.get(action="template.resubmitted")
    assert audit.metadata["previous"] == {"status": "rejected", "rejection_reason": "Too vague."}


def test_another_account_s_template_is_404_and_not_listed(alice_client, outsider_charlie):
    template = submit(outsider_charlie, name="charlie_only")

    assert_other_account_gets_404(alice_client, f"/templates/{template.public_id}/edit", methods=("get", "post"))
    assert "charlie_only" not in alice_client.get("/templates").content.decode()
    template.refresh_from_db()
    assert template.status == TemplateStatus.PENDING


def test_pages_need_a_login(client, db):
    for url in ("/templates", "/templates/new"):
        assert client.get(url).status_code == 302
