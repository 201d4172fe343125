"""Portal pages for instances: the list (create, rename, delete) and the manage page with its tabs.

Thin views: parse the form, call one service, redirect with a message. Every lookup goes through
``instance_get_for_account`` (another account's instance is a 404).
"""

from __future__ import annotations

import segno
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from whatsapp_gateway.accounts.decorators import portal_view
from whatsapp_gateway.accounts.models import Role
from whatsapp_gateway.instances import selectors, services, tabs
from whatsapp_gateway.instances.forms import (
    SIMULATIONS,
    ConnectForm,
    InstanceCreateForm,
    InstanceRenameForm,
    SimulateForm,
)
from whatsapp_gateway.instances.models import Instance, InstanceState
from whatsapp_gateway.lib import phone as phone_lib
from whatsapp_gateway.lib.client_ip import request_origin
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.providers.sandbox import simulate
from whatsapp_gateway.providers.sandbox.phone import (
    DEFAULT_CONTACT,
    DEFAULT_CONTACT_NAME,
    TEST_NUMBERS,
    SandboxError,
    sandbox_recent_messages,
    sandbox_session_for,
)


def _manage_url(instance: Instance, tab: str = "connection") -> str:
    return f"{reverse('instances:manage', args=[instance.public_id])}?tab={tab}"


def _render_list(request: HttpRequest, form: InstanceCreateForm, *, status: int = 200) -> HttpResponse:
    account = request.account
    return render(
        request,
        "instances/list.html",
        {
            "active_nav": "instances",
            "instances": selectors.instance_list_for_account(account=account),
            "form": form,
            "can_admin": request.membership.has_role(Role.ADMIN),
            "instance_limit": account.plan.max_instances,
            "instance_count": selectors.instance_count_for_account(account=account),
        },
        status=status,
    )


@portal_view()
@require_GET
def list_view(request: HttpRequest) -> HttpResponse:
    return _render_list(request, InstanceCreateForm())


@portal_view(minimum_role=Role.ADMIN)
@require_POST
def create_view(request: HttpRequest) -> HttpResponse:
    form = InstanceCreateForm(request.POST)
    if form.is_valid():
        try:
            instance = services.instance_create(
                account=request.account,
                name=form.cleaned_data["name"],
                provider=form.cleaned_data.get("provider") or None,
                actor=request.user,
                **request_origin(request),
            )
        except services.InstanceError as exc:
            form.add_error("name", exc.message)
        else:
            messages.success(request, f"Instance {instance.name} created. Connect it to a phone below.")
            return redirect(_manage_url(instance))
    return _render_list(request, form, status=400)


@portal_view(minimum_role=Role.ADMIN)
@require_POST
def rename_view(request: HttpRequest, instance_id: str) -> HttpResponse:
    instance = selectors.instance_get_for_account(account=request.account, public_id=instance_id)
    form = InstanceRenameForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Use letters, digits, hyphens and underscores only.")
    else:
        try:
            services.instance_rename(
                instance=instance, name=form.cleaned_data["name"], actor=request.user, **request_origin(request)
            )
        except services.InstanceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Renamed to {instance.name}.")
    return redirect((request.POST.get("next") == "manage" and _manage_url(instance)) or "instances:list")


@portal_view(minimum_role=Role.ADMIN)
@require_POST
def delete_view(request: HttpRequest, instance_id: str) -> HttpResponse:
    instance = selectors.instance_get_for_account(account=request.account, public_id=instance_id)
    services.instance_delete(instance=instance, actor=request.user, **request_origin(request))
    messages.success(request, f"Instance {instance.name} deleted.")
    return redirect("instances:list")


@portal_view()
def manage_view(request: HttpRequest, instance_id: str) -> HttpResponse:
    instance = selectors.instance_get_for_account(account=request.account, public_id=instance_id)
    tab = tabs.get_tab(request.GET.get("tab") or "connection") or tabs.get_tab("connection")
    return tab.view(request, instance)


def _qr_svg(payload: str) -> str:
    if not payload:
        return ""
    return segno.make_qr(payload, error="m").svg_inline(scale=5, border=2, dark="#111827", omitsize=True)


def connection_tab(request: HttpRequest, instance: Instance) -> HttpResponse:
    """The ``connection`` tab: state card, QR / pairing code, actions, sandbox simulations, state history."""
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET"})
    context = {
        "history": selectors.instance_state_history(instance=instance),
        "qr_svg": mark_safe(_qr_svg(instance.qr_payload)),
        "connect_form": ConnectForm(),
        "can_admin": request.membership.has_role(Role.ADMIN),
        "masked_phone": phone_lib.mask(instance.phone_number),
        "simulations": SIMULATIONS,
    }
    if instance.is_sandbox:
        context.update(
            {
                "sandbox_session": sandbox_session_for(instance),
                "sandbox_messages": sandbox_recent_messages(instance),
                "test_numbers": list(TEST_NUMBERS.items()),
                "default_contact": DEFAULT_CONTACT,
            }
        )
    return tabs.render_tab(request, instance, "instances/tab_connection.html", context)


@portal_view(minimum_role=Role.ADMIN)
@require_POST
def connect_view(request: HttpRequest, instance_id: str) -> HttpResponse:
    instance = selectors.instance_get_for_account(account=request.account, public_id=instance_id)
    form = ConnectForm(request.POST)
    phone_number = form.cleaned_data.get("phone_number", "") if form.is_valid() else ""
    try:
        instance = services.instance_connect(instance=instance, phone_number=phone_number or None)
    except services.InstanceError as exc:
        messages.error(request, exc.message)
    else:
        if instance.pairing_code:
            messages.success(
                request, "Enter the pairing code on the phone: WhatsApp → Linked devices → Link with phone number."
            )
        elif instance.state == InstanceState.PAIRING and phone_number:
            messages.warning(
                request,
                "The provider gave no pairing code for this number. Scan the QR code with WhatsApp on the phone "
                "(Linked devices → Link a device), or ask for a code again in a minute.",
            )
        elif instance.state == InstanceState.PAIRING:
            messages.success(request, "Scan the QR code with WhatsApp on the phone: Linked devices → Link a device.")
    return redirect(_manage_url(instance))


@portal_view(minimum_role=Role.ADMIN)
@require_POST
def restart_view(request: HttpRequest, instance_id: str) -> HttpResponse:
    instance = selectors.instance_get_for_account(account=request.account, public_id=instance_id)
    try:
        instance = services.instance_restart(instance=instance)
    except services.InstanceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Session restarted: {instance.get_state_display().lower()}.")
    return redirect(_manage_url(instance))


@portal_view(minimum_role=Role.ADMIN)
@require_POST
def logout_view(request: HttpRequest, instance_id: str) -> HttpResponse:
    instance = selectors.instance_get_for_account(account=request.account, public_id=instance_id)
    try:
        services.instance_logout(instance=instance, actor=request.user, **request_origin(request))
    except services.InstanceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Logged out: the phone is no longer linked. Connect again to pair a phone.")
    return redirect(_manage_url(instance))


@never_cache
@portal_view()
@require_GET
def qr_view(request: HttpRequest, instance_id: str) -> JsonResponse:
    """Polled by the connection tab: the current state and QR code (as SVG), so the page refreshes by itself."""
    instance = selectors.instance_get_for_account(account=request.account, public_id=instance_id)
    expires = instance.qr_expires_at or instance.pairing_code_expires_at
    return JsonResponse(
        {
            "state": instance.state,
            "state_label": instance.get_state_display(),
            "qr_svg": _qr_svg(instance.qr_payload),
            "qr_version": instance.qr_codes_issued,
            "qr_expires_at": expires.isoformat() if expires else None,
            "expires_in": max(int((expires - now()).total_seconds()), 0) if expires else None,
            "pairing_code": instance.pairing_code or None,
        }
    )


_SIMULATION_LABELS = dict([("scan", "QR code scanned"), ("reconnect", "Phone back online"), *SIMULATIONS])


@portal_view()
@require_POST
def simulate_view(request: HttpRequest, instance_id: str) -> HttpResponse:
    """Sandbox instances only: act as the simulated phone or a contact. Goes through the provider callback route."""
    instance = selectors.instance_get_for_account(account=request.account, public_id=instance_id)
    form = SimulateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Unknown simulation.")
        return redirect(_manage_url(instance))
    data = form.cleaned_data
    phone = data.get("phone") or None
    text = data.get("text") or ""
    try:
        receipt = _run_simulation(instance, data["action"], phone=phone, text=text, name=data.get("name") or "")
    except SandboxError as exc:
        messages.error(request, exc.message)
    else:
        if receipt.status == 200:
            messages.success(
                request,
                f"Simulated — {_SIMULATION_LABELS[data['action']]}. "
                "It went through the provider callback route like a real provider's; no real WhatsApp message was involved.",
            )
        else:
            messages.error(request, f"The simulated callback was refused ({receipt.status}).")
    return redirect(_manage_url(instance))


def _run_simulation(instance: Instance, action: str, *, phone: str | None, text: str, name: str):
    if action == "scan":
        return simulate.scan(instance=instance)
    if action == "inbound":
        return simulate.inbound(
            instance=instance, from_phone=phone, text=text or "Hello!", from_name=name or DEFAULT_CONTACT_NAME
        )
    if action == "stop":
        return simulate.stop(instance=instance, from_phone=phone)
    if action == "call":
        return simulate.call(instance=instance, from_phone=phone)
    if action == "missed-call":
        return simulate.call(instance=instance, from_phone=phone, missed=True)
    if action == "group-message":
        return simulate.group_message(instance=instance, from_phone=phone, text=text or "Hello team!")
    if action == "group-update":
        return simulate.group_update(instance=instance, participant=phone)
    if action == "conversation-update":
        return simulate.conversation_update(instance=instance, phone=phone, unread_count=1)
    if action == "reconnect":
        return simulate.reconnect(instance=instance)
    return simulate.disconnect(instance=instance)
