"""Operators decide in the back office: the pending queue, approve, reject with a reason; the customer is emailed
and every decision is audit-logged."""

from __future__ import annotations

import pytest
from django.core import mail

from tests.message_templates.conftest import submit
from whatsapp_gateway.accounts.models import AuditLog
from whatsapp_gateway.message_templates.models import TemplateStatus
from whatsapp_gateway.message_templates.selectors import match_approved_template

pytestmark = pytest.mark.django_db
QUEUE = "/admin/message_templates/pendingtemplate/"


def test_the_queue_lists_only_pending_reviewed_templates(oscar_client, owner_alice, outsider_charlie, staff_oscar):
    from whatsapp_gateway.message_templates.services import template_approve

    submit(owner_alice, name="waiting_one")
    template_approve(template=submit(outsider_charlie, name="already_approved"), operator=staff_oscar)

    html = oscar_client.get(QUEUE).content.decode()

    assert "waiting_one" in html and "already_approved" not in html
    assert "Approve selected templates" in html and "Reject selected templates" in html


def test_approving_lets_the_text_pass_emails_the_customer_and_is_audited(
    oscar_client, owner_alice, staff_oscar, django_capture_on_commit_callbacks
):
    template = submit(owner_alice)

    with django_capture_on_commit_callbacks(execute=True):
        response = oscar_client.post(QUEUE, {"action": "approve", "_selected_action": [template.pk]})

    assert response.status_code == 302
    template.refresh_from_db()
    assert (template.status, template.reviewed_by) == (TemplateStatus.APPROVED, staff_oscar)
    assert match_approved_template(owner_alice.account.pk, "Your order 77 has shipped today.") == template
    (email,) = mail.outbox
    assert email.to == ["alice@example.com"] and "order_shipped" in email.subject and "approved" in email.subject
    audit = AuditLog.objects.get(action="template.approved")
    assert (audit.account, audit.actor, audit.target_id) == (owner_alice.account, staff_oscar, template.public_id)


def test_rejecting_asks_for_a_reason_then_tells_the_customer(
    oscar_client, owner_alice, member_bob, staff_oscar, django_capture_on_commit_callbacks
):
    template = submit(member_bob)

    ask = oscar_client.post(QUEUE, {"action": "reject", "_selected_action": [template.pk]})
    assert ask.status_code == 200 and "order_shipped" in ask.content.decode()
    template.refresh_from_db()
    assert template.status == TemplateStatus.PENDING  # nothing decided yet

    with django_capture_on_commit_callbacks(execute=True):
        oscar_client.post(
            QUEUE,
            {"action": "reject", "_selected_action": [template.pk], "apply": "1", "reason": "Invites a purchase."},
        )

    template.refresh_from_db()
    assert (template.status, template.rejection_reason) == (TemplateStatus.REJECTED, "Invites a purchase.")
    (email,) = mail.outbox
    assert sorted(email.to) == ["alice@example.com", "bob@example.com"]  # the owner and the member who submitted
    assert "Invites a purchase." in email.body
    assert AuditLog.objects.get(action="template.rejected").metadata["reason"] == "Invites a purchase."


def test_a_reject_without_a_reason_decides_nothing(oscar_client, owner_alice):
    template = submit(owner_alice)
    response = oscar_client.post(
        QUEUE, {"action": "reject", "_selected_action": [template.pk], "apply": "1", "reason": ""}
    )
    assert response.status_code == 200
    template.refresh_from_db()
    assert template.status == TemplateStatus.PENDING


def test_customers_cannot_reach_the_back_office(alice_client):
    assert alice_client.get(QUEUE).status_code == 302


def test_every_template_page_renders_for_staff(oscar_client, owner_alice):
    template = submit(owner_alice)
    for url in (
        QUEUE,
        "/admin/message_templates/template/",
        f"/admin/message_templates/template/{template.pk}/change/",
        f"{QUEUE}{template.pk}/change/",
    ):
        assert oscar_client.get(url).status_code == 200, url


def test_the_queue_shows_the_content_policys_verdict_beside_each_text(oscar_client, owner_alice):
    submit(owner_alice, name="plain_notice")
    submit(
        owner_alice,
        name="sneaky_promo",
        body="Your order {{1}} shipped! Use code SAVE20 for 20% off your next purchase, shop now!",
    )
    html = oscar_client.get(QUEUE).content.decode()
    assert "Content policy" in html
    assert "utility, " in html and "marketing, " in html and "promotion: " in html
