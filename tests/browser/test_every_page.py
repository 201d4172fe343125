"""Every portal and public page at 1280 px and 390 px: no horizontal overflow, 0 serious or critical axe-core
violations, no failed request; the dashboard's charts load.

One session per width (not one per page) keeps this at about a minute on a 2-core machine. With
``SCREENSHOTS_DIR`` set, a full-page PNG of every page is written there (``docs/screenshots/`` in the repository).
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import Resolver404, resolve, reverse
from playwright.sync_api import expect

from tests.factories import PASSWORD, make_instance
from whatsapp_gateway.inbound.models import InboundMessage
from whatsapp_gateway.lib.errors import GatewayError
from whatsapp_gateway.messaging.models import Message
from whatsapp_gateway.messaging.services import send_message
from whatsapp_gateway.providers.sandbox import simulate

SCREENSHOTS = os.environ.get("SCREENSHOTS_DIR")
# Layout and accessibility do not depend on the database: CI checks them once, in the SQLite run.
pytestmark = pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="checked once, in the SQLite run"
)
SERIOUS = {"serious", "critical"}

PUBLIC = [
    ("landing", "/"),
    ("sign-in", "/accounts/login/"),
    ("sign-up", "/accounts/signup/"),
    ("docs", "/docs"),
    ("docs-webhooks", "/docs/webhooks"),
    ("responsible-messaging", "/docs/responsible-messaging"),
    ("acceptable-use", "/acceptable-use"),
]
# Pages other parts of the product add; visited when this build has them.
OPTIONAL = [("message-checker", "/message-checker"), ("templates", "/templates")]


def _exists(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


def portal_pages(instance, message, inbound) -> list[tuple[str, str]]:
    manage = f"/instances/{instance.public_id}/manage?tab="
    pages = [
        ("dashboard", "/dashboard"),
        ("instances", "/instances"),
        ("instance-connection", manage + "connection"),
        ("instance-webhook", manage + "webhook"),
        ("instance-test-send", manage + "test-send"),
        ("instance-logs", manage + "logs"),
        ("api-keys", "/api-keys"),
        ("message-log", "/messages"),
        ("message-detail", f"/messages/{message.public_id}"),
        ("suppressed-recipients", "/suppressed-recipients"),
        ("suppression-import", "/suppressed-recipients/import"),
        ("inbound-logs", "/inbound-logs"),
        ("inbound-detail", f"/inbound-logs/{inbound.public_id}"),
        ("threecx", "/integrations/3cx"),
        ("threecx-new", "/integrations/3cx/new"),
        ("account-settings", "/account/"),
        ("members", "/account/members/"),
        ("audit-log", "/account/audit-log/"),
        ("two-factor", reverse("mfa_index")),
        ("not-found", "/no-such-page"),
    ]
    return pages + [(name, path) for name, path in OPTIONAL if _exists(path)]


@pytest.fixture
def account_with_traffic(owner_alice):
    """A connected sandbox number with sends in every state the log shows, and one inbound message."""
    account = owner_alice.account
    instance = make_instance(account, name="support-line", connected=True)
    for i, phone in enumerate(["+966501234567", "+966501234568", "+12025550101"]):
        send_message(
            account=account,
            instance_ref=instance.name,
            phone=phone,
            text=f"Your order {i} has shipped.",
            purpose="transactional",
            source="api",
        )
    with contextlib.suppress(GatewayError):  # blocked by the guard: recorded, shown under "Blocked by reason"
        send_message(
            account=account,
            instance_ref=instance.name,
            phone="+966501234569",
            text="Big sale today!",
            purpose="marketing",
            source="api",
        )
    simulate.inbound(instance=instance, text="Hello, is my order on its way?")
    return instance, Message.objects.filter(account=account).first(), InboundMessage.objects.get(account=account)


def _check(page, axe, base_url: str, name: str, path: str, width: int, failures: list[str]) -> None:
    response = page.goto(base_url + path)
    page.wait_for_load_state("networkidle")
    status = response.status if response else 0
    if (status >= 400) != (name == "not-found"):
        failures.append(f"{path} @{width}: HTTP {status}")
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    if scroll_width > width:
        failures.append(f"{path} @{width}: page is {scroll_width} px wide")
    for violation in axe.run(page).response["violations"]:
        if violation["impact"] in SERIOUS:
            targets = [node["target"] for node in violation["nodes"][:3]]
            failures.append(f"{path} @{width}: axe {violation['impact']} {violation['id']} {targets}")
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}-{width}.png"), full_page=True)


@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_fits_the_screen_and_passes_axe(page, base_url, owner_alice, account_with_traffic, width):
    instance, message, inbound = account_with_traffic
    page.set_viewport_size({"width": width, "height": 900})
    axe = Axe()
    failed_requests: list[str] = []
    page.on("requestfailed", lambda request: failed_requests.append(request.url))
    page.on("response", lambda r: r.status >= 400 and "/no-such-page" not in r.url and failed_requests.append(r.url))
    failures: list[str] = []

    for name, path in PUBLIC:
        _check(page, axe, base_url, name, path, width, failures)

    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=login]", owner_alice.user.email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main button[type=submit]").click()
    page.wait_for_url(f"{base_url}/dashboard")
    for name, path in portal_pages(instance, message, inbound):
        _check(page, axe, base_url, name, path, width, failures)

    assert not failures, "\n".join(failures)
    assert not failed_requests, failed_requests

    # The dashboard's charts are images the server drew: each one loads.
    page.goto(f"{base_url}/dashboard")
    charts = page.locator("img.chart")
    expect(charts).to_have_count(3)
    for i in range(3):
        assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", charts.nth(i).element_handle())

    if width == 390:
        # The navigation collapses behind a Menu button and opens from the keyboard.
        sidebar = page.get_by_role("navigation", name="Main")
        expect(sidebar).to_be_hidden()
        page.get_by_test_id("menu-button").focus()
        page.keyboard.press("Enter")
        expect(sidebar).to_be_visible()
        sidebar.get_by_role("link", name="Message log").click()
        expect(page.locator("main h1")).to_have_text(re.compile("Message log", re.IGNORECASE))
