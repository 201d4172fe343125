"""Reading and validating a suppression CSV. Pure parsing plus one read of the account's existing suppressions.

Accepted files (what spreadsheets actually export):

- encodings: UTF-8 with or without a BOM (Excel's "CSV UTF-8"), UTF-16 with a BOM (Excel's "Unicode text"),
  otherwise Windows-1252;
- delimiters: ``,``, ``;`` (Excel in locales with a decimal comma) or a tab, detected from the first lines;
- an optional header row: the first row is a header when its first cell is not a phone number and contains
  letters; a column named ``phone`` / ``number`` / ``phone_number`` / ``mobile`` / ``msisdn`` / ``whatsapp``
  (any case) holds the number and ``note`` / ``notes`` / ``comment`` / ``reason`` an optional note; without a
  header the first column is the number and the second (if any) the note;
- numbers in international (``+9665…``, ``009665…``, ``9665…``) or national format (the account's default country).

Per row the report says ``ok`` (imported), ``duplicate`` (the same number appears on an earlier row; skipped),
``exists`` (already suppressed; skipped) or ``invalid`` (with the reason). One ``invalid`` row stops the whole
import.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.contacts.models import ContactIdentity
from whatsapp_gateway.contacts.selectors import identity_expand
from whatsapp_gateway.lib.phone import InvalidPhoneNumber, mask, normalize_e164
from whatsapp_gateway.suppression.models import Suppression

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 10_000
PHONE_HEADERS = {"phone", "number", "phone_number", "phone number", "mobile", "msisdn", "whatsapp", "e164", "to"}
NOTE_HEADERS = {"note", "notes", "comment", "comments", "reason"}
_SCIENTIFIC = re.compile(r"^\d+(?:[.,]\d+)?e\+?\d+$", re.IGNORECASE)


@dataclass
class ReportRow:
    line: int
    raw: str
    status: str  # ok | duplicate | exists | invalid
    message: str = ""
    phone_e164: str = ""
    note: str = ""

    @property
    def display(self) -> str:
        """What the report shows: the masked number when valid, the raw cell when not (so it can be fixed)."""
        return mask(self.phone_e164) if self.phone_e164 else self.raw


@dataclass
class ImportReport:
    rows: list[ReportRow] = field(default_factory=list)
    fatal: str = ""  # a problem with the file as a whole (encoding, size, empty)
    delimiter: str = ","
    has_header: bool = False
    imported: int = 0

    @property
    def ok(self) -> bool:
        return not self.fatal and not any(r.status == "invalid" for r in self.rows) and bool(self.rows)

    @property
    def to_import(self) -> list[ReportRow]:
        return [r for r in self.rows if r.status == "ok"]

    @property
    def problems(self) -> list[ReportRow]:
        return [r for r in self.rows if r.status != "ok"]

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)


def decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def sniff_delimiter(text: str) -> str:
    sample = [line for line in text.splitlines()[:20] if line.strip()]
    counts = {d: sum(line.count(d) for line in sample) for d in (";", ",", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _looks_like_header(cells: list[str]) -> bool:
    """A header's first cell has letters and no digits (``phone``, ``Number``, ``رقم``); data rows have digits."""
    names = {cell.strip().lower().lstrip("\ufeff") for cell in cells}
    if names & (PHONE_HEADERS | NOTE_HEADERS):
        return True
    first = (cells[0] if cells else "").strip()
    return bool(first) and any(ch.isalpha() for ch in first) and not any(ch.isdigit() for ch in first)


def build_report(*, account: Account, data: bytes) -> ImportReport:
    """Validate every row of ``data`` against the account (see the module docstring); nothing is written."""
    report = ImportReport()
    if len(data) > MAX_BYTES:
        report.fatal = f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB; split it into smaller files."
        return report
    text = decode(data)
    report.delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text), delimiter=report.delimiter)
    try:
        table = [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        report.fatal = f"The file is not valid CSV: {exc}."
        return report
    table = [(line, row) for line, row in table if any(cell.strip() for cell in row)]
    if not table:
        report.fatal = "The file has no rows."
        return report
    phone_col, note_col = 0, 1
    if _looks_like_header(table[0][1]):
        header = [cell.strip().lower().lstrip("\ufeff") for cell in table[0][1]]
        report.has_header = True
        table = table[1:]
        phone_col = next((i for i, name in enumerate(header) if name in PHONE_HEADERS), 0)
        note_col = next((i for i, name in enumerate(header) if name in NOTE_HEADERS), -1)
        if not table:
            report.fatal = "The file has a header row but no numbers."
            return report
    if len(table) > MAX_ROWS:
        report.fatal = f"The file has {len(table):,} rows; import at most {MAX_ROWS:,} at a time."
        return report

    seen: dict[str, int] = {}
    for line, cells in table:
        raw = cells[phone_col].strip() if phone_col < len(cells) else ""
        note = cells[note_col].strip()[:500] if 0 <= note_col < len(cells) else ""
        row = ReportRow(line=line, raw=raw[:60], status="ok", note=note)
        report.rows.append(row)
        if not raw:
            row.status, row.message = "invalid", "No phone number in this row."
            continue
        if _SCIENTIFIC.match(raw):
            row.status = "invalid"
            row.message = "The spreadsheet turned this number into scientific notation; format the column as text."
            continue
        try:
            row.phone_e164 = normalize_e164(raw, account.default_country)
        except InvalidPhoneNumber as exc:
            detail = str(exc)
            row.status = "invalid"
            row.message = (
                "Not a valid phone number." if "not a valid" in detail else f"Not a valid phone number: {detail}."
            )
            continue
        if row.phone_e164 in seen:
            row.status, row.message = "duplicate", f"Same number as row {seen[row.phone_e164]}; imported once."
            continue
        seen[row.phone_e164] = line

    numbers = {r.phone_e164 for r in report.rows if r.status == "ok"}
    if numbers:
        expanded, wa_ids = identity_expand(account=account, numbers=numbers, wa_ids=set())
        active = Suppression.objects.filter(account=account, removed_at__isnull=True)
        already = set(active.filter(phone_e164__in=expanded).values_list("phone_e164", flat=True))
        # A lid-only opt-out of a contact whose number is now known also counts as "already suppressed".
        lid_rows = active.filter(wa_id__in=wa_ids).exclude(wa_id="")
        if lid_rows.exists():
            lid_ids = set(lid_rows.values_list("wa_id", flat=True))
            already |= set(
                ContactIdentity.objects.filter(account=account, wa_id__in=lid_ids).values_list(
                    "contact__phone_e164", flat=True
                )
            )
        for row in report.rows:
            if row.status == "ok" and row.phone_e164 in already:
                row.status, row.message = "exists", "Already on the suppression list; left as it is."
    return report
