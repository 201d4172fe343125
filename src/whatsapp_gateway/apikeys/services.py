"""API key writes: create (the full key is returned once), revoke, authenticate."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q

from whatsapp_gateway.accounts.models import Account, User
from whatsapp_gateway.accounts.services import audit_record
from whatsapp_gateway.apikeys.models import KEY_PREFIX, ApiKey
from whatsapp_gateway.apikeys.selectors import (
    api_key_by_hash,
    api_key_cache_clear,
    api_key_cache_forget,
    api_key_cached_active,
)
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib import errors
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.lib.crypto import keyed_hash
from whatsapp_gateway.lib.ids import random_token

KEY_RANDOM_LENGTH = 40  # base-36: ~206 bits
SHOWN_PREFIX_LENGTH = len(KEY_PREFIX) + 8
LAST_USED_UPDATE_EVERY = dt.timedelta(seconds=60)


def _hash(full_key: str) -> str:
    return keyed_hash(full_key, purpose="api_key")


@dataclass(frozen=True)
class CreatedKey:
    api_key: ApiKey
    full_key: str  # shown once, never stored


@transaction.atomic
def api_key_create(
    *,
    account: Account,
    name: str,
    instances: Iterable[Instance] = (),
    created_by: User | None = None,
    client_ip: str | None = None,
    user_agent: str = "",
) -> CreatedKey:
    """Create a key. Returns the full key once; only its keyed hash and a short prefix are stored. Audit-logged.

    ``instances`` must belong to ``account`` (checked); an empty scope means every instance of the account.
    """
    scope = list(instances)
    if any(instance.account_id != account.pk for instance in scope):
        raise ValueError("an API key can only be scoped to the account's own instances")
    full_key = KEY_PREFIX + random_token(KEY_RANDOM_LENGTH)
    key = ApiKey.objects.create(
        account=account,
        name=(name or "").strip()[:100] or "API key",
        prefix=full_key[:SHOWN_PREFIX_LENGTH],
        key_hash=_hash(full_key),
        instance_scoped=bool(scope),
        created_by=created_by,
    )
    if scope:
        key.instances.set(scope)
    audit_record(
        account=account,
        action="api_key.created",
        client_ip=client_ip,
        user_agent=user_agent,
        actor=created_by,
        target_type="api_key",
        target_id=key.public_id,
        metadata={"name": key.name, "prefix": key.prefix, "instances": [i.public_id for i in scope]},
    )
    return CreatedKey(api_key=key, full_key=full_key)


@transaction.atomic
def api_key_revoke(
    *,
    api_key: ApiKey,
    revoked_by: User | None = None,
    client_ip: str | None = None,
    user_agent: str = "",
) -> ApiKey:
    """Revoke a key (idempotent). Requests with it then answer ``revoked_api_key``. Audit-logged."""
    if api_key.revoked_at is not None:
        return api_key
    api_key.revoked_at = now()
    api_key.revoked_by = revoked_by
    api_key.save(update_fields=["revoked_at", "revoked_by"])
    transaction.on_commit(api_key_cache_clear)  # the save cleared it too, but a request may re-cache it before commit
    audit_record(
        account=api_key.account,
        action="api_key.revoked",
        client_ip=client_ip,
        user_agent=user_agent,
        actor=revoked_by,
        target_type="api_key",
        target_id=api_key.public_id,
        metadata={"name": api_key.name, "prefix": api_key.prefix},
    )
    return api_key


def api_key_known_active(token: str) -> bool:
    """Whether ``token`` is a key this process authenticated in the last ``GATEWAY_API_KEY_CACHE_SECONDS`` and found
    active (no query): a request carrying it is no guess."""
    token = (token or "").strip()
    return token.startswith(KEY_PREFIX) and len(token) <= 200 and api_key_cached_active(_hash(token))


def api_key_authenticate(*, token: str, client_ip: str | None = None) -> ApiKey:
    """The active key for ``token`` with its account loaded, or ``InvalidApiKey`` / ``RevokedApiKey``.

    One indexed query, or none for a key that authenticated in the last ``GATEWAY_API_KEY_CACHE_SECONDS``
    (``api_key_by_hash``); ``last_used_at``/``last_used_ip`` are written at most once a minute per key (a conditional
    UPDATE, so several web processes do not all write).
    """
    token = (token or "").strip()
    if not token.startswith(KEY_PREFIX) or len(token) > 200:
        raise errors.InvalidApiKey()
    key = api_key_by_hash(_hash(token))
    if key is None:
        raise errors.InvalidApiKey()
    if key.revoked_at is not None:
        raise errors.RevokedApiKey()
    current = now()
    if key.last_used_at is None or current - key.last_used_at >= LAST_USED_UPDATE_EVERY:
        stale = current - LAST_USED_UPDATE_EVERY
        ApiKey.objects.filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale), pk=key.pk).update(
            last_used_at=current, last_used_ip=client_ip
        )
        key.last_used_at, key.last_used_ip = current, client_ip
        api_key_cache_forget(key.key_hash)  # its cached row has the old time: read it again once
    return key
