"""The Inbound Logs filter form: turns query-string values into ``selectors.InboundFilters``."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

from django import forms

from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.inbound.models import MessageType
from whatsapp_gateway.inbound.selectors import InboundFilters
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib.forms import FilterDateField
from whatsapp_gateway.lib.phone import InvalidPhoneNumber, normalize_e164


class InboundFilterForm(forms.Form):
    instance = forms.ChoiceField(required=False)
    date_from = FilterDateField(label="From")
    date_to = FilterDateField(label="To")
    sender = forms.CharField(
        required=False,
        max_length=120,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "+9665… or …@lid"}),
    )
    type = forms.ChoiceField(required=False, choices=[("", "Any type"), *MessageType.choices])
    q = forms.CharField(
        required=False,
        max_length=200,
        label="Text contains",
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    opt_outs = forms.BooleanField(required=False, label="Opt-outs only")

    def __init__(self, *args, account: Account, instances: list[Instance], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.account = account
        self._instances = {i.public_id: i for i in instances}
        self.fields["instance"].choices = [("", "All instances")] + [(i.public_id, i.name) for i in instances]

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return data

    def _sender_filter(self, raw: str) -> dict[str, str]:
        raw = raw.strip()
        if not raw:
            return {}
        if "@" in raw:
            return {"sender_wa_id": raw}
        try:
            return {"sender_phone": normalize_e164(raw, self.account.default_country)}
        except InvalidPhoneNumber:
            digits = re.sub(r"\D", "", raw)
            return {"sender_digits": digits} if len(digits) >= 4 else {}

    def filters(self) -> InboundFilters:
        """The filters for a valid form (an invalid field is ignored, and shown as an error)."""
        data = self.cleaned_data if self.is_bound and hasattr(self, "cleaned_data") else {}
        tz = zoneinfo.ZoneInfo(self.account.timezone or "UTC")
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            start = end = None
        instance = self._instances.get(data.get("instance") or "")
        return InboundFilters(
            instance_id=instance.pk if instance else None,
            received_from=dt.datetime.combine(start, dt.time.min, tzinfo=tz) if start else None,
            received_to=dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz) if end else None,
            message_type=data.get("type") or "",
            text=(data.get("q") or "").strip(),
            opt_outs_only=bool(data.get("opt_outs")),
            **self._sender_filter(data.get("sender") or ""),
        )

    @property
    def active(self) -> bool:
        data = getattr(self, "cleaned_data", {}) or {}
        return any(data.get(k) for k in ("instance", "date_from", "date_to", "sender", "type", "q", "opt_outs"))
