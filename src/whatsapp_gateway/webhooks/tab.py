"""The ``webhook`` tab of the instance manage page (``/instances/{id}/manage?tab=webhook``)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from whatsapp_gateway.accounts.models import Role
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.instances.tabs import render_tab
from whatsapp_gateway.lib import crypto
from whatsapp_gateway.lib.client_ip import request_origin
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.webhooks import endpoints, resend, selectors
from whatsapp_gateway.webhooks.catalogue import RECOMMENDED_EVENTS, events_by_group
from whatsapp_gateway.webhooks.forms import WebhookForm
from whatsapp_gateway.webhooks.models import Delivery, DeliveryState

SECRET_SESSION_KEY = "webhook_secret_once"  # noqa: S105 - a session key name
TEST_SESSION_KEY = "webhook_test_result"


def _back(instance: Instance) -> HttpResponse:
    return redirect(f"/instances/{instance.public_id}/manage?tab=webhook")


def _show_secret_once(request: HttpRequest, instance: Instance, secret: str) -> None:
    # Kept encrypted in the session until the next page view shows it (once).
    request.session[SECRET_SESSION_KEY] = {"instance": instance.public_id, "secret": crypto.encrypt(secret)}


def _pop_secret(request: HttpRequest, instance: Instance) -> str:
    data = request.session.pop(SECRET_SESSION_KEY, None)
    if isinstance(data, dict) and data.get("instance") == instance.public_id:
        try:
            return crypto.decrypt(data.get("secret", ""))
        except ValueError:
            return ""
    return ""


def _pop_test_result(request: HttpRequest, endpoint) -> Delivery | None:
    delivery_id = request.session.pop(TEST_SESSION_KEY, None)
    if not delivery_id or endpoint is None:
        return None
    return Delivery.objects.filter(account=endpoint.account, endpoint=endpoint, public_id=delivery_id).first()


def webhook_tab(request: HttpRequest, instance: Instance) -> HttpResponse:
    endpoint = selectors.endpoint_for_instance(instance=instance)
    can_manage = request.membership.has_role(Role.ADMIN)
    form = None
    if request.method == "POST":
        if not can_manage:
            return render_tab(request, instance, "accounts/forbidden.html", {"required_role": "Admin"}, status=403)
        action = request.POST.get("action", "save")
        if action == "save":
            form = WebhookForm(request.POST)
            if form.is_valid():
                return _save(request, instance, endpoint, form)
        elif endpoint is None:
            messages.error(request, "Save a webhook first.")
            return _back(instance)
        elif action == "rotate":
            endpoint, secret = endpoints.endpoint_rotate_secret(
                endpoint=endpoint, actor=request.user, **request_origin(request)
            )
            _show_secret_once(request, instance, secret)
            messages.success(request, "New signing secret issued. The previous one keeps signing for 24 hours.")
            return _back(instance)
        elif action == "test":
            result = resend.endpoint_send_test_event(endpoint=endpoint, actor=request.user, **request_origin(request))
            request.session[TEST_SESSION_KEY] = result.delivery.public_id
            return _back(instance)
        elif action == "delete":
            endpoints.endpoint_delete(endpoint=endpoint, actor=request.user, **request_origin(request))
            messages.success(request, "Webhook removed. No more events are sent for this instance.")
            return _back(instance)
        else:
            return HttpResponse(status=400)
    if form is None:
        initial = (
            {"destination_url": endpoint.url, "events": endpoint.events, "is_enabled": endpoint.is_enabled}
            if endpoint
            else {"events": RECOMMENDED_EVENTS, "is_enabled": True}
        )
        form = WebhookForm(initial=initial)
    selected = set(form["events"].value() or [])
    context = {
        "endpoint": endpoint,
        "form": form,
        "event_groups": [(group, [(e, e.name in selected) for e in events]) for group, events in events_by_group()],
        "can_manage": can_manage,
        "secret_once": _pop_secret(request, instance),
        "test_delivery": _pop_test_result(request, endpoint),
        "overlap_active": bool(
            endpoint and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now()
        ),
    }
    if endpoint is not None:
        context["test_attempt"] = context["test_delivery"].attempt_log.first() if context["test_delivery"] else None
        counts = selectors.delivery_counts(account=instance.account, endpoint=endpoint)
        context["state_counts"] = [(value, label, counts[value]) for value, label in DeliveryState.choices]
        context["recent"] = selectors.deliveries_for_endpoint(account=instance.account, endpoint=endpoint)[:10]
    return render_tab(request, instance, "webhooks/tab_webhook.html", context)


def _save(request: HttpRequest, instance: Instance, endpoint, form: WebhookForm) -> HttpResponse:
    data = form.cleaned_data
    try:
        if endpoint is None:
            endpoint, secret = endpoints.endpoint_create(
                account=instance.account,
                instance=instance,
                url=data["destination_url"],
                events=data["events"],
                is_enabled=data["is_enabled"],
                actor=request.user,
                **request_origin(request),
            )
            _show_secret_once(request, instance, secret)
            messages.success(request, "Webhook saved. Copy the signing secret now: it is shown only once.")
        else:
            endpoints.endpoint_update(
                endpoint=endpoint,
                url=data["destination_url"],
                events=data["events"],
                is_enabled=data["is_enabled"],
                actor=request.user,
                **request_origin(request),
            )
            messages.success(request, "Webhook saved.")
    except endpoints.EndpointError as exc:
        messages.error(request, str(exc))
    return _back(instance)
