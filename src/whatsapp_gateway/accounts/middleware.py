"""Gives every request a cached ``request.get_membership()``; ``portal_view`` turns it into ``request.account``."""

from __future__ import annotations

from whatsapp_gateway.accounts.selectors import membership_for_user


class CurrentAccountMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        cache: dict = {}

        def get_membership():
            if "m" not in cache:
                cache["m"] = membership_for_user(request.user)
            return cache["m"]

        request.get_membership = get_membership
        request.account = None
        request.membership = None
        return self.get_response(request)
