"""API key reads, always given the account."""

from __future__ import annotations

import threading
import time
from functools import cache

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.http import Http404

from whatsapp_gateway.accounts.models import Account, Plan
from whatsapp_gateway.apikeys.models import ApiKey
from whatsapp_gateway.lib import prepared


def api_key_list(*, account: Account) -> QuerySet[ApiKey]:
    return (
        ApiKey.objects.filter(account=account)
        .select_related("created_by", "revoked_by")
        .prefetch_related("instances")
        .order_by("revoked_at", "-created_at")
    )


def api_key_get_for_account(*, account: Account, public_id: str) -> ApiKey:
    key = ApiKey.objects.filter(account=account, public_id=public_id).first()
    if key is None:
        raise Http404("No such API key")
    return key


def api_key_allows_instance(*, api_key: ApiKey, instance_id: int) -> bool:
    """An unscoped key may use every instance of its account; a scoped key only the listed ones."""
    if not api_key.instance_scoped:
        return True
    scope = getattr(api_key, "_scope_ids", None)
    if scope is None:
        scope = frozenset(api_key.instances.values_list("pk", flat=True))
        api_key._scope_ids = scope
    return not scope or instance_id in scope


_PARTS = (prepared.Part(ApiKey, "k"), prepared.Part(Account, "a"), prepared.Part(Plan, "p"))
_SQL: dict[str, str] = {}

# key hash -> (monotonic expiry, row): the rows of keys that authenticated in the last few seconds, so a busy
# integration's requests skip the lookup (one round trip of about five on PostgreSQL). Each request builds its own
# objects from the row. Bounded: only keys that exist get in, and the whole cache is dropped when it fills up.
_CACHE: dict[str, tuple[float, tuple]] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_MAX_KEYS = 10_000


def api_key_cache_clear(**_signal_kwargs) -> None:
    """Forget every cached key (this process). Run on every save or delete of a key, an account or a plan and on a
    key's scope change, so in the process that made the change it applies at once; other processes see it when
    their entry expires (``GATEWAY_API_KEY_CACHE_SECONDS``, docs/scaling.md)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def api_key_cache_forget(key_hash: str) -> None:
    with _CACHE_LOCK:
        _CACHE.pop(key_hash, None)


@cache
def _revoked_at_column() -> int:
    return [f.attname for f in _PARTS[0].concrete].index("revoked_at")


def api_key_cached_active(key_hash: str) -> bool:
    """Whether this process found the key with ``key_hash`` active in the last ``GATEWAY_API_KEY_CACHE_SECONDS``
    (no query)."""
    cached = _CACHE.get(key_hash)
    return cached is not None and cached[0] > time.monotonic() and cached[1][_revoked_at_column()] is None


def _row_by_hash(key_hash: str) -> tuple | None:
    ttl = settings.GATEWAY_API_KEY_CACHE_SECONDS
    if ttl > 0:
        cached = _CACHE.get(key_hash)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
    sql = _SQL.get(connection.vendor)
    if sql is None:
        sql = _SQL[connection.vendor] = (
            f"SELECT {prepared.columns(_PARTS)} FROM {ApiKey._meta.db_table} k "  # noqa: S608 - model table names
            f"JOIN {Account._meta.db_table} a ON a.id = k.account_id JOIN {Plan._meta.db_table} p ON p.id = a.plan_id "
            "WHERE k.key_hash = %s"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, [key_hash])
        row = cursor.fetchone()
    if row is not None and ttl > 0:
        with _CACHE_LOCK:
            if len(_CACHE) >= _CACHE_MAX_KEYS:
                _CACHE.clear()
            _CACHE[key_hash] = (time.monotonic() + ttl, tuple(row))
    return row


def api_key_by_hash(key_hash: str) -> ApiKey | None:
    """The key with ``key_hash``, its account and the account's plan loaded, or ``None``.

    Same result as ``ApiKey.objects.select_related("account", "account__plan").filter(key_hash=…).first()`` in one
    indexed query, but without building the query each time: this runs on every API request, where the ORM's
    query compilation cost several times more than the lookup itself. A key found in the last
    ``GATEWAY_API_KEY_CACHE_SECONDS`` is not read again (``api_key_cache_clear``)."""
    row = _row_by_hash(key_hash)
    if row is None:
        return None
    key, account, plan = prepared.load(row, _PARTS)
    account._state.fields_cache["plan"] = plan
    key._state.fields_cache["account"] = account
    return key
