"""The portal banner for webhook endpoints the gateway disabled on its own (410 Gone, or 5 days of failures)."""

from __future__ import annotations

from django.http import HttpRequest

from whatsapp_gateway.webhooks.models import DisabledReason, Endpoint


def webhook_notices(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    get_membership = getattr(request, "get_membership", None)
    if user is None or not user.is_authenticated or get_membership is None:
        return {}
    membership = get_membership()
    if membership is None:
        return {}

    def disabled() -> list[Endpoint]:
        return list(
            Endpoint.objects.filter(
                account_id=membership.account_id,
                is_enabled=False,
                disabled_reason__in=[DisabledReason.GONE, DisabledReason.FAILING],
            ).select_related("instance")
        )

    return {"webhook_disabled_endpoints": disabled}
