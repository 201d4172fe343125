"""Suppressed Recipients forms: add one number, import a CSV, remove with a note, search."""

from __future__ import annotations

from django import forms

from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.lib.phone import InvalidPhoneNumber, normalize_e164
from whatsapp_gateway.suppression.csv_import import MAX_BYTES
from whatsapp_gateway.suppression.models import SuppressionReason


class SuppressionAddForm(forms.Form):
    phone = forms.CharField(
        max_length=40,
        label="Phone number",
        widget=forms.TextInput(attrs={"type": "tel", "placeholder": "+9665…", "autocomplete": "off"}),
        help_text="International (+9665…) or national format (your account's default country).",
    )
    note = forms.CharField(max_length=500, required=False, help_text="Why (kept in the list and the audit log).")

    def __init__(self, *args, account: Account, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.account = account

    def clean_phone(self) -> str:
        try:
            return normalize_e164(self.cleaned_data["phone"], self.account.default_country)
        except InvalidPhoneNumber as exc:
            detail = str(exc)
            message = "Not a valid phone number." if "not a valid" in detail else f"Not a valid phone number: {detail}."
            raise forms.ValidationError(message) from exc


class SuppressionImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="One number per row; optional header (phone, note); comma, semicolon or tab separated; UTF-8.",
    )
    note = forms.CharField(
        max_length=500, required=False, help_text="Used for rows without their own note, e.g. “CRM do-not-contact”."
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB.")
        return upload


class SuppressionRemoveForm(forms.Form):
    note = forms.CharField(
        max_length=500,
        label="Why may this number be messaged again?",
        widget=forms.TextInput(attrs={"placeholder": "e.g. customer asked by email to hear from us again"}),
    )


class SuppressionSearchForm(forms.Form):
    q = forms.CharField(
        required=False, max_length=120, label="Search", widget=forms.TextInput(attrs={"type": "search"})
    )
    reason = forms.ChoiceField(required=False, choices=[("", "Any reason"), *SuppressionReason.choices])
    removed = forms.BooleanField(required=False, label="Include removed")
