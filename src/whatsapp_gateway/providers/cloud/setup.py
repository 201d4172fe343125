"""Setting up a Meta WhatsApp Cloud API instance: there is no QR code, the customer names the phone number.

``cloud_instance_configure`` checks the phone number id with Meta, points the number's webhook at the instance's
callback URL, stores the id and any customer-owned credentials (encrypted), and takes the connection state.
"""

from __future__ import annotations

import json
import re

from django.db import transaction

from whatsapp_gateway.accounts.models import User
from whatsapp_gateway.accounts.services import audit_record
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.instances.services import instance_reconcile
from whatsapp_gateway.lib.errors import PortalError
from whatsapp_gateway.providers.base import ProviderError
from whatsapp_gateway.providers.config import instance_credentials
from whatsapp_gateway.providers.registry import get_provider

PHONE_NUMBER_ID = re.compile(r"^\d{5,25}$")


class CloudSetupError(PortalError):
    pass


def cloud_instance_configure(
    *,
    instance: Instance,
    phone_number_id: str,
    access_token: str = "",
    app_secret: str = "",
    actor: User | None = None,
    client_ip: str | None = None,
    user_agent: str = "",
) -> tuple[Instance, bool]:
    """Configure a Cloud API instance with ``phone_number_id``; returns (instance, webhook override set?).

    Calls Meta first, outside any transaction (raises ``CloudSetupError`` with a readable message when Meta does
    not know the number for the token, and stores nothing then); then stores ``provider_ref`` and the credentials in
    one transaction with an audit entry (never the secrets), and finally reconciles the connection state.
    Blank ``access_token`` / ``app_secret`` keep the instance's current ones (or the operator's).
    """
    if instance.provider != "cloud" or instance.deleted_at is not None:
        raise CloudSetupError("Only a live Cloud API instance can be configured this way.")
    phone_number_id = phone_number_id.strip()
    if not PHONE_NUMBER_ID.match(phone_number_id):
        raise CloudSetupError("The phone number ID is the number Meta shows under WhatsApp → API setup (digits only).")
    provider = get_provider("cloud")
    try:
        state, credentials, override_set = provider.configure(
            instance, phone_number_id=phone_number_id, access_token=access_token.strip(), app_secret=app_secret.strip()
        )
    except ProviderError as exc:
        raise CloudSetupError(f"Meta did not accept this phone number ID: {exc.message}") from exc
    credentials["webhook_override"] = override_set
    with transaction.atomic():
        locked = Instance.objects.select_for_update().get(pk=instance.pk)
        previous = locked.provider_ref
        locked.provider_ref = phone_number_id
        locked.provider_credentials = json.dumps(credentials)
        locked.save(update_fields=["provider_ref", "provider_credentials", "updated_at"])
        audit_record(
            account=locked.account,
            action="instance.cloud_configured",
            client_ip=client_ip,
            user_agent=user_agent,
            actor=actor,
            target_type="instance",
            target_id=locked.public_id,
            metadata={
                "phone_number_id": phone_number_id,
                "previous_phone_number_id": previous,
                "own_access_token": bool(credentials.get("access_token")),
                "own_app_secret": bool(credentials.get("app_secret")),
                "webhook_override": override_set,
            },
        )
    return instance_reconcile(instance=locked, reason=state.reason or "Cloud API phone number configured"), override_set


def cloud_setup_facts(instance: Instance) -> dict[str, object]:
    """What the connection tab shows about a Cloud instance (never the access token or app secret)."""
    credentials = instance_credentials(instance)
    try:
        callback = get_provider("cloud").callback_url(instance) if instance.callback_token else ""
    except ProviderError:
        callback = ""
    return {
        "configured": bool(instance.provider_ref),
        "phone_number_id": instance.provider_ref,
        "callback_url": callback,
        "verify_token": str(credentials.get("verify_token") or ""),
        "own_access_token": bool(credentials.get("access_token")),
        "own_app_secret": bool(credentials.get("app_secret")),
        "webhook_override": bool(credentials.get("webhook_override")),
    }
