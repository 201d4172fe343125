"""API key reads, always given the account."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from whatsapp_gateway.accounts.models import Account
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
