"""Webhook endpoints: create, change, rotate the secret, delete; the automatic disable and the owners' email."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

from whatsapp_gateway.accounts.models import Account, Membership, Role, User
from whatsapp_gateway.accounts.services import audit_record
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib import urlsafety
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.lib.errors import PortalError
from whatsapp_gateway.lib.signing import secret_generate
from whatsapp_gateway.webhooks.catalogue import EVENT_NAMES, iso8601
from whatsapp_gateway.webhooks.models import (
    Delivery,
    DeliveryState,
    DisabledReason,
    Endpoint,
    EndpointKind,
)

logger = logging.getLogger(__name__)


ROTATION_OVERLAP = dt.timedelta(hours=24)


class EndpointError(PortalError):
    """A change the rules refuse; the message is shown to the user."""


def endpoint_audit(
    *,
    account: Account,
    action: str,
    endpoint: Endpoint,
    client_ip: str | None = None,
    user_agent: str = "",
    actor=None,
    **meta,
):
    audit_record(
        account=account,
        action=action,
        client_ip=client_ip,
        user_agent=user_agent,
        actor=actor,
        target_type="webhook_endpoint",
        target_id=endpoint.public_id,
        metadata={"kind": endpoint.kind, **meta},
    )


def url_check_for_form(url: str) -> str:
    """Validate a destination URL for a form (syntax and DNS); returns it stripped or raises ``EndpointError``."""
    try:
        checked = urlsafety.check_url(url, allow_private=settings.GATEWAY_ALLOW_PRIVATE_WEBHOOKS)
    except urlsafety.UnsafeURL as exc:
        raise EndpointError(exc.reason) from exc
    return checked.url


def _clean_events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - EVENT_NAMES)
    if unknown:
        raise EndpointError(f"unknown event types: {', '.join(unknown)}")
    return [name for name in sorted(EVENT_NAMES) if name in set(events)]


@transaction.atomic
def endpoint_create(
    *,
    account: Account,
    url: str,
    events: list[str],
    instance: Instance | None = None,
    kind: str = EndpointKind.CUSTOMER,
    is_enabled: bool = True,
    client_ip: str | None = None,
    user_agent: str = "",
    actor: User | None = None,
) -> tuple[Endpoint, str]:
    """Create an endpoint with a fresh ``whsec_`` secret. Returns ``(endpoint, secret)``: show the secret once.
    The URL is checked (scheme, credentials, port, every resolved address public). Audit-logged."""
    if instance is not None and instance.account_id != account.pk:
        raise EndpointError("instance belongs to another account")
    secret = secret_generate()
    endpoint = Endpoint.objects.create(
        account=account,
        instance=instance,
        kind=kind,
        url=url_check_for_form(url),
        events=_clean_events(events),
        is_enabled=is_enabled,
        disabled_reason="" if is_enabled else DisabledReason.BY_USER,
        disabled_at=None if is_enabled else now(),
        secret=secret,
    )
    endpoint_audit(
        account=account,
        action="webhook.created",
        endpoint=endpoint,
        client_ip=client_ip,
        user_agent=user_agent,
        actor=actor,
    )
    return endpoint, secret


@transaction.atomic
def endpoint_update(
    *,
    endpoint: Endpoint,
    url: str | None = None,
    events: list[str] | None = None,
    is_enabled: bool | None = None,
    client_ip: str | None = None,
    user_agent: str = "",
    actor: User | None = None,
) -> Endpoint:
    """Change URL, events or the enabled flag. Re-enabling clears an automatic disable and its failure streak.
    Audit-logged with what changed (the URL's host only)."""
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    changed: dict[str, Any] = {}
    if url is not None and url.strip() != endpoint.url:
        endpoint.url = url_check_for_form(url)
        changed["url_host"] = urlsafety.urlsplit(endpoint.url).hostname
    if events is not None:
        cleaned = _clean_events(events)
        if cleaned != endpoint.events:
            changed["events"] = cleaned
            endpoint.events = cleaned
    if is_enabled is not None and is_enabled != endpoint.is_enabled:
        changed["enabled"] = is_enabled
        endpoint.is_enabled = is_enabled
        if is_enabled:
            endpoint.disabled_reason = ""
            endpoint.disabled_at = None
            endpoint.failing_since = None
            endpoint.throttled_until = None
        else:
            endpoint.disabled_reason = DisabledReason.BY_USER
            endpoint.disabled_at = now()
            fail_pending(endpoint)
    if changed:
        endpoint.save()
        endpoint_audit(
            account=endpoint.account,
            action="webhook.updated",
            endpoint=endpoint,
            client_ip=client_ip,
            user_agent=user_agent,
            actor=actor,
            **changed,
        )
    return endpoint


@transaction.atomic
def endpoint_rotate_secret(
    *, endpoint: Endpoint, client_ip: str | None = None, user_agent: str = "", actor: User | None = None
) -> tuple[Endpoint, str]:
    """Issue a new secret. For 24 hours requests are signed with both the new and the previous secret, so
    receivers can switch at their pace. Returns ``(endpoint, new_secret)``; show it once. Audit-logged."""
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    at = now()
    secret = secret_generate()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = at + ROTATION_OVERLAP
    endpoint.secret = secret
    endpoint.secret_rotated_at = at
    endpoint.save()
    endpoint_audit(
        account=endpoint.account,
        action="webhook.secret_rotated",
        endpoint=endpoint,
        client_ip=client_ip,
        user_agent=user_agent,
        actor=actor,
        previous_valid_until=iso8601(endpoint.previous_secret_expires_at),
    )
    return endpoint, secret


@transaction.atomic
def endpoint_delete(
    *, endpoint: Endpoint, client_ip: str | None = None, user_agent: str = "", actor: User | None = None
) -> None:
    endpoint_audit(
        account=endpoint.account,
        action="webhook.deleted",
        endpoint=endpoint,
        client_ip=client_ip,
        user_agent=user_agent,
        actor=actor,
    )
    endpoint.delete()


def fail_pending(endpoint: Endpoint) -> int:
    """A disabled endpoint gets nothing: its pending deliveries fail (resend them after turning it back on)."""
    return Delivery.objects.filter(endpoint=endpoint, state=DeliveryState.PENDING).update(
        state=DeliveryState.FAILED, last_error="endpoint disabled", lease_token="", lease_until=None
    )


def endpoint_auto_disable(endpoint: Endpoint, reason: str, at: dt.datetime) -> None:
    """Inside the record transaction: disable, audit, and tell the owners after commit (banner + email)."""
    fail_pending(endpoint)
    endpoint.is_enabled = False
    endpoint.disabled_reason = reason
    endpoint.disabled_at = at
    audit_record(
        account=endpoint.account,
        action="webhook.auto_disabled",
        actor_label="system",
        target_type="webhook_endpoint",
        target_id=endpoint.public_id,
        metadata={
            "reason": reason,
            "failing_since": iso8601(endpoint.failing_since) if endpoint.failing_since else None,
        },
    )
    endpoint_id = endpoint.pk
    transaction.on_commit(lambda: notify_endpoint_disabled(endpoint_id=endpoint_id), robust=True)


def notify_endpoint_disabled(*, endpoint_id: int) -> int:
    """Email the account's owners that an endpoint was disabled automatically. Returns emails sent."""
    endpoint = Endpoint.objects.select_related("account", "instance").filter(pk=endpoint_id).first()
    if endpoint is None or endpoint.is_enabled:
        return 0
    owners = list(
        Membership.objects.filter(account=endpoint.account, role=Role.OWNER, user__is_active=True).values_list(
            "user__email", flat=True
        )
    )
    if not owners:
        return 0
    where = f"instance {endpoint.instance.name}" if endpoint.instance else "your account"
    reason = DisabledReason(endpoint.disabled_reason).label if endpoint.disabled_reason else "disabled"
    link = f"{settings.GATEWAY_BASE_URL}/webhooks/{endpoint.public_id}/deliveries"
    body = (
        f"The webhook endpoint for {where} ({urlsafety.urlsplit(endpoint.url).hostname}) was disabled: {reason}.\n\n"
        "No events are delivered to it until you turn it back on. Fix the receiver, enable the webhook again on the "
        "instance's Webhook tab, and resend failed deliveries from the delivery log:\n"
        f"{link}\n"
    )
    return send_mail(
        f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}Webhook disabled for {where}",
        body,
        settings.DEFAULT_FROM_EMAIL,
        owners,
        fail_silently=True,
    )
