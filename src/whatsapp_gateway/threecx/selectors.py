"""3CX integration reads, always scoped to an account (another account's id is a 404)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.threecx.models import DidMapping, Integration, IntegrationEvent
from whatsapp_gateway.webhooks.models import Delivery


def integrations_for_account(*, account: Account) -> QuerySet[Integration]:
    return Integration.objects.filter(account=account).select_related("default_instance")


def integration_get_for_account(*, account: Account, public_id: str) -> Integration:
    return get_object_or_404(
        Integration.objects.select_related("account", "default_instance"), account=account, public_id=public_id
    )


def integration_events(*, integration: Integration) -> QuerySet[IntegrationEvent]:
    return IntegrationEvent.objects.filter(integration=integration)


def did_mappings(*, integration: Integration) -> QuerySet[DidMapping]:
    return DidMapping.objects.filter(integration=integration).select_related("instance")


def instance_for_did(*, integration: Integration, did: str | None) -> Instance | None:
    """The instance a 3CX DID maps to. An unmapped DID falls back to the default instance only when the integration
    has no DID mappings at all (so a configured integration cannot be used to send from a number it did not map)."""
    mappings = list(did_mappings(integration=integration))
    if did:
        for mapping in mappings:
            if mapping.did == did:
                return mapping.instance
    if mappings and did:
        return None
    return integration.default_instance


def integrations_with_forwarding(*, account_id: int) -> list[Integration]:
    """The account's integrations that have a 3CX Webhook URL (whatever their state: the forwarder logs why a
    disabled or inbound-off integration did not forward)."""
    return list(
        Integration.objects.filter(account_id=account_id, delivery_endpoint__isnull=False)
        .select_related("account", "default_instance", "delivery_endpoint")
        .prefetch_related("did_mappings")
    )


def deliveries_to_3cx(*, integration: Integration):
    """The delivery log of the integration's 3CX endpoint (newest first); empty without a Webhook URL."""
    if integration.delivery_endpoint_id is None:
        return Delivery.objects.none()
    return Delivery.objects.filter(endpoint_id=integration.delivery_endpoint_id).select_related("event")
