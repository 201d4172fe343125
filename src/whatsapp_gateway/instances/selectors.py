"""Instance reads. Every lookup is given the account; another account's or a deleted instance is a 404."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.instances.models import Instance, InstanceStateChange
from whatsapp_gateway.lib import errors


def instance_list_for_account(*, account: Account) -> QuerySet[Instance]:
    return Instance.objects.filter(account=account, deleted_at__isnull=True).order_by("name")


def instance_get_for_account(*, account: Account, public_id: str) -> Instance:
    """The portal's lookup by public id: 404 for another account's, a deleted or an unknown instance."""
    instance = (
        Instance.objects.select_related("account")
        .filter(account=account, public_id=public_id, deleted_at__isnull=True)
        .first()
    )
    if instance is None:
        raise Http404("No such instance")
    return instance


def instance_resolve(*, account: Account, ref: str) -> Instance:
    """The API's lookup: ``ref`` is a public id (``inst_…``) or the instance's name within the account.

    Raises ``lib.errors.InvalidInstance`` (404 ``invalid_instance``) when nothing live matches.
    """
    ref = (ref or "").strip()
    if not ref or len(ref) > 64:
        raise errors.InvalidInstance()
    qs = Instance.objects.select_related("account").filter(account=account, deleted_at__isnull=True)
    field = "public_id" if ref.startswith("inst_") else "name"
    instance = qs.filter(**{field: ref if field == "public_id" else ref.lower()}).first()
    if instance is None:
        raise errors.InvalidInstance()
    return instance


def instance_count_for_account(*, account: Account) -> int:
    return Instance.objects.filter(account=account, deleted_at__isnull=True).count()


def instance_state_history(*, instance: Instance, limit: int = 20) -> list[InstanceStateChange]:
    return list(InstanceStateChange.objects.filter(instance=instance)[:limit])


def instance_find_for_operator(*, ref: str, account_ref: str | None = None) -> Instance:
    """For the CLI (an operator on the server): a public id, or a name (with ``account_ref`` when several
    accounts use that name). Raises ``LookupError`` with an explanation."""
    qs = Instance.objects.select_related("account").filter(deleted_at__isnull=True)
    if account_ref:
        qs = (
            qs.filter(account__public_id=account_ref)
            if account_ref.startswith("acc_")
            else qs.filter(account__name=account_ref)
        )
    lookup = {"public_id": ref} if ref.startswith("inst_") else {"name": ref.lower()}
    matches = list(qs.filter(**lookup)[:2])
    if not matches:
        raise LookupError(f"no instance {ref!r}")
    if len(matches) > 1:
        raise LookupError(f"several accounts have an instance named {ref!r}; pass its inst_… id or --account")
    return matches[0]
