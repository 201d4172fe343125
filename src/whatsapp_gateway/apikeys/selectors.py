"""API key reads, always given the account."""

from __future__ import annotations

from django.db import connection
from django.db.models import Model, QuerySet
from django.http import Http404

from whatsapp_gateway.accounts.models import Account, Plan
from whatsapp_gateway.apikeys.models import ApiKey


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


_JOINED = ((ApiKey, "k"), (Account, "a"), (Plan, "p"))


def _joined_sql() -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(f"{alias}.{quote(f.column)}" for model, alias in _JOINED for f in model._meta.concrete_fields)
    return (
        f"SELECT {columns} FROM {ApiKey._meta.db_table} k "  # noqa: S608 - table names from the models
        f"JOIN {Account._meta.db_table} a ON a.id = k.account_id JOIN {Plan._meta.db_table} p ON p.id = a.plan_id "
        "WHERE k.key_hash = %s"
    )


def _converters(model: type[Model], alias: str) -> list[tuple]:
    """(column expression, the backend's and the field's converters) per field, as the ORM's compiler applies them."""
    columns = [f.get_col(alias) for f in model._meta.concrete_fields]
    return [(col, connection.ops.get_db_converters(col) + col.field.get_db_converters(connection)) for col in columns]


_PLANS: dict[str, tuple[str, list]] = {}


def api_key_by_hash(key_hash: str) -> ApiKey | None:
    """The key with ``key_hash``, its account and the account's plan loaded, or ``None``.

    Same result as ``ApiKey.objects.select_related("account", "account__plan").filter(key_hash=…).first()`` in one
    indexed query, but without building the query each time: this runs on every API request, where the ORM's
    query compilation cost several times more than the lookup itself."""
    plan = _PLANS.get(connection.vendor)
    if plan is None:
        plan = _PLANS[connection.vendor] = (_joined_sql(), [_converters(m, a) for m, a in _JOINED])
    sql, converters = plan
    with connection.cursor() as cursor:
        cursor.execute(sql, [key_hash])
        row = cursor.fetchone()
    if row is None:
        return None
    objects, start = [], 0
    for (model, _alias), field_converters in zip(_JOINED, converters, strict=True):
        fields = model._meta.concrete_fields
        values = list(row[start : start + len(fields)])
        start += len(fields)
        for i, (col, funcs) in enumerate(field_converters):
            for func in funcs:
                values[i] = func(values[i], col, connection)
        objects.append(model.from_db(connection.alias, [f.attname for f in fields], values))
    key, account, plan_row = objects
    account._state.fields_cache["plan"] = plan_row
    key._state.fields_cache["account"] = account
    return key
