"""Webhook pages: the public reference (generated from the catalogue) and the account's delivery log."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from whatsapp_gateway.accounts.decorators import portal_view
from whatsapp_gateway.accounts.models import Role
from whatsapp_gateway.lib.client_ip import request_origin
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.webhooks import docs, endpoints, resend, selectors
from whatsapp_gateway.webhooks.catalogue import EVENT_TYPES
from whatsapp_gateway.webhooks.models import DeliveryState, Endpoint


@require_GET
def docs_webhooks(request: HttpRequest) -> HttpResponse:
    return render(request, "webhooks/docs.html", docs.docs_context())


def _parse_since(raw: str) -> dt.datetime | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    for fmt in ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            # A datetime-local field: the time is in the account's zone, like every time the portal shows.
            return dt.datetime.strptime(raw, fmt).replace(tzinfo=timezone.get_current_timezone())
        except ValueError:
            continue
    return None


def _render_log(request: HttpRequest, endpoint: Endpoint | None, *, instance=None) -> HttpResponse:
    context: dict = {
        "active_nav": "instances",
        "endpoint": endpoint,
        "instance": instance or getattr(endpoint, "instance", None),
    }
    if endpoint is not None:
        state = request.GET.get("state", "")
        event_type = request.GET.get("event_type", "")
        event_id = request.GET.get("event", "")
        since = _parse_since(request.GET.get("since", ""))
        counts = selectors.delivery_counts(account=request.account, endpoint=endpoint)
        deliveries = selectors.deliveries_for_endpoint(
            account=request.account,
            endpoint=endpoint,
            state=state,
            event_type=event_type,
            event_id=event_id,
            since=since,
        )
        context.update(
            {
                "page": Paginator(deliveries, 50).get_page(request.GET.get("page")),
                "state_counts": [(value, label, counts[value]) for value, label in DeliveryState.choices],
                "states": DeliveryState.choices,
                "event_types": [e.name for e in EVENT_TYPES],
                "filters": {
                    "state": state,
                    "event_type": event_type,
                    "event": event_id,
                    "since": request.GET.get("since", ""),
                },
                "default_since": timezone.localtime(now() - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
                "can_manage": request.membership.has_role(Role.ADMIN),
            }
        )
    return render(request, "webhooks/deliveries.html", context)


@portal_view()
@require_GET
def endpoint_deliveries(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    endpoint = selectors.endpoint_get_for_account(account=request.account, public_id=endpoint_id)
    return _render_log(request, endpoint)


@portal_view()
@require_GET
def instance_deliveries(request: HttpRequest, instance_id: str) -> HttpResponse:
    instance = selectors.instance_for_account(account=request.account, public_id=instance_id)
    return _render_log(request, selectors.endpoint_for_instance(instance=instance), instance=instance)


@portal_view()
@require_GET
def delivery_detail(request: HttpRequest, endpoint_id: str, delivery_id: str) -> HttpResponse:
    endpoint = selectors.endpoint_get_for_account(account=request.account, public_id=endpoint_id)
    delivery = selectors.delivery_get_for_account(account=request.account, endpoint=endpoint, public_id=delivery_id)
    return render(
        request,
        "webhooks/delivery_detail.html",
        {
            "active_nav": "instances",
            "endpoint": endpoint,
            "delivery": delivery,
            "attempts": delivery.attempt_log.all()[:100],
            "payload": docs.pretty_json(delivery.event.payload),
            "can_manage": request.membership.has_role(Role.ADMIN),
        },
    )


@portal_view(minimum_role=Role.ADMIN)
@require_POST
def delivery_resend(request: HttpRequest, endpoint_id: str, delivery_id: str) -> HttpResponse:
    endpoint = selectors.endpoint_get_for_account(account=request.account, public_id=endpoint_id)
    delivery = selectors.delivery_get_for_account(account=request.account, endpoint=endpoint, public_id=delivery_id)
    try:
        resend.delivery_resend(delivery=delivery, actor=request.user, **request_origin(request))
    except endpoints.EndpointError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Resending {delivery.event_type} ({delivery.event.public_id}).")
    return redirect("webhooks:delivery_detail", endpoint_id=endpoint.public_id, delivery_id=delivery.public_id)


@portal_view(minimum_role=Role.ADMIN)
@require_POST
def resend_failed(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    endpoint = selectors.endpoint_get_for_account(account=request.account, public_id=endpoint_id)
    since = _parse_since(request.POST.get("since", ""))
    if since is None:
        messages.error(request, "Enter the time to resend from (UTC), e.g. 2026-11-24T08:00.")
    else:
        try:
            count = resend.deliveries_resend_failed(
                endpoint=endpoint, since=since, actor=request.user, **request_origin(request)
            )
        except endpoints.EndpointError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                f"Resending {count} failed or blocked deliveries created since {since:%Y-%m-%d %H:%M} ({since.tzname()}).",
            )
    return redirect("webhooks:endpoint_deliveries", endpoint_id=endpoint.public_id)


@portal_view()
@require_GET
def event_detail(request: HttpRequest, event_id: str) -> HttpResponse:
    event = selectors.event_get_for_account(account=request.account, public_id=event_id)
    return render(
        request,
        "webhooks/event_detail.html",
        {
            "active_nav": "instances",
            "event": event,
            "payload": docs.pretty_json(event.payload),
            "deliveries": event.deliveries.select_related("endpoint").order_by("created_at", "id"),
        },
    )
