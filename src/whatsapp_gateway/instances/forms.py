"""Portal forms for instances (validation of shape only; the rules live in services)."""

from __future__ import annotations

from django import forms

from whatsapp_gateway.providers.registry import allowed_provider_names

PROVIDER_LABELS = {
    "sandbox": "Sandbox — a simulated phone, no real WhatsApp messages",
    "evolution": "WhatsApp (Evolution API)",
    "waha": "WhatsApp (WAHA)",
    "cloud": "WhatsApp Business (Cloud API)",
}


def provider_choices() -> list[tuple[str, str]]:
    """GATEWAY_PROVIDER first, then the other providers the operator allows (and has not disabled in the admin)."""
    return [(name, PROVIDER_LABELS.get(name, name)) for name in allowed_provider_names()]


NAME_ERROR = "Use letters, digits, hyphens and underscores only (e.g. support-line)."


class InstanceCreateForm(forms.Form):
    name = forms.SlugField(
        max_length=64,
        error_messages={"invalid": NAME_ERROR},
        help_text="Letters, digits, hyphens and underscores, e.g. support-line. Usable as instance_id in the API.",
        widget=forms.TextInput(attrs={"placeholder": "support-line", "autocomplete": "off"}),
    )
    provider = forms.ChoiceField(required=False, label="Kind of instance")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        choices = provider_choices()
        if len(choices) > 1:
            self.fields["provider"].choices = choices
            self.fields["provider"].initial = choices[0][0]
        else:
            del self.fields["provider"]


class InstanceRenameForm(forms.Form):
    name = forms.SlugField(max_length=64, error_messages={"invalid": NAME_ERROR})


class ConnectForm(forms.Form):
    phone_number = forms.CharField(
        required=False,
        max_length=32,
        label="Phone number (for a pairing code)",
        help_text="Leave empty to pair by scanning a QR code.",
        widget=forms.TextInput(attrs={"type": "tel", "placeholder": "+9665…", "autocomplete": "off"}),
    )


SIMULATIONS = [
    ("inbound", "Inbound message"),
    ("stop", "Opt-out (STOP)"),
    ("call", "Incoming call"),
    ("missed-call", "Missed call"),
    ("group-message", "Group message"),
    ("group-update", "Group change"),
    ("conversation-update", "Conversation change"),
    ("disconnect", "Phone disconnects"),
]


class SimulateForm(forms.Form):
    action = forms.ChoiceField(choices=[("scan", "Scan QR"), ("reconnect", "Phone back online"), *SIMULATIONS])
    phone = forms.CharField(required=False, max_length=32)
    name = forms.CharField(required=False, max_length=120)
    text = forms.CharField(required=False, max_length=4096)
