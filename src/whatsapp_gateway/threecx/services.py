"""3CX integration writes: create, change settings, rotate credentials, DID mappings. Every change is audit-logged.

Credentials are generated here and returned in clear exactly once (the caller shows them to the user); the database
keeps keyed hashes (and, for the secret, a copy encrypted with the deployment key for HMAC signing).
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from whatsapp_gateway.accounts.models import Account, User
from whatsapp_gateway.accounts.services import audit_record
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.lib.crypto import keyed_hash
from whatsapp_gateway.lib.urlsafety import url_hint
from whatsapp_gateway.threecx.models import DidMapping, Integration, IntegrationStatus
from whatsapp_gateway.webhooks.endpoints import endpoint_create, endpoint_delete, endpoint_update
from whatsapp_gateway.webhooks.models import EndpointKind

SECRET_PREFIX = "tcxs_"  # noqa: S105 (a public prefix, not a secret)
API_KEY_PREFIX = "tcxk_"
SECRET_HASH_PURPOSE = "threecx-secret"  # noqa: S105 (a hash domain label)
API_KEY_HASH_PURPOSE = "threecx-api-key"

# Settings a form may change through ``integration_update`` (credentials and status have their own services).
EDITABLE_FIELDS = (
    "name",
    "default_instance",
    "auth_mode",
    "allowed_ips",
    "inbound_enabled",
    "outbound_enabled",
    "call_event_enabled",
    "templates",
    "strict_window",
    "business_name",
    "inbound_format",
)


@dataclass(frozen=True)
class Credentials:
    """Shown once after creation or rotation; never stored in clear (the secret only encrypted)."""

    secret: str | None = None
    api_key: str | None = None


def secret_hash(value: str) -> str:
    return keyed_hash(value, purpose=SECRET_HASH_PURPOSE)


def api_key_hash(value: str) -> str:
    return keyed_hash(value, purpose=API_KEY_HASH_PURPOSE)


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def _set_secret(integration: Integration, value: str) -> None:
    integration.secret_hash = secret_hash(value)
    integration.secret_encrypted = value
    integration.secret_prefix = value[:10]
    integration.secret_rotated_at = now()


def _set_api_key(integration: Integration, value: str) -> None:
    integration.api_key_hash = api_key_hash(value)
    integration.api_key_prefix = value[:10]
    integration.api_key_rotated_at = now()


def endpoint_url_hint(url: str) -> str:
    """``https://pbx.example.com/sms/generic/155e…fdf8`` → ``https://pbx.example.com/sms/…fdf8`` (never the token)."""
    return url_hint(url)


def endpoint_url_current(integration: Integration) -> str:
    endpoint = integration.delivery_endpoint
    return endpoint.url if endpoint is not None else ""


def _endpoint_sync(
    integration: Integration,
    *,
    url: str | None = None,
    actor: User | None = None,
    client_ip: str | None = None,
    user_agent: str = "",
) -> None:
    """Keep the integration's delivery endpoint (kind ``threecx``) in line with its settings: created when the first
    URL is saved, URL updated, enabled exactly while the integration is active with inbound on. Saving also
    re-enables an endpoint the engine turned off (410 Gone, 5 days of failures)."""
    wanted = integration.is_active and integration.inbound_enabled
    endpoint = integration.delivery_endpoint
    if endpoint is None:
        if url is None:
            return
        endpoint, _secret = endpoint_create(
            account=integration.account,
            url=url,
            events=["message.received"],
            instance=None,
            kind=EndpointKind.THREECX,
            is_enabled=wanted,
            actor=actor,
            client_ip=client_ip,
            user_agent=user_agent,
        )
        integration.delivery_endpoint = endpoint
        integration.endpoint_url_hint = endpoint_url_hint(url)
        integration.save(update_fields=["delivery_endpoint", "endpoint_url_hint", "updated_at"])
        return
    endpoint = endpoint_update(
        endpoint=endpoint,
        url=url if url is not None and url != endpoint.url else None,
        is_enabled=wanted if wanted != endpoint.is_enabled else None,
        actor=actor,
        client_ip=client_ip,
        user_agent=user_agent,
    )
    integration.delivery_endpoint = endpoint
    if url is not None:
        hint = endpoint_url_hint(url)
        if hint != integration.endpoint_url_hint:
            integration.endpoint_url_hint = hint
            integration.save(update_fields=["endpoint_url_hint", "updated_at"])


def parse_allowed_ips(raw: str | list[str]) -> list[str]:
    """Lines or commas of IPs/CIDRs → normalised CIDR strings. Raises ``ValueError`` naming a bad entry."""
    items = raw if isinstance(raw, list) else raw.replace(",", "\n").splitlines()
    networks: list[str] = []
    for item in items:
        text = item.strip()
        if not text:
            continue
        try:
            networks.append(str(ipaddress.ip_network(text, strict=False)))
        except ValueError as exc:
            raise ValueError(f"{text!r} is not an IP address or CIDR block") from exc
    return list(dict.fromkeys(networks))


def ip_allowed(ip: str | None, allowed: list[str]) -> bool:
    if not allowed:
        return True
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    for cidr in allowed:
        try:
            if address in ipaddress.ip_network(cidr, strict=False):
                return True
        except ValueError:
            continue
    return False


def _audit(
    integration: Integration,
    action: str,
    actor: User | None = None,
    client_ip: str | None = None,
    user_agent: str = "",
    **metadata: Any,
) -> None:
    audit_record(
        account=integration.account,
        action=action,
        actor=actor,
        client_ip=client_ip,
        user_agent=user_agent,
        target_type="threecx_integration",
        target_id=integration.public_id,
        metadata=metadata,
    )


@transaction.atomic
def integration_create(
    *,
    account: Account,
    name: str,
    default_instance: Instance | None,
    endpoint_url: str = "",
    actor: User | None = None,
    client_ip: str | None = None,
    user_agent: str = "",
    **settings_fields: Any,
) -> tuple[Integration, Credentials]:
    """Create an integration with a fresh secret and API key; returns them in clear, once. Audit-logged."""
    unknown = set(settings_fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"not editable: {sorted(unknown)}")
    if default_instance is not None and default_instance.account_id != account.pk:
        raise ValueError("the default instance belongs to another account")
    integration = Integration(account=account, name=name.strip(), default_instance=default_instance)
    for field, value in settings_fields.items():
        setattr(integration, field, value)
    secret, api_key = _new_secret(), _new_api_key()
    _set_secret(integration, secret)
    _set_api_key(integration, api_key)
    integration.save()
    _audit(
        integration,
        "threecx.integration_created",
        actor=actor,
        client_ip=client_ip,
        user_agent=user_agent,
        name=integration.name,
    )
    _endpoint_sync(
        integration, url=endpoint_url.strip() or None, actor=actor, client_ip=client_ip, user_agent=user_agent
    )
    return integration, Credentials(secret=secret, api_key=api_key)


@transaction.atomic
def integration_update(
    *,
    integration: Integration,
    actor: User | None = None,
    client_ip: str | None = None,
    user_agent: str = "",
    endpoint_url: str | None = None,
    **fields: Any,
) -> Integration:
    """Change settings. ``endpoint_url=None`` keeps the saved URL (it is never shown back in full).

    The audit entry names the changed fields; the URL change is recorded by its masked hint only.
    """
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"not editable: {sorted(unknown)}")
    instance = fields.get("default_instance")
    if instance is not None and instance.account_id != integration.account_id:
        raise ValueError("the default instance belongs to another account")
    changed: dict[str, Any] = {}
    for field, value in fields.items():
        if getattr(integration, field) != value:
            changed[field] = _audit_value(field, value)
            setattr(integration, field, value)
    url = (endpoint_url or "").strip() or None
    if url is not None and url != endpoint_url_current(integration):
        changed["endpoint_url"] = endpoint_url_hint(url)
    if changed:
        integration.save()
        _audit(
            integration,
            "threecx.integration_updated",
            actor=actor,
            client_ip=client_ip,
            user_agent=user_agent,
            changed=changed,
        )
    _endpoint_sync(integration, url=url, actor=actor, client_ip=client_ip, user_agent=user_agent)
    return integration


def _audit_value(field: str, value: Any) -> Any:
    if field == "default_instance":
        return value.public_id if value is not None else None
    if field == "templates":
        return sorted(k for k, v in (value or {}).items() if v.get("enabled"))
    return value


@transaction.atomic
def integration_set_status(
    *,
    integration: Integration,
    status: str,
    actor: User | None = None,
    client_ip: str | None = None,
    user_agent: str = "",
) -> None:
    if status not in IntegrationStatus.values:
        raise ValueError(f"unknown status {status!r}")
    if integration.status == status:
        return
    integration.status = status
    integration.save(update_fields=["status", "updated_at"])
    action = "enabled" if status == IntegrationStatus.ACTIVE else "disabled"
    _audit(integration, f"threecx.integration_{action}", actor=actor, client_ip=client_ip, user_agent=user_agent)
    _endpoint_sync(integration, actor=actor, client_ip=client_ip, user_agent=user_agent)


@transaction.atomic
def integration_resume_forwarding(
    *, integration: Integration, actor: User | None = None, client_ip: str | None = None, user_agent: str = ""
) -> None:
    """Re-enable a delivery endpoint the engine disabled on its own (the integration's settings say it should be
    on). Audit-logged by the webhooks service."""
    endpoint = integration.delivery_endpoint
    if endpoint is None or endpoint.is_enabled:
        return
    if integration.is_active and integration.inbound_enabled:
        endpoint_update(endpoint=endpoint, is_enabled=True, actor=actor, client_ip=client_ip, user_agent=user_agent)


@transaction.atomic
def integration_rotate_secret(
    *, integration: Integration, actor: User | None = None, client_ip: str | None = None, user_agent: str = ""
) -> Credentials:
    """Replace the secret at once (the old one stops working); the new one is returned once."""
    secret = _new_secret()
    _set_secret(integration, secret)
    integration.save(
        update_fields=["secret_hash", "secret_encrypted", "secret_prefix", "secret_rotated_at", "updated_at"]
    )
    _audit(integration, "threecx.secret_rotated", actor=actor, client_ip=client_ip, user_agent=user_agent)
    return Credentials(secret=secret)


@transaction.atomic
def integration_rotate_api_key(
    *, integration: Integration, actor: User | None = None, client_ip: str | None = None, user_agent: str = ""
) -> Credentials:
    """Replace the Generic SMS API key at once; paste the new one into 3CX's SMS trunk settings."""
    api_key = _new_api_key()
    _set_api_key(integration, api_key)
    integration.save(update_fields=["api_key_hash", "api_key_prefix", "api_key_rotated_at", "updated_at"])
    _audit(integration, "threecx.api_key_rotated", actor=actor, client_ip=client_ip, user_agent=user_agent)
    return Credentials(api_key=api_key)


@transaction.atomic
def integration_delete(
    *, integration: Integration, actor: User | None = None, client_ip: str | None = None, user_agent: str = ""
) -> None:
    _audit(
        integration,
        "threecx.integration_deleted",
        actor=actor,
        client_ip=client_ip,
        user_agent=user_agent,
        name=integration.name,
    )
    endpoint = integration.delivery_endpoint
    integration.delete()
    if endpoint is not None:
        endpoint_delete(endpoint=endpoint, actor=actor, client_ip=client_ip, user_agent=user_agent)


@transaction.atomic
def did_mapping_add(
    *,
    integration: Integration,
    did: str,
    instance: Instance,
    actor: User | None = None,
    client_ip: str | None = None,
    user_agent: str = "",
) -> DidMapping:
    """Map a 3CX DID (already E.164) to an instance of the same account; one instance per DID."""
    if instance.account_id != integration.account_id:
        raise ValueError("the instance belongs to another account")
    mapping, _ = DidMapping.objects.update_or_create(integration=integration, did=did, defaults={"instance": instance})
    _audit(
        integration,
        "threecx.did_mapped",
        actor=actor,
        client_ip=client_ip,
        user_agent=user_agent,
        did=did,
        instance=instance.public_id,
    )
    return mapping


@transaction.atomic
def did_mapping_remove(
    *, integration: Integration, did: str, actor: User | None = None, client_ip: str | None = None, user_agent: str = ""
) -> None:
    deleted, _ = DidMapping.objects.filter(integration=integration, did=did).delete()
    if deleted:
        _audit(integration, "threecx.did_unmapped", actor=actor, client_ip=client_ip, user_agent=user_agent, did=did)
