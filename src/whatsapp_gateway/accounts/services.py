"""Account writes: creation, membership, settings, and the audit trail."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest

from whatsapp_gateway.accounts.models import Account, AuditLog, Membership, Plan, Role, User
from whatsapp_gateway.lib.client_ip import request_origin
from whatsapp_gateway.lib.errors import PortalError

DEFAULT_PLAN_CODE = "starter"


def audit_record(
    *,
    account: Account | None,
    action: str,
    actor: User | None = None,
    actor_label: str = "",
    client_ip: str | None = None,
    user_agent: str = "",
    target_type: str = "",
    target_id: str = "",
    metadata: dict[str, Any] | None = None,
) -> AuditLog:
    """Append one audit entry: who (``actor``, or ``actor_label`` for the system or an operator), from where
    (``client_ip``, ``user_agent``), what. Never put secrets, keys or full phone numbers in ``metadata``."""
    if not actor_label:
        actor_label = actor.email if actor is not None else "system"
    return AuditLog.objects.create(
        account=account,
        actor=actor,
        actor_label=actor_label[:200],
        action=action,
        target_type=target_type,
        target_id=str(target_id)[:80],
        ip_address=client_ip,
        user_agent=user_agent[:300],
        metadata=metadata or {},
    )


def plan_get_default() -> Plan:
    plan, _ = Plan.objects.get_or_create(
        code=DEFAULT_PLAN_CODE,
        defaults={"name": "Starter", "daily_limit": 100, "monthly_limit": 2000, "max_instances": 2},
    )
    return plan


@transaction.atomic
def account_create(
    *,
    name: str,
    owner: User,
    plan: Plan | None = None,
    timezone: str = "UTC",
    default_country: str = "SA",
    modules: list[str] | None = None,
    client_ip: str | None = None,
    user_agent: str = "",
) -> Account:
    """Create an account with ``owner`` as its owner. Runs in a transaction; audit-logged."""
    account = Account.objects.create(
        name=name.strip() or owner.email,
        plan=plan or plan_get_default(),
        timezone=timezone,
        default_country=default_country.upper(),
        **({"enabled_modules": modules} if modules is not None else {}),
    )
    Membership.objects.create(account=account, user=owner, role=Role.OWNER)
    audit_record(
        account=account,
        action="account.created",
        client_ip=client_ip,
        user_agent=user_agent,
        actor=owner,
        target_type="account",
        target_id=account.public_id,
    )
    return account


@transaction.atomic
def account_update_settings(
    *, account: Account, actor: User | None = None, client_ip: str | None = None, user_agent: str = "", **fields: Any
) -> Account:
    changed = {}
    for name, value in fields.items():
        if getattr(account, name) != value:
            changed[name] = {"from": getattr(account, name), "to": value}
            setattr(account, name, value)
    if changed:
        account.full_clean()
        account.save()
        audit_record(
            account=account,
            action="account.settings_changed",
            actor=actor,
            client_ip=client_ip,
            user_agent=user_agent,
            target_type="account",
            target_id=account.public_id,
            metadata={"changed": changed},
        )
    return account


class MembershipError(PortalError):
    """A membership change the rules refuse (shown to the user as a form error)."""


@transaction.atomic
def member_invite(*, account: Account, email: str, role: str, request: HttpRequest) -> Membership:
    """Add a person to the account and email them a link to set their password.

    The one account service that takes the request: the invitation email is rendered with it (the site's absolute
    links and allauth's mail adapter).

    The user is created without a usable password and already verified (the invitation reaches their inbox). The
    link is allauth's password-reset link (same token, same expiry, same "set password" page), so no hand-written
    token scheme exists; the email itself says who invited them to which account. Sent after commit.
    """
    from allauth.account.models import EmailAddress

    email = email.strip().lower()
    if role == Role.OWNER:
        raise MembershipError("Invite as admin or member; an owner can promote them later.")
    if User.objects.filter(email__iexact=email).exists():
        raise MembershipError("A user with this email already exists.")
    user = User(email=email, username=email[:150])
    user.set_unusable_password()
    user.save()
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    membership = Membership.objects.create(account=account, user=user, role=role)
    audit_record(
        account=account,
        action="member.invited",
        actor=request.user if request.user.is_authenticated else None,
        **request_origin(request),
        target_type="user",
        target_id=email,
        metadata={"role": role},
    )
    message = _invitation_email(account=account, user=user, role=role, request=request)
    transaction.on_commit(message.send)
    return membership


def _invitation_email(*, account: Account, user: User, role: str, request: HttpRequest):
    from allauth.account.adapter import get_adapter
    from allauth.account.forms import default_token_generator
    from allauth.account.utils import user_pk_to_url_str
    from django.conf import settings
    from django.urls import reverse

    path = reverse(
        "account_reset_password_from_key",
        kwargs={"uidb36": user_pk_to_url_str(user), "key": default_token_generator.make_token(user)},
    )
    inviter = request.user.email if request.user.is_authenticated else "An administrator"
    context = {
        "email": user.email,
        "account": account,
        "inviter": inviter,
        "role": Role(role).label,
        "set_password_url": request.build_absolute_uri(path),
        "login_url": request.build_absolute_uri(reverse("account_login")),
        "valid_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
    }
    return get_adapter(request).render_mail("accounts/email/member_invite", user.email, context)


@transaction.atomic
def member_change_role(
    *,
    by: Membership,
    membership: Membership,
    role: str,
    actor: User | None = None,
    client_ip: str | None = None,
    user_agent: str = "",
) -> Membership:
    if membership.account_id != by.account_id:
        raise MembershipError("Not a member of this account.")
    if (role == Role.OWNER or membership.role == Role.OWNER) and by.role != Role.OWNER:
        raise MembershipError("Only an owner can grant or remove the owner role.")
    if membership.role == Role.OWNER and role != Role.OWNER:
        if (
            not Membership.objects.filter(account=membership.account, role=Role.OWNER)
            .exclude(pk=membership.pk)
            .exists()
        ):
            raise MembershipError("An account must keep at least one owner.")
    previous = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        account=membership.account,
        action="member.role_changed",
        actor=actor,
        client_ip=client_ip,
        user_agent=user_agent,
        target_type="user",
        target_id=membership.user.email,
        metadata={"from": previous, "to": role},
    )
    return membership


@transaction.atomic
def member_remove(
    *,
    by: Membership,
    membership: Membership,
    actor: User | None = None,
    client_ip: str | None = None,
    user_agent: str = "",
) -> None:
    if membership.account_id != by.account_id:
        raise MembershipError("Not a member of this account.")
    if membership.pk == by.pk:
        raise MembershipError("You cannot remove yourself.")
    if membership.role == Role.OWNER and by.role != Role.OWNER:
        raise MembershipError("Only an owner can remove an owner.")
    email = membership.user.email
    user = membership.user
    membership.delete()
    user.is_active = False
    user.save(update_fields=["is_active"])
    audit_record(
        account=by.account,
        action="member.removed",
        actor=actor,
        client_ip=client_ip,
        user_agent=user_agent,
        target_type="user",
        target_id=email,
    )
