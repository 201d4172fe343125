"""Webhook reads. Every lookup is given the account; another account's id is a 404."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.http import Http404

from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.webhooks.models import Delivery, DeliveryState, Endpoint, EndpointKind, Event


def endpoint_get_for_account(*, account: Account, public_id: str) -> Endpoint:
    endpoint = Endpoint.objects.select_related("instance").filter(account=account, public_id=public_id).first()
    if endpoint is None:
        raise Http404("No such webhook endpoint.")
    return endpoint


def endpoint_for_instance(*, instance: Instance) -> Endpoint | None:
    """The instance's customer webhook (the portal manages one per instance)."""
    return (
        Endpoint.objects.filter(account_id=instance.account_id, instance=instance, kind=EndpointKind.CUSTOMER)
        .order_by("created_at", "id")
        .first()
    )


def deliveries_for_endpoint(
    *,
    account: Account,
    endpoint: Endpoint,
    state: str = "",
    event_type: str = "",
    event_id: str = "",
    since: dt.datetime | None = None,
) -> QuerySet[Delivery]:
    queryset = Delivery.objects.filter(account=account, endpoint=endpoint).select_related("event")
    if state in DeliveryState.values:
        queryset = queryset.filter(state=state)
    if event_type:
        queryset = queryset.filter(event_type=event_type)
    if event_id:
        queryset = queryset.filter(event__public_id=event_id.strip())
    if since is not None:
        queryset = queryset.filter(created_at__gte=since)
    return queryset.order_by("-created_at", "-id")


def delivery_counts(*, account: Account, endpoint: Endpoint) -> dict[str, int]:
    from django.db.models import Count

    rows = Delivery.objects.filter(account=account, endpoint=endpoint).values("state").annotate(n=Count("id"))
    counts = {state: 0 for state in DeliveryState.values}
    counts.update({row["state"]: row["n"] for row in rows})
    return counts


def delivery_get_for_account(*, account: Account, endpoint: Endpoint, public_id: str) -> Delivery:
    delivery = (
        Delivery.objects.select_related("event", "endpoint")
        .filter(account=account, endpoint=endpoint, public_id=public_id)
        .first()
    )
    if delivery is None:
        raise Http404("No such delivery.")
    return delivery


def event_get_for_account(*, account: Account, public_id: str) -> Event:
    event = Event.objects.select_related("instance").filter(account=account, public_id=public_id).first()
    if event is None:
        raise Http404("No such event.")
    return event


def events_for_account(*, account: Account, instance: Instance | None = None) -> QuerySet[Event]:
    queryset = Event.objects.filter(account=account)
    if instance is not None:
        queryset = queryset.filter(instance=instance)
    return queryset.order_by("-created_at", "-id")


def instance_for_account(*, account: Account, public_id: str) -> Instance:
    instance = Instance.objects.filter(account=account, public_id=public_id, deleted_at__isnull=True).first()
    if instance is None:
        raise Http404("No such instance.")
    return instance
