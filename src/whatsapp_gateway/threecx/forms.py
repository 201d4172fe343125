"""Forms of the /integrations/3cx pages."""

from __future__ import annotations

from django import forms

from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib.phone import InvalidPhoneNumber, normalize_e164
from whatsapp_gateway.message_templates.models import SENDABLE_CATEGORIES, Template, TemplateStatus
from whatsapp_gateway.messaging.guard.content import BLOCK, assess_text
from whatsapp_gateway.threecx import call_templates
from whatsapp_gateway.threecx.models import AuthMode, InboundFormat, Integration
from whatsapp_gateway.threecx.services import parse_allowed_ips
from whatsapp_gateway.webhooks.endpoints import EndpointError, url_check_for_form


def _instances(account: Account):
    return Instance.objects.filter(account=account, deleted_at__isnull=True).order_by("name")


def validate_endpoint_url(url: str) -> str:
    """The 3CX Webhook URL gets the same safety rules as customer webhooks (https, every address public; the
    operator's ``GATEWAY_ALLOW_PRIVATE_WEBHOOKS`` relaxes both for development)."""
    try:
        return url_check_for_form(url)
    except EndpointError as exc:
        raise forms.ValidationError(f"This URL cannot be used: {exc}") from exc


def _meta_templates(account: Account):
    """Approved utility/authentication Meta templates of the account's Cloud API instances."""
    return (
        Template.objects.filter(
            account=account, source="meta", status=TemplateStatus.APPROVED, category__in=list(SENDABLE_CATEGORIES)
        )
        .select_related("instance")
        .order_by("name", "language")
    )


# Sample values for judging a call-event template the way it will go out.
_SAMPLE_VALUES = {
    "customer_phone": "+966501234567",
    "agent_extension": "101",
    "queue": "800",
    "call_time": "2026-01-15 10:30",
    "business_name": "Example Co",
}


def _content_problem(text: str) -> str:
    """Why the content policy would block this template when it is sent, or an empty string."""
    assessment = assess_text(call_templates.render(text, _SAMPLE_VALUES), "support")
    if assessment.decision != BLOCK:
        return ""
    reasons = "; ".join(assessment.reasons[:3])
    return (
        "The content policy would block this text as marketing"
        + (f" ({reasons})" if reasons else "")
        + ". Call-event messages must be about the call, not promotions."
    )


class InstanceChoiceField(forms.ModelChoiceField):
    """Instances by their public id (``inst_…``), never by database key, like every other id the portal shows."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("to_field_name", "public_id")
        super().__init__(*args, **kwargs)

    def label_from_instance(self, obj: Instance) -> str:
        number = f" · {obj.phone_number}" if obj.phone_number else ""
        return f"{obj.name}{number} ({obj.get_state_display()})"


class IntegrationForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="For you, e.g. “Head office 3CX”.")
    default_instance = InstanceChoiceField(
        queryset=Instance.objects.none(),
        help_text="The WhatsApp number agents reply from when the 3CX DID is not mapped below.",
    )
    endpoint_url = forms.CharField(
        label="3CX Webhook URL",
        required=False,
        max_length=2000,
        widget=forms.URLInput(
            attrs={"placeholder": "https://yourcompany.3cx.com/sms/generic/…", "autocomplete": "off"}
        ),
        help_text="Copy it from 3CX: SIP trunk → SMS tab → Webhook URL. Customers' WhatsApp messages are posted "
        "here. Stored encrypted; leave empty to keep the saved one.",
    )
    auth_mode = forms.ChoiceField(
        choices=AuthMode.choices,
        initial=AuthMode.SECRET,
        help_text="For native JSON requests. Stock 3CX (Generic SMS) always uses the Bearer API key.",
    )
    allowed_ips = forms.CharField(
        label="Allowed IPs",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "203.0.113.10\n198.51.100.0/24"}),
        help_text="One IP or CIDR per line. Empty allows any address (3CX-hosted PBXs may change address).",
    )
    inbound_enabled = forms.BooleanField(
        label="Inbound: forward customers' WhatsApp messages to 3CX", required=False, initial=True
    )
    outbound_enabled = forms.BooleanField(
        label="Outbound: agents reply on WhatsApp from 3CX", required=False, initial=True
    )
    call_event_enabled = forms.BooleanField(label="Call events (missed calls, voicemail, …)", required=False)
    strict_window = forms.BooleanField(
        label="Strict conversation window: reply only within 24 h of the customer's last message",
        required=False,
        initial=True,
    )
    business_name = forms.CharField(
        max_length=120, required=False, help_text="{{business_name}} in templates; default: your account name."
    )
    inbound_format = forms.ChoiceField(choices=InboundFormat.choices, initial=InboundFormat.GENERIC_SMS)

    def __init__(self, *args, account: Account, integration: Integration | None = None, **kwargs) -> None:
        self.account = account
        self.integration = integration
        if integration is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_from(integration)
        super().__init__(*args, **kwargs)
        self.fields["default_instance"].queryset = _instances(account)
        for event_type in call_templates.TEMPLATE_EVENTS:
            kind = call_templates.EVENT_KINDS[event_type]
            self.fields[f"tpl_{event_type}_enabled"] = forms.BooleanField(
                label=f"Send on {kind.label.lower()}", required=False, initial=kind.default_enabled
            )
            self.fields[f"tpl_{event_type}_text"] = forms.CharField(
                label=f"{kind.label} template",
                required=False,
                max_length=1000,
                initial=kind.default_template,
                widget=forms.Textarea(attrs={"rows": 3, "data-template-preview": event_type}),
            )
        meta_choices = [("", "— none: send the text —")] + [
            (f"{t.name}:{t.language}", f"{t.name} ({t.language}) · {t.instance.name}") for t in _meta_templates(account)
        ]
        for event_type in call_templates.TEMPLATE_EVENTS:
            kind = call_templates.EVENT_KINDS[event_type]
            self.fields[f"tpl_{event_type}_meta"] = forms.ChoiceField(
                label=f"{kind.label}: Meta template on a Cloud API number",
                required=False,
                choices=meta_choices,
                help_text="On a WhatsApp Cloud API instance a text reaches only people who wrote in the last 24 "
                "hours; an approved Meta template reaches callers too.",
            )
            self.fields[f"tpl_{event_type}_meta_vars"] = forms.CharField(
                label="Its variables {{1}}, {{2}} … from",
                required=False,
                max_length=300,
                help_text="Placeholders in order, e.g. business_name, call_time.",
            )
        if integration is not None:
            hint = integration.endpoint_url_hint or "not set"
            self.fields["endpoint_url"].help_text = f"Saved: {hint}. " + self.fields["endpoint_url"].help_text

    @staticmethod
    def initial_from(integration: Integration) -> dict:
        initial = {
            "name": integration.name,
            "default_instance": integration.default_instance,
            "auth_mode": integration.auth_mode,
            "allowed_ips": "\n".join(integration.allowed_ips or []),
            "inbound_enabled": integration.inbound_enabled,
            "outbound_enabled": integration.outbound_enabled,
            "call_event_enabled": integration.call_event_enabled,
            "strict_window": integration.strict_window,
            "business_name": integration.business_name,
            "inbound_format": integration.inbound_format,
        }
        for event_type in call_templates.TEMPLATE_EVENTS:
            enabled, text = call_templates.template_for(integration.templates, event_type)
            initial[f"tpl_{event_type}_enabled"] = enabled
            initial[f"tpl_{event_type}_text"] = text
            meta = call_templates.meta_template_for(integration.templates, event_type)
            if meta is not None:
                initial[f"tpl_{event_type}_meta"] = f"{meta[0]}:{meta[1]}"
                initial[f"tpl_{event_type}_meta_vars"] = ", ".join(meta[2])
        return initial

    def template_rows(self) -> list[tuple[str, forms.BoundField, forms.BoundField, forms.BoundField, forms.BoundField]]:
        return [
            (
                event_type,
                self[f"tpl_{event_type}_enabled"],
                self[f"tpl_{event_type}_text"],
                self[f"tpl_{event_type}_meta"],
                self[f"tpl_{event_type}_meta_vars"],
            )
            for event_type in call_templates.TEMPLATE_EVENTS
        ]

    def clean_endpoint_url(self) -> str:
        url = self.cleaned_data["endpoint_url"].strip()
        if not url:
            return ""
        return validate_endpoint_url(url)

    def clean_allowed_ips(self) -> list[str]:
        try:
            return parse_allowed_ips(self.cleaned_data["allowed_ips"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean(self) -> dict:
        cleaned = super().clean()
        for event_type in call_templates.TEMPLATE_EVENTS:
            text = (cleaned.get(f"tpl_{event_type}_text") or "").strip()
            cleaned[f"tpl_{event_type}_text"] = text
            unknown = call_templates.unknown_placeholders(text)
            if unknown:
                names = ", ".join("{{" + name + "}}" for name in unknown)
                known = ", ".join("{{" + name + "}}" for name in call_templates.PLACEHOLDERS)
                self.add_error(f"tpl_{event_type}_text", f"Unknown placeholder {names}. Use {known}.")
            if cleaned.get(f"tpl_{event_type}_enabled") and not text:
                self.add_error(f"tpl_{event_type}_text", "An enabled template needs a text.")
            names = call_templates.parse_placeholder_list(cleaned.get(f"tpl_{event_type}_meta_vars") or "")
            cleaned[f"tpl_{event_type}_meta_vars"] = names
            wrong = [n for n in names if n not in call_templates.PLACEHOLDERS]
            if wrong:
                self.add_error(
                    f"tpl_{event_type}_meta_vars",
                    f"Unknown placeholder {', '.join(wrong)}. Use {', '.join(call_templates.PLACEHOLDERS)}.",
                )
            if text and not unknown:
                problem = _content_problem(text)
                if problem:
                    self.add_error(f"tpl_{event_type}_text", problem)
        has_saved_url = bool(self.integration and self.integration.delivery_endpoint_id)
        self.inbound_deferred = False
        if cleaned.get("inbound_enabled") and not cleaned.get("endpoint_url") and not has_saved_url:
            if self.integration is None:
                # 3CX shows its Webhook URL only after it has our Provider URL, which exists only once the
                # integration does: create it with inbound off and guide the second step (see the view's message).
                cleaned["inbound_enabled"] = False
                self.inbound_deferred = True
            else:
                self.add_error("endpoint_url", "Inbound forwarding needs the 3CX Webhook URL (or turn inbound off).")
        return cleaned

    def settings_fields(self) -> dict:
        """Keyword arguments for ``integration_create`` / ``integration_update``."""
        data = self.cleaned_data
        templates = {
            event_type: {
                "enabled": bool(data[f"tpl_{event_type}_enabled"]),
                "text": data[f"tpl_{event_type}_text"],
                "meta_template": data.get(f"tpl_{event_type}_meta") or "",
                "meta_variables": data.get(f"tpl_{event_type}_meta_vars") or [],
            }
            for event_type in call_templates.TEMPLATE_EVENTS
        }
        return {
            "name": data["name"].strip(),
            "default_instance": data["default_instance"],
            "auth_mode": data["auth_mode"],
            "allowed_ips": data["allowed_ips"],
            "inbound_enabled": data["inbound_enabled"],
            "outbound_enabled": data["outbound_enabled"],
            "call_event_enabled": data["call_event_enabled"],
            "strict_window": data["strict_window"],
            "business_name": data["business_name"].strip(),
            "inbound_format": data["inbound_format"],
            "templates": templates,
        }


class DidMappingForm(forms.Form):
    did = forms.CharField(
        label="3CX DID",
        max_length=32,
        widget=forms.TextInput(attrs={"placeholder": "+13052314933"}),
        help_text="A number on the 3CX SMS trunk, E.164.",
    )
    instance = InstanceChoiceField(queryset=Instance.objects.none(), label="WhatsApp instance")

    def __init__(self, *args, account: Account, **kwargs) -> None:
        self.account = account
        super().__init__(*args, **kwargs)
        self.fields["instance"].queryset = _instances(account)

    def clean_did(self) -> str:
        try:
            return normalize_e164(self.cleaned_data["did"], self.account.default_country)
        except InvalidPhoneNumber as exc:
            raise forms.ValidationError("Enter the DID as a full phone number, e.g. +13052314933.") from exc
