"""The operator back office (``/admin/``) signs in through the portal login, with its throttling and second factor.

Django's stock admin login checks a password and nothing else. Here ``/admin/login/`` sends everyone to the portal
login (allauth: login limits, TOTP step) and back; a staff user without an authenticator app gets a page asking
them to set one up, and no admin page (nor the operations dashboard, which uses the admin's permission check)
opens until they have.
"""

from __future__ import annotations

from allauth.account.decorators import secure_admin_login
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.contrib.admin import AdminSite
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme


def operator_has_mfa(user) -> bool:
    return is_mfa_enabled(user, types=[Authenticator.Type.TOTP])


def protect_admin_site(site: AdminSite) -> None:
    """Route ``site``'s login through the portal and require an active, staff user with TOTP for every page."""

    def has_permission(request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and user.is_staff and operator_has_mfa(user))

    @secure_admin_login
    def login(request: HttpRequest, extra_context=None) -> HttpResponse:
        # Only signed-in, active staff get here (anyone else went to the portal login or got 403). Django's login
        # form is never shown, so no password alone can start an admin session.
        if not operator_has_mfa(request.user):
            context = {**site.each_context(request), "title": "Two-factor authentication required"}
            return TemplateResponse(request, "admin/mfa_required.html", context, status=403)
        target = request.GET.get("next", "")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = reverse("admin:index", current_app=site.name)
        return redirect(target)

    site.has_permission = has_permission
    site.login = login
