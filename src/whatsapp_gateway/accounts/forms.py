"""Portal forms for accounts: sign-up (adds the business name), account settings, members."""

from __future__ import annotations

import zoneinfo

import phonenumbers
from allauth.account.forms import SignupForm
from django import forms

from whatsapp_gateway.accounts.models import Account, Role
from whatsapp_gateway.accounts.services import account_create
from whatsapp_gateway.lib.client_ip import request_origin

_TIMEZONES = sorted(zoneinfo.available_timezones())
_COUNTRIES = sorted(phonenumbers.SUPPORTED_REGIONS)


class GatewaySignupForm(SignupForm):
    business_name = forms.CharField(max_length=120, label="Business name")
    timezone = forms.ChoiceField(choices=[(tz, tz) for tz in _TIMEZONES], initial="UTC")
    default_country = forms.ChoiceField(
        choices=[(c, c) for c in _COUNTRIES], initial="SA", label="Default country for phone numbers"
    )

    field_order = ["business_name", "email", "password1", "password2", "timezone", "default_country"]

    def save(self, request):
        user = super().save(request)
        origin = request_origin(request)
        account_create(
            name=self.cleaned_data["business_name"],
            owner=user,
            timezone=self.cleaned_data["timezone"],
            default_country=self.cleaned_data["default_country"],
            client_ip=origin["client_ip"],
            user_agent=origin["user_agent"],
        )
        return user


class AccountSettingsForm(forms.ModelForm):
    timezone = forms.ChoiceField(choices=[(tz, tz) for tz in _TIMEZONES])
    default_country = forms.ChoiceField(choices=[(c, c) for c in _COUNTRIES], label="Default country for phone numbers")
    extra_opt_out_keywords = forms.CharField(
        required=False,
        label="Extra opt-out keywords",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One keyword per line, added to the built-in English and Arabic opt-out keywords.",
    )

    class Meta:
        model = Account
        labels = {
            "name": "Business name",
            "send_opt_out_confirmation": "Send one confirmation reply after an opt-out",
            "allow_authentication_to_opted_out": "Allow authentication codes to numbers that opted out",
        }
        fields = [
            "name",
            "timezone",
            "default_country",
            "extra_opt_out_keywords",
            "send_opt_out_confirmation",
            "allow_authentication_to_opted_out",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance and not self.is_bound:
            self.initial["extra_opt_out_keywords"] = "\n".join(self.instance.extra_opt_out_keywords or [])

    def clean_extra_opt_out_keywords(self) -> list[str]:
        raw = self.cleaned_data.get("extra_opt_out_keywords") or ""
        keywords = []
        for line in raw.splitlines():
            keyword = line.strip().casefold()
            if keyword and keyword not in keywords:
                if len(keyword) > 40:
                    raise forms.ValidationError("Each keyword must be at most 40 characters.")
                keywords.append(keyword)
        return keywords


class MemberInviteForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=[(Role.MEMBER, "Member"), (Role.ADMIN, "Admin")])


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
