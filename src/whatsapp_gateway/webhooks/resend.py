"""Deliveries sent again by hand: the portal's test event, one delivery, every failed one since a time."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F

from whatsapp_gateway.accounts.models import User
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.webhooks import delivery as engine
from whatsapp_gateway.webhooks.catalogue import TEST_EVENT, build_payload, iso8601
from whatsapp_gateway.webhooks.endpoints import EndpointError, endpoint_audit
from whatsapp_gateway.webhooks.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryState,
    Endpoint,
    Event,
)
from whatsapp_gateway.webhooks.outbox import enqueue_on_commit
from whatsapp_gateway.webhooks.worker import Claim, delivery_record_results

logger = logging.getLogger(__name__)


@dataclass
class TestResult:
    delivery: Delivery
    attempt: DeliveryAttempt | None


def endpoint_send_test_event(
    *, endpoint: Endpoint, client_ip: str | None = None, user_agent: str = "", actor: User | None = None
) -> TestResult:
    """Send one ``webhook.test`` event now, in this request, through the real signer, URL check and client, and
    record it in the delivery log. No retries. Returns the delivery and its attempt (status, latency, excerpt)."""
    at = now()
    with transaction.atomic():
        event = Event(
            account_id=endpoint.account_id,
            instance=endpoint.instance,
            event_type=TEST_EVENT,
            occurred_at=at,
            payload={},
        )
        event.payload = build_payload(
            event_type=TEST_EVENT,
            event_id=event.public_id,
            occurred_at=at,
            instance_id=endpoint.instance.public_id if endpoint.instance else None,
            instance_name=endpoint.instance.name if endpoint.instance else None,
            data={"message": "This is a test event from WhatsApp Gateway. Answer 2xx to confirm your endpoint works."},
        )
        event.save()
        token = uuid.uuid4().hex
        delivery = Delivery.objects.create(
            account_id=endpoint.account_id,
            endpoint=endpoint,
            event=event,
            event_type=TEST_EVENT,
            next_attempt_at=at,
            lease_token=token,
            lease_until=at + dt.timedelta(seconds=settings.GATEWAY_WEBHOOK_LEASE_SECONDS),
        )
        endpoint_audit(
            account=endpoint.account,
            action="webhook.test_sent",
            endpoint=endpoint,
            client_ip=client_ip,
            user_agent=user_agent,
            actor=actor,
        )
    result = engine.attempt(endpoint, delivery, event)
    claim = Claim("claimed", endpoint, token, [delivery])
    delivery_record_results(claim=claim, results=[result], trigger="test", final=True)
    delivery.refresh_from_db()
    return TestResult(delivery=delivery, attempt=delivery.attempt_log.first())


def _reopen(queryset) -> int:
    return queryset.update(
        state=DeliveryState.PENDING,
        attempts=0,
        next_attempt_at=now(),
        lease_token="",
        lease_until=None,
        resend_count=F("resend_count") + 1,
    )


@transaction.atomic
def delivery_resend(
    *, delivery: Delivery, client_ip: str | None = None, user_agent: str = "", actor: User | None = None
) -> Delivery:
    """Deliver this delivery again (same ``webhook-id``), with a fresh retry cycle. Audit-logged."""
    endpoint = delivery.endpoint
    if not endpoint.is_enabled:
        raise EndpointError("Turn the webhook on before resending.")
    if delivery.state == DeliveryState.PENDING:
        raise EndpointError("This delivery is still pending; it will be retried automatically.")
    _reopen(Delivery.objects.filter(pk=delivery.pk))
    endpoint_audit(
        account=endpoint.account,
        action="webhook.resent",
        endpoint=endpoint,
        client_ip=client_ip,
        user_agent=user_agent,
        actor=actor,
        delivery=delivery.public_id,
    )
    enqueue_on_commit([endpoint.pk])
    delivery.refresh_from_db()
    return delivery


@transaction.atomic
def deliveries_resend_failed(
    *,
    endpoint: Endpoint,
    since: dt.datetime,
    until: dt.datetime | None = None,
    client_ip: str | None = None,
    user_agent: str = "",
    actor: User | None = None,
) -> int:
    """Resend every ``failed`` or ``blocked`` delivery of the endpoint created since ``since`` (and before
    ``until``). Returns how many. Audit-logged."""
    if not endpoint.is_enabled:
        raise EndpointError("Turn the webhook on before resending.")
    queryset = Delivery.objects.filter(
        endpoint=endpoint, state__in=[DeliveryState.FAILED, DeliveryState.BLOCKED], created_at__gte=since
    ).exclude(event_type=TEST_EVENT)
    if until is not None:
        queryset = queryset.filter(created_at__lt=until)
    count = _reopen(queryset)
    endpoint_audit(
        account=endpoint.account,
        action="webhook.resent_failed",
        endpoint=endpoint,
        client_ip=client_ip,
        user_agent=user_agent,
        actor=actor,
        since=iso8601(since),
        count=count,
    )
    if count:
        enqueue_on_commit([endpoint.pk])
    return count
