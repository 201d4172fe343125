"""Set-up through services, never by poking rows directly where a service exists."""

from __future__ import annotations

import json

from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP

from whatsapp_gateway.accounts.models import Membership, Module, Plan, User
from whatsapp_gateway.accounts.services import account_create
from whatsapp_gateway.messaging.models import AccountDailyUsage, DailyUsage

PASSWORD = "correct-horse-battery-9"
OPERATOR_TOTP_SECRET = "JBSWY3DPEHPK3PXP"


def make_user(email: str, password: str = PASSWORD) -> User:
    user = User.objects.create_user(username=email, email=email, password=password)
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return user


def enable_totp(user: User) -> User:
    """Give ``user`` an authenticator app (the back office admits staff only with one)."""
    TOTP.activate(user, OPERATOR_TOTP_SECRET)
    return user


def make_operator(email: str = "ops@example.com", password: str = PASSWORD) -> User:
    """A superuser with TOTP, as every operator must have to use the back office."""
    user = make_user(email, password)
    user.is_staff = user.is_superuser = True
    user.save()
    return enable_totp(user)


def ensure_seeded_plans() -> None:
    """Transactional tests (live_server, threads) flush the database afterwards, seeded plans included: re-seed."""
    import importlib

    from django.apps import apps as django_apps

    importlib.import_module("whatsapp_gateway.accounts.migrations.0002_seed_plans").seed(django_apps, None)


def _plan(code: str) -> Plan:
    plan = Plan.objects.filter(code=code).first()
    if plan is None:
        ensure_seeded_plans()
        plan = Plan.objects.get(code=code)
    return plan


def make_account_with_user(
    *, email: str, account_name: str, role: str = "owner", plan_code: str = "growth", modules=None
) -> Membership:
    user = make_user(email)
    account = account_create(
        name=account_name,
        owner=user,
        plan=_plan(plan_code),
        modules=modules if modules is not None else [Module.API_SEND.value, Module.THREECX.value],
    )
    return Membership.objects.select_related("account", "user").get(user=user, account=account)


def add_member(account, *, email: str, role: str) -> Membership:
    user = make_user(email)
    return Membership.objects.create(account=account, user=user, role=role)


# --- Instances ----------------------------------------------------------------------------------------------------


def make_instance(
    account,
    *,
    name: str = "support-line",
    provider: str = "sandbox",
    connected: bool = False,
    credentials=None,
    **fields,
):
    """The one way tests make an instance.

    A plain sandbox instance goes through ``instance_create`` as the portal does, and ``connected=True`` pairs it
    with the simulated phone. Any other provider, or explicit model ``fields`` (``state``, ``provider_ref``,
    ``phone_number`` …), writes the row directly with a callback token; ``credentials`` become the provider
    credentials and ``connected=True`` sets the state to connected.
    """
    from whatsapp_gateway.instances.models import Instance, InstanceState
    from whatsapp_gateway.instances.services import instance_create
    from whatsapp_gateway.lib.crypto import keyed_hash
    from whatsapp_gateway.lib.ids import random_token

    if provider == "sandbox" and not fields and credentials is None:
        instance = instance_create(account=account, name=name, provider="sandbox", any_provider=True)
        return connect_instance(instance) if connected else instance
    if connected:
        fields.setdefault("state", InstanceState.CONNECTED)
    token = random_token(32)
    return Instance.objects.create(
        account=account,
        name=name,
        provider=provider,
        provider_credentials=json.dumps(credentials) if credentials else "",
        callback_token=token,
        callback_token_hash=keyed_hash(token, purpose="callback"),
        **fields,
    )


def connect_instance(instance):
    """Pair a sandbox instance the way a person does: Connect, then scan the QR code with the simulated phone."""
    from whatsapp_gateway.instances.services import instance_connect
    from whatsapp_gateway.providers.sandbox import simulate

    instance = instance_connect(instance=instance)
    simulate.scan(instance=instance)
    instance.refresh_from_db()
    return instance


# --- Usage -------------------------------------------------------------------------------------------------------


def record_usage(*, account, instance, day, count: int) -> None:
    """Counted sends on ``day``, as the send path counts them: in the instance's day and in the account's day."""
    DailyUsage.objects.create(account=account, instance=instance, day=day, count=count)
    total, _ = AccountDailyUsage.objects.get_or_create(account=account, day=day)
    total.count += count
    total.save()
