from __future__ import annotations

from django import forms


class KillSwitchForm(forms.Form):
    enabled = forms.BooleanField(required=False)
    reason = forms.CharField(max_length=200, required=False)
