"""Portal-wide actions that belong to no single area."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from whatsapp_gateway.accounts.decorators import portal_view
from whatsapp_gateway.accounts.models import Role
from whatsapp_gateway.accounts.services import audit_record
from whatsapp_gateway.lib.client_ip import request_origin
from whatsapp_gateway.ui.reveal import SCOPES, reveal_grant


def _with_reveal(url: str) -> str:
    parts = urlsplit(url)
    query = "&".join(p for p in parts.query.split("&") if p and not p.startswith("reveal="))
    return urlunsplit(("", "", parts.path, f"{query}&reveal=1" if query else "reveal=1", ""))


@portal_view(minimum_role=Role.ADMIN)
@require_POST
def reveal_view(request: HttpRequest) -> HttpResponse:
    """Record that an admin asked to see full numbers, then show the page they were on with them."""
    scope = request.POST.get("scope", "")
    if scope not in SCOPES:
        return HttpResponseBadRequest("Unknown area.")
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}, require_https=False):
        next_url = "/dashboard"
    path = urlsplit(next_url).path
    audit_record(
        account=request.account,
        action=SCOPES[scope],
        actor=request.user,
        **request_origin(request),
        target_type="page",
        target_id=path[:80],
    )
    reveal_grant(request, scope)
    return redirect(_with_reveal(next_url))
