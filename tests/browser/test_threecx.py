"""A person sets up a 3CX integration: live template preview, credentials shown once, what to paste into 3CX."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import expect

ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR", Path(__file__).resolve().parents[2] / "artifacts"))


def test_create_a_3cx_integration_with_a_live_template_preview(logged_in_page, base_url, owner_alice, settings):
    from tests.factories import make_instance

    settings.GATEWAY_ALLOW_PRIVATE_WEBHOOKS = True  # the 3CX Webhook URL below is a local receiver
    make_instance(owner_alice.account, name="support-line", connected=True)
    page = logged_in_page
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 1400})

    page.goto(f"{base_url}/integrations/3cx")
    page.click("text=Add a 3CX integration")
    page.fill("input[name=name]", "Head office 3CX")
    page.select_option(
        "select[name=default_instance]", label=page.locator("select[name=default_instance] option").nth(1).inner_text()
    )
    page.fill("input[name=endpoint_url]", "http://127.0.0.1:8701/sms/generic/0123456789abcdef0123456789abcdef")
    page.fill("input[name=business_name]", "Alice Bakery")
    page.check("input[name=call_event_enabled]")

    template = page.locator("textarea[name=tpl_missed_call_text]")
    template.fill("{{business_name}}: sorry we missed your call, ext {{agent_extension}}.")
    preview = page.locator('[data-preview-for="id_tpl_missed_call_text"]')
    expect(preview).to_have_text("Preview: Alice Bakery: sorry we missed your call, ext 101.")
    template.fill("Hi {{customer_name}}")
    expect(preview).to_contain_text("unknown: {{customer_name}}")
    template.fill("{{business_name}} missed your call at {{call_time}}; reply here.")
    page.screenshot(path=str(ARTIFACTS / "threecx-form.png"), full_page=True)
    page.click("[data-testid=threecx-save]")

    once = page.get_by_test_id("threecx-secret-once")
    expect(once).to_contain_text("tcxk_")
    expect(once).to_contain_text("tcxs_")
    paste = page.get_by_test_id("threecx-paste")
    expect(paste).to_contain_text("/integrations/3cx/webhook/tcx_")
    expect(paste).to_contain_text("http://127.0.0.1:8701/sms/…cdef")
    page.screenshot(path=str(ARTIFACTS / "threecx-created.png"), full_page=True)

    page.reload()
    expect(page.get_by_test_id("threecx-secret-once")).to_have_count(0)
    expect(page.get_by_test_id("threecx-paste")).not_to_contain_text("0123456789abcdef")
