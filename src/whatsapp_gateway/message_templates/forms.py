"""Portal forms for templates: submit / edit a reviewed template, and sync Meta's templates of a Cloud instance."""

from __future__ import annotations

import re
import unicodedata

from django import forms

from whatsapp_gateway.message_templates.models import LANGUAGE_VALIDATOR, NAME_VALIDATOR, TemplateCategory

# The languages the content policy reads; Meta's codes (pt_BR, not pt-BR).
LANGUAGES = [
    ("en", "English"),
    ("ar", "Arabic"),
    ("es", "Spanish"),
    ("pt_BR", "Portuguese (Brazil)"),
    ("id", "Indonesian"),
    ("hi", "Hindi"),
    ("fr", "French"),
    ("tr", "Turkish"),
    ("de", "German"),
]


def suggest_name(text: str) -> str:
    """A template name from the first few ASCII words of a text ("Your order #12 shipped" -> your_order_12_shipped)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", ascii_text)[:4]
    return "_".join(words)[:60]


class TemplateForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        validators=[NAME_VALIDATOR],
        help_text="Lowercase letters, digits and underscores; you send the template by this name.",
    )
    language = forms.ChoiceField(choices=LANGUAGES, validators=[LANGUAGE_VALIDATOR])
    category = forms.ChoiceField(
        choices=[(c.value, c.label) for c in (TemplateCategory.UTILITY, TemplateCategory.AUTHENTICATION)],
        help_text="Utility: about an order, payment, account, appointment or case of the recipient. "
        "Authentication: a one-time code or security check. Marketing texts are never sent.",
    )
    body = forms.CharField(
        label="Text",
        max_length=4096,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Replace the parts that change per message with {{1}}, {{2}} … "
        "(e.g. “Your order {{1}} ships on {{2}}.”). The fixed words must stay exactly as you send them.",
    )
    use_case = forms.CharField(
        label="Use case",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="When and to whom you send it (e.g. “after a customer pays, to confirm the order”).",
    )
    from_message = forms.CharField(required=False, widget=forms.HiddenInput, max_length=40)


class TemplateSyncForm(forms.Form):
    instance = forms.ChoiceField(label="Cloud API instance")
    waba_id = forms.RegexField(
        label="WhatsApp Business account ID",
        regex=r"^\d{5,25}$",
        required=False,
        help_text="Shown in Meta's WhatsApp Manager; remembered for the instance after the first sync.",
    )

    def __init__(self, *args, instances=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["instance"].choices = [(i.public_id, i.name) for i in instances]
