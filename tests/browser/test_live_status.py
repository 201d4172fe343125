"""A message's status arrives on the open page without a reload (htmx polling); the CSV export downloads;
browsing, reloading and exporting-link prefetches leave the audit log as it was (only POSTs and completed exports
write to it)."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect

from tests.factories import make_instance
from whatsapp_gateway.accounts.models import AuditLog
from whatsapp_gateway.messaging.models import Message, MessageStatus
from whatsapp_gateway.messaging.services import send_message

# Polling and downloads do not depend on the database: CI runs this once, in the SQLite run.
pytestmark = pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="checked once, in the SQLite run"
)


def test_status_arrives_live_export_downloads_and_gets_do_not_write_the_audit_log(
    logged_in_page, base_url, owner_alice
):
    page = logged_in_page
    account = owner_alice.account
    instance = make_instance(account, name="support-line", connected=True)
    outcome = send_message(
        account=account,
        instance_ref=instance.name,
        phone="+966501234567",
        text="Your order has shipped.",
        purpose="transactional",
        source="api",
    )
    Message.objects.filter(public_id=outcome.message_id).update(status=MessageStatus.QUEUED, history=[])

    page.goto(f"{base_url}/messages/{outcome.message_id}")
    expect(page.locator("h1 .badge")).to_have_text("Queued")
    expect(page.get_by_test_id("wait-reason")).to_be_visible()
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    Message.objects.filter(public_id=outcome.message_id).update(status=MessageStatus.READ)
    expect(page.locator("h1 .badge")).to_have_text("Read", timeout=15_000)
    expect(page.get_by_test_id("wait-reason")).to_have_count(0)
    assert page.evaluate("window.__sameDocument === true"), "the status arrived without a reload"

    before = AuditLog.objects.count()
    for path in (
        "/messages",
        "/messages?reveal=1",
        "/inbound-logs?reveal=1",
        "/suppressed-recipients?reveal=1",
        "/account/audit-log/",
        "/dashboard",
    ):
        page.goto(base_url + path)
    page.goto(f"{base_url}/messages")
    page.wait_for_timeout(5_500)  # one live refresh of the log
    assert AuditLog.objects.count() == before, "GET requests wrote to the audit log"

    with page.expect_download() as download_info:
        page.get_by_test_id("export-csv").click()
    csv = download_info.value.path().read_text(encoding="utf-8-sig")
    assert csv.startswith("log_id,message_id,created_at") and "Your order has shipped." in csv
    expect(page.locator("h1")).to_have_text(re.compile("Message log"))
    exported = AuditLog.objects.filter(action="message_log.exported")
    assert exported.count() == 1 and exported.get().metadata["rows"] == 1
