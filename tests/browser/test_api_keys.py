"""A person creates an API key in the portal, sees it exactly once, uses it, and revokes it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from playwright.sync_api import expect

ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR", Path(__file__).resolve().parents[2] / "artifacts"))


def test_create_a_key_see_it_once_use_it_and_revoke_it(logged_in_page, base_url):
    page = logged_in_page
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(f"{base_url}/api-keys")
    page.fill("input[name=name]", "CRM production")
    page.click("[data-testid=create-key]")
    expect(page.get_by_test_id("new-key")).to_contain_text("the only time it is shown")
    full_key = page.get_by_test_id("new-key-value").inner_text().strip()
    assert full_key.startswith("wg_live_")
    page.screenshot(path=str(ARTIFACTS / "api-key-created.png"), full_page=True)

    answer = page.request.post(
        f"{base_url}/api/send-message",
        headers={"Authorization": f"Bearer {full_key}", "Content-Type": "application/json"},
        data=json.dumps(
            {"instance_id": "nope", "phone": "+12025550142", "message": "hi", "message_purpose": "support"}
        ),
    )
    assert answer.status == 404 and answer.json()["error"] == "invalid_instance"  # authenticated, then guarded

    page.goto(f"{base_url}/api-keys")
    expect(page.get_by_test_id("new-key")).to_have_count(0)
    assert full_key not in page.content()
    row = page.locator("[data-testid=api-keys] tbody tr", has_text="CRM production")
    expect(row).to_contain_text(full_key[:16] + "…")
    expect(row).to_contain_text("Active")

    row.get_by_test_id("revoke").click()
    dialog = page.locator("#confirm-dialog")  # the portal's own dialog, not the browser's confirm()
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("CRM production")
    page.keyboard.press("Escape")  # Escape cancels: nothing is revoked
    expect(dialog).to_be_hidden()
    expect(row).to_contain_text("Active")
    row.get_by_test_id("revoke").click()
    dialog.get_by_test_id("confirm-ok").click()
    expect(page.locator("[data-testid=api-keys] tbody tr", has_text="CRM production")).to_contain_text("Revoked")
    answer = page.request.post(
        f"{base_url}/api/send-message",
        headers={"Authorization": f"Bearer {full_key}", "Content-Type": "application/json"},
        data="{}",
    )
    assert answer.status == 401 and answer.json()["error"] == "revoked_api_key"
