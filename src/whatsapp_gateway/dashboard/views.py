"""The home dashboard (where sign-in lands) and its SVG charts."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from whatsapp_gateway.accounts.decorators import portal_view
from whatsapp_gateway.dashboard import charts, selectors
from whatsapp_gateway.lib.clock import now

RANGES = (7, 30)


def _days(request: HttpRequest) -> int:
    try:
        days = int(request.GET.get("days", 7))
    except ValueError:
        return 7
    return days if days in RANGES else 7


@portal_view()
@require_GET
def home_view(request: HttpRequest) -> HttpResponse:
    account = request.account
    moment = now()
    days = _days(request)
    onboarding = selectors.onboarding(account)
    context: dict = {
        "active_nav": "dashboard",
        "days": days,
        "ranges": RANGES,
        "usage": selectors.usage(account, moment),
        "onboarding": onboarding,
        "has_messages": selectors.has_any_message(account),
    }
    if context["has_messages"]:
        series = selectors.sends_per_day(account, moment, days)
        inbound = selectors.inbound_per_day(account, moment, days)
        context.update(
            series=series,
            outcomes=[(key, selectors.OUTCOME_LABELS[key]) for key in selectors.OUTCOMES],
            rates=selectors.rates(series),
            blocked=selectors.blocked_by_reason(account, moment, days),
            webhooks=selectors.webhook_health(account, moment, days),
            instance_states=selectors.instance_states(account),
            inbound=inbound,
            inbound_total=sum(n for _, n in inbound),
        )
    return render(request, "dashboard/home.html", context)


@portal_view()
@require_GET
def chart_view(request: HttpRequest, name: str) -> HttpResponse:
    account = request.account
    moment = now()
    days = _days(request)
    if name == "sends":
        svg = charts.sends_chart(selectors.sends_per_day(account, moment, days))
    elif name == "blocked":
        svg = charts.blocked_chart(selectors.blocked_by_reason(account, moment, days))
    elif name == "inbound":
        svg = charts.inbound_chart(selectors.inbound_per_day(account, moment, days))
    else:
        raise Http404("No such chart")
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Cache-Control"] = "private, max-age=60"
    return response
