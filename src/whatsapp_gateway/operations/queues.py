"""The outbox queues of this installation, registered for ``/metrics`` and the operator dashboard.

Each entry is a table whose rows are work waiting to be done; its age is how long the oldest row has waited.
"""

from __future__ import annotations

from collections.abc import Callable

from whatsapp_gateway.messaging.models import Message, MessageStatus
from whatsapp_gateway.providers.models import CallbackStatus, ProviderCallback
from whatsapp_gateway.webhooks.models import Delivery, DeliveryState, EndpointKind


def register_all(register: Callable[..., None], model_exists: Callable[[str], bool]) -> None:
    """Called once at start-up; see ``collectors.register_queue`` for the arguments."""
    if model_exists("messaging.Message"):
        register(
            name="outbound_messages",
            description="Accepted messages waiting for their instance's send lane (queued, paced per instance).",
            pending=lambda: Message.objects.filter(status=MessageStatus.QUEUED),
            age_field="created_at",
        )
        register(
            name="outbound_in_flight",
            description="Messages handed to the provider whose answer is not recorded yet (sending).",
            pending=lambda: Message.objects.filter(status=MessageStatus.SENDING),
            age_field="claimed_at",
        )
    if model_exists("webhooks.Delivery"):
        register(
            name="webhook_deliveries",
            description="Customer webhook deliveries not yet delivered (first attempt or retry pending).",
            pending=lambda: Delivery.objects.filter(state=DeliveryState.PENDING, endpoint__kind=EndpointKind.CUSTOMER),
            age_field="created_at",
        )
        register(
            name="threecx_deliveries",
            description="Inbound messages waiting to be forwarded to 3CX.",
            pending=lambda: Delivery.objects.filter(state=DeliveryState.PENDING, endpoint__kind=EndpointKind.THREECX),
            age_field="created_at",
        )
    if model_exists("providers.ProviderCallback"):
        register(
            name="provider_callbacks",
            description="Provider callbacks received but not processed yet.",
            pending=lambda: ProviderCallback.objects.filter(status=CallbackStatus.PENDING),
            age_field="received_at",
        )
