"""Account reads. Portal code gets the current account from ``request.account`` (set by the middleware)."""

from __future__ import annotations

from django.db.models import QuerySet

from whatsapp_gateway.accounts.models import Account, AuditLog, Membership, User


def membership_for_user(user: User) -> Membership | None:
    if not user.is_authenticated:
        return None
    try:
        return Membership.objects.select_related("account", "account__plan").get(user=user)
    except Membership.DoesNotExist:
        return None


def audit_log_for_account(*, account: Account) -> QuerySet[AuditLog]:
    return AuditLog.objects.filter(account=account).select_related("actor")


def members_for_account(*, account: Account) -> QuerySet[Membership]:
    return Membership.objects.filter(account=account).select_related("user")


def membership_get_for_account(*, account: Account, public_id: str) -> Membership:
    """Account-scoped lookup: another account's membership is a 404."""
    from django.shortcuts import get_object_or_404

    return get_object_or_404(Membership.objects.select_related("user"), account=account, public_id=public_id)
