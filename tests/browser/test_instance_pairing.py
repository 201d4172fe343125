"""A person creates an instance, sees its QR code, scans it with the sandbox phone, and sees it connected."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import expect

ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR", Path(__file__).resolve().parents[2] / "artifacts"))


def test_create_pair_and_see_the_instance_connected(logged_in_page, base_url):
    page = logged_in_page
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 1100})

    page.goto(f"{base_url}/instances")
    page.fill("#id_name", "support-line")
    page.click("[data-testid=create-instance]")
    expect(page.get_by_test_id("instance-state")).to_have_text("Created")
    expect(page.get_by_test_id("sandbox-note")).to_contain_text("No real WhatsApp message is sent")

    page.click("[data-testid=connect]")
    expect(page.get_by_test_id("instance-state")).to_have_text("Waiting for pairing")
    expect(page.locator("[data-testid=qr-code] svg")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "connection-tab-pairing.png"), full_page=True)

    page.click("[data-testid=sandbox-scan]")
    expect(page.get_by_test_id("instance-state")).to_have_text("Connected")
    expect(page.get_by_test_id("paired-number")).to_contain_text("****")
    expect(page.get_by_test_id("state-history")).to_contain_text("QR code scanned (sandbox)")
    page.screenshot(path=str(ARTIFACTS / "connection-tab-connected.png"), full_page=True)

    page.goto(f"{base_url}/instances")
    expect(page.get_by_test_id("state-support-line")).to_have_text("Connected")


def test_the_connection_tab_follows_a_change_made_elsewhere(logged_in_page, base_url, owner_alice):
    from tests.factories import make_instance
    from whatsapp_gateway.instances.services import instance_connect
    from whatsapp_gateway.providers.sandbox import simulate

    page = logged_in_page
    instance = instance_connect(instance=make_instance(owner_alice.account, name="phone-two"))
    page.goto(f"{base_url}/instances/{instance.public_id}/manage?tab=connection")
    expect(page.locator("[data-testid=qr-code] svg")).to_be_visible()

    simulate.scan(instance=instance)  # the phone scans; the page polls and reloads by itself

    expect(page.get_by_test_id("instance-state")).to_have_text("Connected", timeout=10_000)
