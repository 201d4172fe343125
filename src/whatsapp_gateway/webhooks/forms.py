"""The Webhook tab's form. Shape only; URL safety and event names are checked by the services."""

from __future__ import annotations

from django import forms

from whatsapp_gateway.webhooks import services
from whatsapp_gateway.webhooks.catalogue import EVENT_TYPES


class WebhookForm(forms.Form):
    destination_url = forms.CharField(
        max_length=2048,
        label="Destination URL",
        widget=forms.URLInput(attrs={"placeholder": "https://crm.example.com/whatsapp-webhook", "autocomplete": "off"}),
        help_text="https:// only; it must resolve to public addresses. Redirects are not followed.",
    )
    events = forms.MultipleChoiceField(
        choices=[(e.name, e.name) for e in EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Pick at least one event."},
    )
    is_enabled = forms.BooleanField(required=False, label="Enabled", initial=True)

    def clean_destination_url(self) -> str:
        try:
            return services.url_check_for_form(self.cleaned_data["destination_url"])
        except services.EndpointError as exc:
            raise forms.ValidationError(str(exc)) from exc
