"""``/metrics`` (Prometheus, protected) and the operator dashboard in the admin."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from whatsapp_gateway.lib.client_ip import request_origin
from whatsapp_gateway.operations import metrics, selectors, services
from whatsapp_gateway.operations.forms import KillSwitchForm


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition. Answers 404 (not 401/403) to anyone without the token or an allowed IP."""
    if not metrics.metrics_allowed(request):
        raise Http404
    body, content_type = metrics.render()
    return HttpResponse(body, content_type=content_type)


@never_cache
def dashboard(request: HttpRequest) -> HttpResponse:
    context = {
        **admin.site.each_context(request),
        "title": "Operations dashboard",
        "form": KillSwitchForm(),
        **selectors.dashboard_data(),
    }
    return TemplateResponse(request, "operations/dashboard.html", context)


@require_POST
def kill_switch(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("operations.change_operatorsettings"):
        raise Http404
    form = KillSwitchForm(request.POST)
    if form.is_valid():
        enabled = form.cleaned_data["enabled"]
        services.sending_set_enabled(
            enabled=enabled, reason=form.cleaned_data["reason"], actor=request.user, **request_origin(request)
        )
        if enabled:
            messages.success(request, "Outbound sending is enabled again; queued messages resume.")
        else:
            messages.warning(request, "Outbound sending is DISABLED for every account (kill switch).")
    return redirect("operations:dashboard")


dashboard_view = admin.site.admin_view(dashboard)
kill_switch_view = admin.site.admin_view(kill_switch)
