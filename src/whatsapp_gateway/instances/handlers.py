"""Handlers for the normalised connection events every provider's callbacks produce (registered in apps.py)."""

from __future__ import annotations

import logging

from whatsapp_gateway.instances import services
from whatsapp_gateway.instances.models import ALLOWED_TRANSITIONS, Instance, InstanceState
from whatsapp_gateway.providers.base import ConnectionUpdate, QrUpdate

logger = logging.getLogger(__name__)
S = InstanceState


def on_connection_update(instance: Instance, event: ConnectionUpdate) -> None:
    """Apply a provider-reported connection state; a transition the state machine refuses is logged and ignored
    (the reconcile job settles any real difference)."""
    target = event.state
    fields = {
        "reason": event.reason or "Reported by the provider",
        "phone_number": event.phone_number or None,
        "profile_name": event.profile_name or None,
    }
    try:
        services.instance_transition(instance=instance, to_state=target, **fields)
    except services.InstanceTransitionRefused:
        if target == S.CONNECTED and S.PAIRING in ALLOWED_TRANSITIONS[instance.state]:
            services.instance_transition(instance=instance, to_state=S.PAIRING, reason=fields["reason"])
            services.instance_transition(instance=instance, to_state=target, **fields)
        else:
            logger.info("instance %s: ignoring provider state %s while %s", instance.public_id, target, instance.state)


def on_qr_update(instance: Instance, event: QrUpdate) -> None:
    if event.limit_reached:
        if instance.state == S.PAIRING:
            services.instance_transition(
                instance=instance,
                to_state=S.DISCONNECTED,
                reason="The QR code limit was reached before the phone scanned one. Connect again for a new code.",
            )
        return
    services.instance_qr_received(
        instance=instance, qr_payload=event.qr_payload, pairing_code=event.pairing_code, expires_at=event.expires_at
    )
