"""CSV import of suppressed numbers: every row validated, a per-row report, all or nothing."""

from __future__ import annotations

import pytest

from whatsapp_gateway.accounts.models import AuditLog
from whatsapp_gateway.suppression.models import Suppression
from whatsapp_gateway.suppression.services import suppression_add, suppression_import


def imported(account, text: str | bytes, **kwargs):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return suppression_import(account=account, data=data, **kwargs)


def numbers(account):
    return set(
        Suppression.objects.filter(account=account, removed_at__isnull=True).values_list("phone_e164", flat=True)
    )


def test_a_plain_list_without_header_is_imported(owner_alice):
    report = imported(owner_alice.account, "+966512345678\n966512345679\n0512345670\n")
    assert report.ok and report.imported == 3 and not report.has_header
    assert numbers(owner_alice.account) == {"+966512345678", "+966512345679", "+966512345670"}
    row = Suppression.objects.first()
    assert (row.reason, row.source) == ("blocked", "import")


def test_a_utf8_bom_and_a_header_are_understood(owner_alice):
    report = imported(owner_alice.account, "\ufeffPhone,Note\n+966512345678,asked by email\n")
    assert report.ok and report.has_header and report.imported == 1
    assert Suppression.objects.get().note == "asked by email"


def test_semicolons_are_detected_as_the_delimiter(owner_alice):
    report = imported(owner_alice.account, "phone;note\n+966512345678;CRM do-not-contact\n+966512345679;\n")
    assert report.ok and report.delimiter == ";" and report.imported == 2
    assert set(Suppression.objects.values_list("note", flat=True)) == {"CRM do-not-contact", ""}


def test_tabs_and_utf16_from_excel_unicode_text_work(owner_alice):
    data = "phone\tnote\r\n+966512345678\tمن فضلك لا تراسلني\r\n".encode("utf-16")
    report = imported(owner_alice.account, data)
    assert report.ok and report.delimiter == "\t"
    assert Suppression.objects.get().note == "من فضلك لا تراسلني"


def test_columns_are_found_by_header_name_in_any_order(owner_alice):
    report = imported(owner_alice.account, "name,notes,mobile\nOmar,vip opted out,+966512345678\n")
    assert report.ok and Suppression.objects.get().phone_e164 == "+966512345678"
    assert Suppression.objects.get().note == "vip opted out"


def test_a_shared_note_fills_rows_without_their_own(owner_alice):
    imported(owner_alice.account, "+966512345678\n", note="Imported from CRM")
    assert Suppression.objects.get().note == "Imported from CRM"


def test_one_invalid_row_imports_nothing_and_the_report_names_it(owner_alice):
    report = imported(owner_alice.account, "phone\n+966512345678\nnot-a-number\n12\n+966512345679\n")
    assert not report.ok and report.imported == 0
    assert not Suppression.objects.exists()
    problems = {(r.line, r.status) for r in report.problems}
    assert problems == {(3, "invalid"), (4, "invalid")}
    assert [r.status for r in report.rows] == ["ok", "invalid", "invalid", "ok"]
    assert report.rows[1].display == "not-a-number"
    assert "Not a valid phone number" in report.rows[1].message


def test_duplicates_in_the_file_are_imported_once_and_reported(owner_alice):
    report = imported(owner_alice.account, "+966512345678\n966512345678\n0512345678\n+966512345679\n")
    assert report.ok and report.imported == 2
    dupes = [r for r in report.rows if r.status == "duplicate"]
    assert [r.line for r in dupes] == [2, 3] and "row 1" in dupes[0].message


def test_numbers_already_on_the_list_are_left_alone_and_reported(owner_alice):
    existing = suppression_add(account=owner_alice.account, phone_e164="+966512345678", note="by hand")
    report = imported(owner_alice.account, "+966512345678\n+966512345679\n")
    assert report.ok and report.imported == 1
    assert report.rows[0].status == "exists"
    existing.refresh_from_db()
    assert existing.source == "manual" and existing.note == "by hand"


def test_a_removed_suppression_can_be_imported_again(owner_alice):
    from whatsapp_gateway.suppression.services import suppression_remove

    first = suppression_add(account=owner_alice.account, phone_e164="+966512345678")
    suppression_remove(suppression=first, note="mistake")
    assert imported(owner_alice.account, "+966512345678\n").imported == 1


def test_excel_scientific_notation_is_explained(owner_alice):
    report = imported(owner_alice.account, "9.66512E+11\n")
    assert not report.ok and "scientific notation" in report.rows[0].message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no rows"),
        (b"\n\n  \n", "no rows"),
        (b"phone,note\n", "header row but no numbers"),
    ],
)
def test_empty_files_are_refused(owner_alice, data, message):
    report = imported(owner_alice.account, data)
    assert not report.ok and message in report.fatal


def test_too_many_rows_are_refused_without_importing(owner_alice, monkeypatch):
    from whatsapp_gateway.suppression import csv_import

    monkeypatch.setattr(csv_import, "MAX_ROWS", 3)
    report = imported(owner_alice.account, "".join(f"+96651234567{i}\n" for i in range(4)))
    assert not report.ok and "at most 3" in report.fatal
    assert not Suppression.objects.exists()


def test_windows_1252_files_are_read(owner_alice):
    report = imported(owner_alice.account, "phone,note\n+966512345678,caf\xe9\n".encode("cp1252"))
    assert report.ok and Suppression.objects.get().note == "café"


def test_the_import_is_one_transaction_when_the_database_refuses_a_row(owner_alice, monkeypatch):
    from whatsapp_gateway.suppression import services

    real = services.build_report

    def stale_report(*, account, data):
        report = real(account=account, data=data)
        # another admin adds the second number between the check and the insert
        if not Suppression.objects.filter(phone_e164="+966512345679").exists():
            Suppression.objects.create(account=account, phone_e164="+966512345679", reason="blocked", source="manual")
        return report

    monkeypatch.setattr(services, "build_report", stale_report)
    report = imported(owner_alice.account, "+966512345678\n+966512345679\n")
    assert report.imported == 0 and report.fatal
    assert numbers(owner_alice.account) == {"+966512345679"}  # only the concurrent add; nothing from the file


def test_the_import_is_audit_logged_with_counts_not_numbers(owner_alice):
    imported(owner_alice.account, "+966512345678\n+966512345678\n", filename="list.csv")
    entry = AuditLog.objects.get(action="suppression.imported")
    assert entry.metadata == {"imported": 1, "skipped_duplicates": 1, "skipped_existing": 0, "rows": 2}
    assert "512345678" not in str(entry.metadata) and entry.target_id == "list.csv"


def test_national_numbers_use_the_accounts_country(owner_alice):
    owner_alice.account.default_country = "GB"
    owner_alice.account.save()
    report = imported(owner_alice.account, "07911 123456\n")
    assert report.ok and Suppression.objects.get().phone_e164 == "+447911123456"
