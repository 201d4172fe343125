"""Portal pages for Integrations → 3CX (``/integrations/3cx``). Thin: parse a form, call one service, render.

Reading is open to every member; changes need an admin (they are security-relevant and audit-logged). Every URL
with an integration id resolves it through the account-scoped selector, so another account's id is a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from whatsapp_gateway.accounts.decorators import portal_view
from whatsapp_gateway.accounts.models import Module, Role
from whatsapp_gateway.lib.client_ip import request_origin
from whatsapp_gateway.threecx import call_templates, delivery, selectors, services
from whatsapp_gateway.threecx.crm_template import crm_template_xml
from whatsapp_gateway.threecx.forms import DidMappingForm, IntegrationForm
from whatsapp_gateway.threecx.models import Decision, Direction, Integration, IntegrationStatus

ONCE_SESSION_KEY = "threecx_credentials_once"


def webhook_url(integration: Integration) -> str:
    """The Provider URL to paste into 3CX (also the target of the CRM template)."""
    path = reverse("threecx:threecx_api:threecx_webhook", kwargs={"integration_id": integration.public_id})
    return f"{settings.GATEWAY_BASE_URL}{path}"


def module_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """After ``portal_view``: without the operator-enabled ``threecx`` module, say so honestly (the overview answers
    200 with the explanation; every other page 403 with the same explanation)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.account.has_module(Module.THREECX):
            status = 200 if view.__name__ == "list_view" else 403
            return render(request, "threecx/module_disabled.html", {"active_nav": "threecx"}, status=status)
        return view(request, *args, **kwargs)

    return wrapper


def _remember_once(request: HttpRequest, integration: Integration, credentials: services.Credentials) -> None:
    store = request.session.get(ONCE_SESSION_KEY, {})
    entry = store.get(integration.public_id, {})
    if credentials.secret:
        entry["secret"] = credentials.secret
    if credentials.api_key:
        entry["api_key"] = credentials.api_key
    store[integration.public_id] = entry
    request.session[ONCE_SESSION_KEY] = store


def _pop_once(request: HttpRequest, integration: Integration) -> dict:
    store = request.session.get(ONCE_SESSION_KEY, {})
    entry = store.pop(integration.public_id, {})
    if entry:
        request.session[ONCE_SESSION_KEY] = store
    return entry


@portal_view()
@module_required
def list_view(request: HttpRequest) -> HttpResponse:
    integrations = selectors.integrations_for_account(account=request.account)
    return render(
        request,
        "threecx/list.html",
        {
            "active_nav": "threecx",
            "integrations": integrations,
            "can_manage": request.membership.has_role(Role.ADMIN),
        },
    )


@portal_view(minimum_role=Role.ADMIN)
@module_required
@require_http_methods(["GET", "POST"])
def create_view(request: HttpRequest) -> HttpResponse:
    form = IntegrationForm(request.POST or None, account=request.account)
    if request.method == "POST" and form.is_valid():
        fields = form.settings_fields()
        integration, credentials = services.integration_create(
            account=request.account,
            endpoint_url=form.cleaned_data["endpoint_url"],
            actor=request.user,
            **request_origin(request),
            **fields,
        )
        _remember_once(request, integration, credentials)
        messages.success(request, "Integration created. Copy the secret and the API key now: they are shown once.")
        if form.inbound_deferred:
            messages.info(
                request,
                "Next step: in 3CX, add a Generic SMS provider with the Provider URL below. 3CX then shows its Webhook "
                "URL: paste it under Edit → 3CX Webhook URL and tick Inbound to forward customers' messages.",
            )
        return redirect("threecx:detail", integration_id=integration.public_id)
    return render(request, "threecx/form.html", _form_context(request, form, None))


def _form_context(request: HttpRequest, form: IntegrationForm, integration: Integration | None) -> dict:
    return {
        "active_nav": "threecx",
        "form": form,
        "integration": integration,
        "placeholders": call_templates.PLACEHOLDERS,
        "account_name": request.account.name,
    }


@portal_view()
@module_required
def detail_view(request: HttpRequest, integration_id: str) -> HttpResponse:
    integration = selectors.integration_get_for_account(account=request.account, public_id=integration_id)
    delivery.threecx_deliveries_sync(integration=integration)
    once = _pop_once(request, integration)
    templates = [
        (call_templates.EVENT_KINDS[name], *call_templates.template_for(integration.templates, name))
        for name in call_templates.TEMPLATE_EVENTS
    ]
    return render(
        request,
        "threecx/detail.html",
        {
            "active_nav": "threecx",
            "integration": integration,
            "webhook_url": webhook_url(integration),
            "once": once,
            "did_mappings": selectors.did_mappings(integration=integration),
            "did_form": DidMappingForm(account=request.account),
            "templates": templates,
            "recent_events": selectors.integration_events(integration=integration)[:10],
            "can_manage": request.membership.has_role(Role.ADMIN),
            "event_types": call_templates.EVENT_KINDS.values(),
            "endpoint": integration.delivery_endpoint,
        },
    )


@portal_view(minimum_role=Role.ADMIN)
@module_required
@require_http_methods(["GET", "POST"])
def edit_view(request: HttpRequest, integration_id: str) -> HttpResponse:
    integration = selectors.integration_get_for_account(account=request.account, public_id=integration_id)
    form = IntegrationForm(request.POST or None, account=request.account, integration=integration)
    if request.method == "POST" and form.is_valid():
        url = form.cleaned_data["endpoint_url"]
        services.integration_update(
            integration=integration,
            actor=request.user,
            **request_origin(request),
            endpoint_url=url or None,
            **form.settings_fields(),
        )
        messages.success(request, "Settings saved.")
        return redirect("threecx:detail", integration_id=integration.public_id)
    return render(request, "threecx/form.html", _form_context(request, form, integration))


@portal_view(minimum_role=Role.ADMIN)
@module_required
@require_POST
def rotate_secret_view(request: HttpRequest, integration_id: str) -> HttpResponse:
    integration = selectors.integration_get_for_account(account=request.account, public_id=integration_id)
    _remember_once(
        request,
        integration,
        services.integration_rotate_secret(integration=integration, actor=request.user, **request_origin(request)),
    )
    messages.warning(
        request, "New secret created; the old one no longer works. Update your middleware or CRM template."
    )
    return redirect("threecx:detail", integration_id=integration.public_id)


@portal_view(minimum_role=Role.ADMIN)
@module_required
@require_POST
def rotate_api_key_view(request: HttpRequest, integration_id: str) -> HttpResponse:
    integration = selectors.integration_get_for_account(account=request.account, public_id=integration_id)
    _remember_once(
        request,
        integration,
        services.integration_rotate_api_key(integration=integration, actor=request.user, **request_origin(request)),
    )
    messages.warning(request, "New API key created; the old one no longer works. Paste it into the 3CX SMS trunk.")
    return redirect("threecx:detail", integration_id=integration.public_id)


@portal_view(minimum_role=Role.ADMIN)
@module_required
@require_POST
def status_view(request: HttpRequest, integration_id: str) -> HttpResponse:
    integration = selectors.integration_get_for_account(account=request.account, public_id=integration_id)
    status = request.POST.get("status", "")
    if status in IntegrationStatus.values:
        services.integration_set_status(
            integration=integration, status=status, actor=request.user, **request_origin(request)
        )
        messages.success(request, f"Integration {IntegrationStatus(status).label.lower()}.")
    return redirect("threecx:detail", integration_id=integration.public_id)


@portal_view(minimum_role=Role.ADMIN)
@module_required
@require_POST
def delete_view(request: HttpRequest, integration_id: str) -> HttpResponse:
    integration = selectors.integration_get_for_account(account=request.account, public_id=integration_id)
    name = integration.name
    services.integration_delete(integration=integration, actor=request.user, **request_origin(request))
    messages.success(request, f"Integration “{name}” deleted.")
    return redirect("threecx:list")


@portal_view(minimum_role=Role.ADMIN)
@module_required
@require_POST
def did_add_view(request: HttpRequest, integration_id: str) -> HttpResponse:
    integration = selectors.integration_get_for_account(account=request.account, public_id=integration_id)
    form = DidMappingForm(request.POST, account=request.account)
    if form.is_valid():
        services.did_mapping_add(
            integration=integration,
            did=form.cleaned_data["did"],
            instance=form.cleaned_data["instance"],
            actor=request.user,
            **request_origin(request),
        )
        messages.success(request, f"DID {form.cleaned_data['did']} mapped.")
    else:
        for field_errors in form.errors.values():
            for error in field_errors:
                messages.error(request, error)
    return redirect("threecx:detail", integration_id=integration.public_id)


@portal_view(minimum_role=Role.ADMIN)
@module_required
@require_POST
def did_remove_view(request: HttpRequest, integration_id: str) -> HttpResponse:
    integration = selectors.integration_get_for_account(account=request.account, public_id=integration_id)
    did = request.POST.get("did", "")
    services.did_mapping_remove(integration=integration, did=did, actor=request.user, **request_origin(request))
    messages.success(request, f"DID {did} unmapped.")
    return redirect("threecx:detail", integration_id=integration.public_id)


@portal_view(minimum_role=Role.ADMIN)
@module_required
@require_POST
def send_test_view(request: HttpRequest, integration_id: str) -> HttpResponse:
    """Post a test ``message.received`` to the saved 3CX Webhook URL now and say what 3CX answered."""
    integration = selectors.integration_get_for_account(account=request.account, public_id=integration_id)
    if integration.delivery_endpoint is None:
        messages.error(request, "Save the 3CX Webhook URL first.")
        return redirect("threecx:detail", integration_id=integration.public_id)
    outcome = delivery.threecx_send_test(integration=integration, actor=request.user, **request_origin(request))
    if outcome.ok:
        messages.success(request, f"3CX answered {outcome.summary}. The test message should appear in 3CX.")
    else:
        messages.error(request, f"The test did not reach 3CX: {outcome.summary}.")
    return redirect("threecx:detail", integration_id=integration.public_id)


@portal_view(minimum_role=Role.ADMIN)
@module_required
@require_POST
def resume_forwarding_view(request: HttpRequest, integration_id: str) -> HttpResponse:
    """Turn forwarding back on after the engine disabled the 3CX endpoint (410 Gone, or 5 days of failures)."""
    integration = selectors.integration_get_for_account(account=request.account, public_id=integration_id)
    services.integration_resume_forwarding(integration=integration, actor=request.user, **request_origin(request))
    messages.success(request, "Forwarding to 3CX is on again.")
    return redirect("threecx:detail", integration_id=integration.public_id)


@portal_view()
@module_required
def crm_template_view(request: HttpRequest, integration_id: str) -> HttpResponse:
    integration = selectors.integration_get_for_account(account=request.account, public_id=integration_id)
    xml = crm_template_xml(integration=integration, webhook_url=webhook_url(integration))
    response = HttpResponse(xml, content_type="application/xml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="whatsapp-gateway-3cx-{integration.public_id}.xml"'
    return response


@portal_view()
@module_required
def events_view(request: HttpRequest, integration_id: str) -> HttpResponse:
    integration = selectors.integration_get_for_account(account=request.account, public_id=integration_id)
    delivery.threecx_deliveries_sync(integration=integration)
    events = selectors.integration_events(integration=integration)
    direction = request.GET.get("direction", "")
    decision = request.GET.get("decision", "")
    if direction in Direction.values:
        events = events.filter(direction=direction)
    if decision in Decision.values:
        events = events.filter(decision=decision)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "threecx/events.html",
        {
            "active_nav": "threecx",
            "integration": integration,
            "page": page,
            "directions": Direction.choices,
            "decisions": Decision.choices,
            "direction": direction,
            "decision": decision,
            "deliveries": selectors.deliveries_to_3cx(integration=integration)[:20],
        },
    )
