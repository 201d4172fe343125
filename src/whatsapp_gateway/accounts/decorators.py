"""The portal's one gate: logged in, member of an active account, and (optionally) a minimum role."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from whatsapp_gateway.accounts.models import Role


def portal_view(minimum_role: str = Role.MEMBER) -> Callable:
    """Decorate a portal view. Sets ``request.membership`` and ``request.account``.

    A user without an account (e.g. an operator-only staff user) or in a suspended account sees an explanation;
    a member below ``minimum_role`` gets 403.
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            membership = request.get_membership()
            if membership is None:
                return render(request, "accounts/no_account.html", status=403)
            if membership.account.is_suspended:
                return render(request, "accounts/suspended.html", {"account": membership.account}, status=403)
            if not membership.has_role(minimum_role):
                return render(
                    request,
                    "accounts/forbidden.html",
                    {"required_role": Role(minimum_role).label},
                    status=403,
                )
            request.membership = membership
            request.account = membership.account
            return view(request, *args, **kwargs)

        wrapper.portal_minimum_role = minimum_role
        return wrapper

    return decorator
