from __future__ import annotations

from django import forms

from whatsapp_gateway.instances.models import Instance


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What uses this key, e.g. “CRM production” or “n8n”.", widget=forms.TextInput()
    )
    instances = forms.ModelMultipleChoiceField(
        queryset=Instance.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Instance scope",
        help_text="Leave all unticked to allow every instance of the account.",
    )

    def __init__(self, *args, account, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["instances"].queryset = Instance.objects.filter(account=account, deleted_at__isnull=True).order_by(
            "name"
        )
        self.fields["instances"].label_from_instance = lambda i: f"{i.name} ({i.public_id})"
