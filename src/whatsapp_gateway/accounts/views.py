"""Account portal pages: settings, members, audit log. Thin: parse, call a service, render."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from whatsapp_gateway.accounts import selectors, services
from whatsapp_gateway.accounts.decorators import portal_view
from whatsapp_gateway.accounts.forms import AccountSettingsForm, MemberInviteForm, MemberRoleForm
from whatsapp_gateway.accounts.models import Module, Role
from whatsapp_gateway.lib.client_ip import request_origin


@portal_view()
@require_http_methods(["GET", "POST"])
def account_settings(request: HttpRequest) -> HttpResponse:
    can_edit = request.membership.has_role(Role.ADMIN)
    form = AccountSettingsForm(request.POST or None, instance=request.account)
    if request.method == "POST":
        if not can_edit:
            return render(request, "accounts/forbidden.html", {"required_role": "Admin"}, status=403)
        if form.is_valid():
            # The ModelForm already assigned the cleaned values; compare against a fresh copy for the audit diff.
            fresh = type(request.account).objects.get(pk=request.account.pk)
            services.account_update_settings(
                account=fresh,
                actor=request.user,
                **request_origin(request),
                **{f: form.cleaned_data[f] for f in form.Meta.fields},
            )
            messages.success(request, "Account settings saved.")
            return redirect("accounts:settings")
    return render(
        request,
        "accounts/settings.html",
        {
            "form": form,
            "can_edit": can_edit,
            "account": request.account,
            "module_labels": [label for value, label in Module.choices if request.account.has_module(value)],
            "active_nav": "account",
        },
    )


@portal_view(minimum_role=Role.ADMIN)
@require_http_methods(["GET", "POST"])
def members(request: HttpRequest) -> HttpResponse:
    form = MemberInviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.member_invite(
                account=request.account,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                request=request,
            )
        except services.MembershipError as exc:
            form.add_error("email", str(exc))
        else:
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
            return redirect("accounts:members")
    return render(
        request,
        "accounts/members.html",
        {
            "form": form,
            "members": selectors.members_for_account(account=request.account),
            "role_choices": Role.choices,
            "active_nav": "account",
        },
    )


@portal_view(minimum_role=Role.ADMIN)
@require_POST
def member_role(request: HttpRequest, membership_id: str) -> HttpResponse:
    membership = selectors.membership_get_for_account(account=request.account, public_id=membership_id)
    form = MemberRoleForm(request.POST)
    if form.is_valid():
        try:
            services.member_change_role(
                by=request.membership,
                membership=membership,
                role=form.cleaned_data["role"],
                actor=request.user,
                **request_origin(request),
            )
            messages.success(request, f"{membership.user.email} is now {membership.get_role_display()}.")
        except services.MembershipError as exc:
            messages.error(request, str(exc))
    return redirect("accounts:members")


@portal_view(minimum_role=Role.ADMIN)
@require_POST
def member_remove(request: HttpRequest, membership_id: str) -> HttpResponse:
    membership = selectors.membership_get_for_account(account=request.account, public_id=membership_id)
    try:
        services.member_remove(
            by=request.membership, membership=membership, actor=request.user, **request_origin(request)
        )
        messages.success(request, "Member removed.")
    except services.MembershipError as exc:
        messages.error(request, str(exc))
    return redirect("accounts:members")


@portal_view(minimum_role=Role.ADMIN)
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    entries = selectors.audit_log_for_account(account=request.account)
    action = request.GET.get("action", "").strip()
    actor = request.GET.get("actor", "").strip()
    if action:
        entries = entries.filter(action__startswith=action)
    if actor:
        entries = entries.filter(actor_label__icontains=actor)
    tz = timezone.get_current_timezone()  # the account's (ui.middleware): days are its local days
    dates = {}
    for key in ("date_from", "date_to"):
        try:
            dates[key] = dt.date.fromisoformat(request.GET.get(key, ""))
        except ValueError:
            dates[key] = None
    if dates["date_from"]:
        entries = entries.filter(created_at__gte=dt.datetime.combine(dates["date_from"], dt.time.min, tzinfo=tz))
    if dates["date_to"]:
        end = dates["date_to"] + dt.timedelta(days=1)
        entries = entries.filter(created_at__lt=dt.datetime.combine(end, dt.time.min, tzinfo=tz))
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "accounts/audit_log.html",
        {
            "page": page,
            "action": action,
            "actor": actor,
            "date_from": dates["date_from"] or "",
            "date_to": dates["date_to"] or "",
            "active_nav": "account",
        },
    )
