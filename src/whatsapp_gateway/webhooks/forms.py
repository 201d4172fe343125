"""The Webhook tab's form. Shape only; URL safety and event names are checked by the services."""

from __future__ import annotations

from django import forms
from django.conf import settings

from whatsapp_gateway.webhooks import endpoints
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

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if settings.GATEWAY_ALLOW_PRIVATE_WEBHOOKS:
            # Say what this gateway really accepts: the operator's development flag also allows http and local hosts.
            self.fields["destination_url"].help_text = (
                "https:// in production. This gateway runs in development mode, so http:// and local addresses "
                "(e.g. http://127.0.0.1:9000/hook) are accepted too. Redirects are not followed."
            )

    def clean_destination_url(self) -> str:
        try:
            return endpoints.url_check_for_form(self.cleaned_data["destination_url"])
        except endpoints.EndpointError as exc:
            raise forms.ValidationError(str(exc)) from exc
