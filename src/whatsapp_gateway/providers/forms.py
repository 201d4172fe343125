"""Portal forms of the providers app (shape only; the rules live in the services)."""

from __future__ import annotations

from django import forms


class CloudSetupForm(forms.Form):
    phone_number_id = forms.RegexField(
        regex=r"^\d{5,25}$",
        label="Phone number ID",
        help_text="Meta → WhatsApp → API setup → Phone number ID (not the phone number itself).",
        error_messages={"invalid": "Digits only: the ID Meta shows for the number, e.g. 106540352242922."},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    access_token = forms.CharField(
        required=False,
        max_length=1000,
        label="Access token (optional)",
        help_text="Only if the number belongs to your own Meta app; empty keeps the current one or the operator's.",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    app_secret = forms.CharField(
        required=False,
        max_length=200,
        label="App secret (optional)",
        help_text="The secret of that Meta app, to verify its webhook signatures.",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
