"""Portal pages for API keys: list, create (the key is shown once, in the response to the POST), revoke."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from whatsapp_gateway.accounts.decorators import portal_view
from whatsapp_gateway.accounts.models import Role
from whatsapp_gateway.apikeys.forms import ApiKeyCreateForm
from whatsapp_gateway.apikeys.selectors import api_key_get_for_account, api_key_list
from whatsapp_gateway.apikeys.services import api_key_create, api_key_revoke
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib.client_ip import request_origin


def _example_instance(request: HttpRequest, created) -> str:
    """An instance name for the page's curl example: one the new key may use."""
    if created is None:
        return ""
    scope = created.api_key.instances.all() if created.api_key.instance_scoped else None
    pool = scope if scope is not None else Instance.objects.filter(account=request.account, deleted_at__isnull=True)
    first = pool.order_by("name").first()
    return first.name if first else ""


def _render(request: HttpRequest, form: ApiKeyCreateForm, *, created=None, status: int = 200) -> HttpResponse:
    response = render(
        request,
        "apikeys/list.html",
        {
            "active_nav": "apikeys",
            "keys": api_key_list(account=request.account),
            "form": form,
            "can_admin": request.membership.has_role(Role.ADMIN),
            "created": created,
            "example_instance": _example_instance(request, created),
        },
        status=status,
    )
    if created is not None:
        response["Cache-Control"] = "no-store"  # the full key is in this page and nowhere else
    return response


@portal_view()
@require_http_methods(["GET", "POST"])
def list_view(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _create(request)
    return _render(request, ApiKeyCreateForm(account=request.account))


@portal_view(minimum_role=Role.ADMIN)
def _create(request: HttpRequest) -> HttpResponse:
    form = ApiKeyCreateForm(request.POST, account=request.account)
    if not form.is_valid():
        return _render(request, form, status=400)
    created = api_key_create(
        account=request.account,
        name=form.cleaned_data["name"],
        instances=form.cleaned_data["instances"],
        created_by=request.user,
        **request_origin(request),
    )
    return _render(request, ApiKeyCreateForm(account=request.account), created=created)


@portal_view(minimum_role=Role.ADMIN)
@require_POST
def revoke_view(request: HttpRequest, key_id: str) -> HttpResponse:
    key = api_key_get_for_account(account=request.account, public_id=key_id)
    api_key_revoke(api_key=key, revoked_by=request.user, **request_origin(request))
    messages.success(
        request, f"The key “{key.name}” ({key.prefix}…) is revoked. Requests with it now answer revoked_api_key."
    )
    return redirect("apikeys:list")
