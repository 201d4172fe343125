"""API key reads, always given the account."""

from __future__ import annotations

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


def api_key_by_hash(key_hash: str) -> ApiKey | None:
    """The key with ``key_hash``, its account and the account's plan loaded, or ``None``.

    Same result as ``ApiKey.objects.select_related("account", "account__plan").filter(key_hash=…).first()`` in one
    indexed query, but without building the query each time: this runs on every API request, where the ORM's
    query compilation cost several times more than the lookup itself."""
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
    if row is None:
        return None
    key, account, plan = prepared.load(row, _PARTS)
    account._state.fields_cache["plan"] = plan
    key._state.fields_cache["account"] = account
    return key
