"""/suppressed-recipients: list, search, add, import report, remove with a note, export; audit and isolation."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.isolation import assert_other_account_gets_404
from whatsapp_gateway.accounts.models import AuditLog
from whatsapp_gateway.suppression.models import Suppression
from whatsapp_gateway.suppression.services import suppression_add

URL = "/suppressed-recipients"
PHONE = "+966512345678"


@pytest.fixture
def blocked(owner_alice):
    return suppression_add(account=owner_alice.account, phone_e164=PHONE, note="asked by email")


def test_the_list_shows_reason_source_date_and_note_with_masked_numbers(alice_client, blocked):
    response = alice_client.get(URL)
    html = response.content.decode()
    assert response.status_code == 200
    assert "+9665****5678" in html and PHONE not in html
    assert "Blocked" in html and "Added by hand" in html and "asked by email" in html


def test_dates_are_shown_in_the_accounts_timezone_like_inbound_logs(alice_client, owner_alice, blocked):
    owner_alice.account.timezone = "Asia/Riyadh"
    owner_alice.account.save(update_fields=["timezone"])
    Suppression.objects.filter(pk=blocked.pk).update(created_at=dt.datetime(2026, 11, 24, 22, 30, tzinfo=dt.UTC))
    html = alice_client.get(URL).content.decode()
    assert "Since (Asia/Riyadh)" in html and "2026-11-25 01:30" in html


def test_an_admin_can_reveal_numbers_and_it_is_audited(alice_client, blocked):
    assert PHONE not in alice_client.get(URL, {"reveal": "1"}).content.decode()  # a GET alone reveals nothing
    answer = alice_client.post("/reveal-numbers", {"scope": "suppression", "next": URL})
    assert PHONE in alice_client.get(answer["Location"]).content.decode()
    assert AuditLog.objects.filter(action="suppression.numbers_revealed").count() == 1


def test_a_member_cannot_reveal_numbers(bob_client, blocked):
    html = bob_client.get(URL, {"reveal": "1"}).content.decode()
    assert PHONE not in html and "+9665****5678" in html
    assert not AuditLog.objects.filter(action="suppression.numbers_revealed").exists()


def test_search_finds_by_digits_and_by_note(alice_client, owner_alice, blocked):
    suppression_add(account=owner_alice.account, phone_e164="+447911123456", note="uk customer")
    assert alice_client.get(URL, {"q": "5678"}).content.decode().count('data-testid="suppression-row"') == 1
    assert alice_client.get(URL, {"q": "uk cust"}).content.decode().count('data-testid="suppression-row"') == 1
    assert (
        alice_client.get(URL, {"q": "nothing-like-this"}).content.decode().count('data-testid="suppression-row"') == 0
    )


def test_adding_a_number_blocks_it_and_is_audited(alice_client, owner_alice):
    response = alice_client.post(URL, {"phone": "0512345678", "note": "complained"})
    assert response.status_code == 302
    row = Suppression.objects.get()
    assert (row.phone_e164, row.reason, row.source, row.note) == (PHONE, "blocked", "manual", "complained")
    assert row.created_by == owner_alice.user
    entry = AuditLog.objects.get(action="suppression.added")
    assert entry.metadata["phone"] == "+9665****5678"


def test_adding_an_invalid_or_existing_number_shows_an_error(alice_client, blocked):
    response = alice_client.post(URL, {"phone": "12"})
    assert response.status_code == 400 and "Not a valid phone number" in response.content.decode()
    response = alice_client.post(URL, {"phone": PHONE})
    assert response.status_code == 400 and "already suppressed" in response.content.decode()
    assert Suppression.objects.count() == 1


def test_removing_needs_a_note_keeps_the_row_and_is_audited(alice_client, blocked, owner_alice):
    alice_client.post(f"{URL}/{blocked.public_id}/remove", {"note": ""})
    blocked.refresh_from_db()
    assert blocked.removed_at is None

    response = alice_client.post(f"{URL}/{blocked.public_id}/remove", {"note": "customer asked to hear from us"})
    assert response.status_code == 302
    blocked.refresh_from_db()
    assert blocked.removed_at is not None and blocked.removed_note == "customer asked to hear from us"
    assert blocked.removed_by == owner_alice.user
    entry = AuditLog.objects.get(action="suppression.removed")
    assert entry.target_id == blocked.public_id and entry.metadata["note"] == "customer asked to hear from us"
    html = alice_client.get(URL, {"removed": "on"}).content.decode()
    assert "customer asked to hear from us" in html
    assert 'data-testid="suppression-row"' not in alice_client.get(URL).content.decode()


def test_a_member_cannot_remove(bob_client, blocked):
    response = bob_client.post(f"{URL}/{blocked.public_id}/remove", {"note": "please"})
    assert response.status_code == 403
    blocked.refresh_from_db()
    assert blocked.removed_at is None


def test_another_account_gets_404_for_remove(charlie_client, blocked):
    assert_other_account_gets_404(charlie_client, f"{URL}/{blocked.public_id}/remove", methods=("post",))
    blocked.refresh_from_db()
    assert blocked.removed_at is None


def test_the_import_page_reports_bad_rows_and_imports_nothing(alice_client):
    upload = SimpleUploadedFile("list.csv", b"phone;note\n+966512345678;ok\nabc;bad\n+966512345678;dup\n")
    response = alice_client.post(f"{URL}/import", {"file": upload})
    html = response.content.decode()
    assert response.status_code == 422
    assert "Nothing was imported" in html and "invalid" in html and "abc" in html and "duplicate" in html
    assert "semicolon" in html
    assert not Suppression.objects.exists()


def test_the_import_page_imports_a_clean_file(alice_client, bob_client):
    upload = SimpleUploadedFile("list.csv", "\ufeffphone,note\n+966512345678,ok\n+966512345679,\n".encode())
    response = alice_client.post(f"{URL}/import", {"file": upload, "note": "CRM"})
    assert response.status_code == 200 and "Imported 2 number(s)" in response.content.decode()
    assert Suppression.objects.filter(source="import").count() == 2
    # Bulk import is an admin's job; a member may still block single numbers.
    upload = SimpleUploadedFile("list.csv", b"phone\n+966512345670\n")
    assert bob_client.post(f"{URL}/import", {"file": upload}).status_code == 403
    assert bob_client.get(f"{URL}/import").status_code == 403


def test_export_gives_admins_the_full_list_as_csv_and_is_audited(alice_client, blocked, owner_alice):
    suppression_add(account=owner_alice.account, phone_e164="+966512345679", note='=HYPERLINK("x")')
    response = alice_client.get(f"{URL}/export.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["phone"] for r in rows} == {PHONE, "+966512345679"}
    assert {r["note"] for r in rows} == {"asked by email", '\'=HYPERLINK("x")'}  # formulas are neutralised
    assert AuditLog.objects.filter(action="suppression.exported").exists()


def test_the_export_re_imports_cleanly(alice_client, blocked, owner_alice, outsider_charlie):
    from whatsapp_gateway.suppression.services import suppression_import

    data = b"".join(alice_client.get(f"{URL}/export.csv").streaming_content)
    report = suppression_import(account=outsider_charlie.account, data=data)
    assert report.ok and report.imported == 1


def test_members_cannot_export(bob_client, blocked):
    assert bob_client.get(f"{URL}/export.csv").status_code == 403


def test_lists_never_show_another_accounts_numbers(charlie_client, blocked):
    html = charlie_client.get(URL).content.decode()
    assert "+9665****5678" not in html and 'data-testid="suppression-row"' not in html
    text = b"".join(charlie_client.get(f"{URL}/export.csv").streaming_content).decode("utf-8-sig")
    assert PHONE not in text


def test_pages_need_login(client):
    assert client.get(URL).status_code == 302
    assert client.get(f"{URL}/import").status_code == 302
