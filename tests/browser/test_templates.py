"""Templates in a browser: "Request a review" from a blocked message, the templates page with both sources, and a
Meta template send that reaches ``read`` in the message log (screenshots for docs/screenshots/)."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import expect

from tests.factories import make_instance, make_operator
from tests.message_templates.test_portal_pages import blocked_message
from tests.providers.conftest import post_callback
from tests.providers.fakes.cloud import WABA_ID
from whatsapp_gateway.message_templates.models import Template
from whatsapp_gateway.message_templates.services import template_approve
from whatsapp_gateway.message_templates.sync import template_sync
from whatsapp_gateway.messaging import queue
from whatsapp_gateway.messaging.models import Message
from whatsapp_gateway.messaging.services import send_message

ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR", Path(__file__).resolve().parents[2] / "artifacts"))


def test_review_request_templates_page_and_a_template_send_read(
    logged_in_page,
    base_url,
    owner_alice,
    client,
    fake_cloud,
):
    page = logged_in_page
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    # A blocked text -> "Request a review" -> the customer marks the variable part and submits.
    message = blocked_message(owner_alice.account, text="Your table for 4 at Bistro Nour is booked for Friday 20:00.")
    page.goto(f"{base_url}/messages/{message.public_id}")
    page.get_by_test_id("request-review").click()
    expect(page.locator("textarea[name=body]")).to_have_value(message.text)
    page.fill("textarea[name=body]", "Your table for {{1}} at Bistro Nour is booked for {{2}}.")
    page.fill("input[name=name]", "table_booked")
    page.fill("textarea[name=use_case]", "Right after a guest books a table online.")
    page.get_by_test_id("submit-template").click()
    page.wait_for_url(f"{base_url}/templates")
    expect(page.get_by_test_id("reviewed-templates")).to_contain_text("Pending review")

    # An operator approves it; Meta's templates of the Cloud API number are synced.
    template_approve(template=Template.objects.get(name="table_booked"), operator=make_operator("ops@gw.example"))
    instance = make_instance(
        owner_alice.account, provider="cloud", name="cloud-line", provider_ref="106540352242922", state="connected"
    )
    fake_cloud.add_template("order_shipped", "Your order {{1}} has shipped and arrives {{2}}.")
    fake_cloud.add_template(
        "login_code", "{{1}} is your verification code. Do not share it.", category="AUTHENTICATION"
    )
    fake_cloud.add_template("spring_sale", "Spring sale: {{1}} off everything!", category="MARKETING")
    fake_cloud.add_template("quality_check", "How was your visit on {{1}}?", status="PAUSED")
    template_sync(instance=instance, waba_id=WABA_ID)

    page.goto(f"{base_url}/templates")
    expect(page.get_by_test_id("reviewed-templates")).to_contain_text("Approved")
    expect(page.get_by_test_id("meta-templates")).to_contain_text("order_shipped")
    page.screenshot(path=str(ARTIFACTS / "templates-page.png"), full_page=True)

    # A Meta template send to someone who never wrote: sent as a WhatsApp template, then sent/delivered/read.
    outcome = send_message(
        account=owner_alice.account,
        instance_ref="cloud-line",
        phone="+966501234567",
        text=None,
        template={"name": "order_shipped", "language": "en", "variables": ["#1042", "on Thursday"]},
        purpose="transactional",
        source="api",
    )
    queue.lane_run(instance_id=instance.pk)
    sent = Message.objects.get(public_id=outcome.message_id)
    for status in ("sent", "delivered", "read"):
        post_callback(client, instance, fake_cloud.status_callback(sent.provider_message_id, status))
    sent.refresh_from_db()
    assert sent.status == "read"

    page.goto(f"{base_url}/messages")
    expect(page.get_by_test_id("template-badge").first).to_contain_text("order_shipped")
    page.screenshot(path=str(ARTIFACTS / "template-send-read-log.png"), full_page=True)
    page.goto(f"{base_url}/messages/{sent.public_id}")
    expect(page.get_by_test_id("template")).to_contain_text("sent as a WhatsApp template")
    page.screenshot(path=str(ARTIFACTS / "template-send-read-detail.png"), full_page=True)
