"""allauth hooks: the operator can close sign-up; sign-up creates the account with the user as owner."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.http import HttpRequest


class GatewayAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return settings.GATEWAY_SIGNUP_ENABLED
