"""allauth hooks: the operator can close sign-up; sign-up creates the account with the user as owner; allauth's
login limits key on the gateway's own client address (lib/client_ip.py)."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from whatsapp_gateway.lib.client_ip import client_ip


class GatewayAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return settings.GATEWAY_SIGNUP_ENABLED

    def get_client_ip(self, request: HttpRequest) -> str:
        ip = client_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine client IP address")
        return ip
