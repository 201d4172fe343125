from __future__ import annotations

from django import forms

from whatsapp_gateway.lib.forms import FilterDateField
from whatsapp_gateway.message_templates.selectors import templates_sendable_from
from whatsapp_gateway.messaging import policy
from whatsapp_gateway.messaging.models import GuardDecision, MessageSource, MessageStatus, TestNumber

PURPOSE_CHOICES = [(p, p) for p in policy.ALLOWED_PURPOSES]


class TestNumberAddForm(forms.Form):
    __test__ = False
    phone = forms.CharField(max_length=32, help_text="One of your own WhatsApp numbers, e.g. +9665XXXXXXXX.")
    label = forms.CharField(max_length=80, required=False, help_text="Optional, e.g. “my phone”.")


class TestNumberVerifyForm(forms.Form):
    __test__ = False
    number = forms.CharField(widget=forms.HiddenInput)
    code = forms.CharField(max_length=6, min_length=6, label="Code")


class TestSendForm(forms.Form):
    __test__ = False
    number = forms.ModelChoiceField(queryset=TestNumber.objects.none(), to_field_name="public_id", label="To")
    message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=policy.MESSAGE_MAX_CHARS,
        initial="Hello from WhatsApp Gateway: this is a test message.",
        required=False,
    )
    template = forms.ChoiceField(
        required=False,
        help_text="Or send an approved template instead of the text (on a Cloud API number, a Meta template reaches "
        "people who have not written in 24 hours).",
    )
    variables = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="The template's variables, one per line: {{1}} first.",
    )
    purpose = forms.ChoiceField(choices=PURPOSE_CHOICES, initial="support")

    def __init__(self, *args, account, instance=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        numbers = TestNumber.objects.filter(account=account, verified_at__isnull=False)
        self.fields["number"].queryset = numbers
        self.fields["number"].label_from_instance = lambda n: f"{n.label or 'Test number'} ({n.phone_e164})"
        only = list(numbers[:2])
        if len(only) == 1 and not self.is_bound:
            self.fields["number"].empty_label = None  # one verified number: it is the only sensible choice
            self.initial["number"] = only[0].public_id
        templates = templates_sendable_from(account=account, instance=instance) if instance is not None else []
        self.templates = {t.public_id: t for t in templates}
        self.fields["template"].choices = [("", "— none: send the text —")] + [
            (t.public_id, f"{t.name} ({t.language}, {'Meta' if t.source == 'meta' else 'reviewed'})") for t in templates
        ]
        if not templates:
            del self.fields["template"], self.fields["variables"]

    def clean(self):
        data = super().clean()
        chosen = self.templates.get(data.get("template") or "")
        if chosen is None and not (data.get("message") or "").strip():
            raise forms.ValidationError("Write a message or choose a template.")
        data["template_ref"] = None
        if chosen is not None:
            lines = [line.strip() for line in (data.get("variables") or "").splitlines() if line.strip()]
            data["template_ref"] = {"name": chosen.name, "language": chosen.language, "variables": lines}
        return data


BLOCK_CODES = [code for code, _, _ in policy.ERROR_TABLE if not code.startswith("idempotency")] + [
    "unsupported_media_type"
]


class MessageFilterForm(forms.Form):
    q = forms.CharField(
        required=False, max_length=100, label="Text contains", widget=forms.TextInput(attrs={"type": "search"})
    )
    instance = forms.ChoiceField(required=False)
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *MessageStatus.choices])
    purpose = forms.ChoiceField(
        required=False,
        choices=[("", "Any purpose")] + [(p, p) for p in [*policy.ALLOWED_PURPOSES, *policy.DISALLOWED_PURPOSES]],
    )
    code = forms.ChoiceField(
        required=False, label="Blocked code", choices=[("", "Any"), *[(c, c) for c in BLOCK_CODES]]
    )
    source = forms.ChoiceField(required=False, choices=[("", "Any source"), *MessageSource.choices])
    decision = forms.ChoiceField(required=False, choices=[("", "Any decision"), *GuardDecision.choices])
    date_from = FilterDateField(label="From")
    date_to = FilterDateField(label="To")
    phone = forms.CharField(required=False, max_length=32, widget=forms.TextInput(attrs={"type": "search"}))

    def __init__(self, *args, instances, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["instance"].choices = [("", "All instances")] + [(i.public_id, i.name) for i in instances]
