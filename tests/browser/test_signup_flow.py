"""A new customer signs up, confirms the email, lands in the portal, visits every area and signs out — in Chromium.

Screenshots of each step go to ``artifacts/`` (gitignored) for the closing note.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from django.core import mail
from playwright.sync_api import expect

ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR", Path(__file__).resolve().parents[2] / "artifacts"))
PASSWORD = "browser-test-passphrase-5"

# (link text in the main navigation, the page's heading, screenshot name)
NAV_AREAS = [
    ("Dashboard", "Dashboard", "area-dashboard"),
    ("Instances", "Instances", "area-instances"),
    ("API keys", "API keys", "area-api-keys"),
    ("Message log", "Message log", "area-message-log"),
    ("Suppressed recipients", "Suppressed recipients", "area-suppressed-recipients"),
    ("Inbound logs", "Inbound logs", "area-inbound-logs"),
    ("3CX integration", "3CX", "area-integrations-3cx"),
    ("Docs", "Documentation", "area-docs"),
]


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"signup-flow-{name}.png"), full_page=True)


def test_sign_up_confirm_navigate_every_area_and_sign_out(page, base_url):
    from whatsapp_gateway.accounts.models import Membership

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base_url}/")
    page.get_by_role("link", name="Sign up").first.click()

    expect(page.get_by_role("heading", name="Sign Up")).to_be_visible()
    page.fill("input[name=business_name]", "Cedar Dental Clinic")
    page.fill("input[name=email]", "owner@cedar-dental.example")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.select_option("select[name=timezone]", "Asia/Riyadh")
    page.select_option("select[name=default_country]", "SA")
    shot(page, "1-signup-form")
    page.locator("main button[type=submit]").click()

    expect(page.get_by_role("heading", name="Verify Your Email Address")).to_be_visible()
    shot(page, "2-verification-sent")

    assert len(mail.outbox) == 1, "one verification email"
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+", mail.outbox[0].body).group(0)
    page.goto(link)
    expect(page.get_by_role("heading", name="Confirm Email Address")).to_be_visible()
    shot(page, "3-confirm-email")
    page.locator("main button[type=submit]").click()

    page.wait_for_url(f"{base_url}/dashboard")
    expect(page.locator(".user-menu summary")).to_contain_text("owner@cedar-dental.example · Cedar Dental Clinic")
    membership = Membership.objects.select_related("account").get(user__email="owner@cedar-dental.example")
    assert membership.role == "owner" and membership.account.timezone == "Asia/Riyadh"

    nav = page.get_by_role("navigation", name="Main")
    for link_text, heading, name in NAV_AREAS:
        nav.get_by_role("link", name=link_text, exact=True).click()
        expect(page.locator("main h1").first).to_contain_text(re.compile(heading, re.IGNORECASE))
        expect(nav.get_by_role("link", name=link_text, exact=True)).to_have_attribute("aria-current", "page")
        shot(page, name)

    page.locator(".user-menu summary").click()
    page.get_by_role("link", name="Account settings").click()
    expect(page.locator("main h1").first).to_contain_text("Account settings")
    expect(page.locator("input[name=name]")).to_have_value("Cedar Dental Clinic")
    shot(page, "account-settings")

    page.locator(".user-menu summary").click()
    page.get_by_role("link", name="Two-factor authentication").click()
    expect(page.get_by_role("heading", name="Two-Factor Authentication")).to_be_visible()
    shot(page, "two-factor")

    page.locator(".user-menu summary").click()
    page.get_by_test_id("logout").click()
    page.wait_for_url(re.compile(r".*/accounts/login/$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shot(page, "signed-out")

    page.goto(f"{base_url}/instances")
    page.wait_for_url(re.compile(r".*/accounts/login/\?next=/instances$"))
