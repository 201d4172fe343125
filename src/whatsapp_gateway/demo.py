"""Demo data for ``whatsapp-gateway demo``: idempotent, so ``make run`` can call it every time.

Steps run in order and each adds keys to the result; later features (sandbox instance, API key) add steps.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import transaction

from whatsapp_gateway.accounts.models import Membership, Module, Plan, User
from whatsapp_gateway.accounts.services import account_create

DEMO_EMAIL = "demo@example.com"
DEMO_ACCOUNT_NAME = "Demo Business"

DemoStep = Callable[[dict], None]


def _account_step(result: dict) -> None:
    from allauth.account.models import EmailAddress

    user = User.objects.filter(email=DEMO_EMAIL).first()
    created = user is None
    if created:
        user = User.objects.create_user(username=DEMO_EMAIL, email=DEMO_EMAIL, password=settings.GATEWAY_DEMO_PASSWORD)
    EmailAddress.objects.update_or_create(user=user, email=DEMO_EMAIL, defaults={"primary": True, "verified": True})
    membership = Membership.objects.filter(user=user).select_related("account").first()
    if membership is None:
        plan = Plan.objects.filter(code="growth").first()
        account = account_create(
            name=DEMO_ACCOUNT_NAME,
            owner=user,
            plan=plan,
            timezone="Asia/Riyadh",
            default_country="SA",
            modules=[Module.API_SEND.value, Module.THREECX.value],
        )
    else:
        account = membership.account
    result.update(
        {
            "account_id": account.public_id,
            "account_name": account.name,
            "email": DEMO_EMAIL,
            "password": settings.GATEWAY_DEMO_PASSWORD,
            "portal_url": f"{settings.GATEWAY_BASE_URL}/accounts/login/",
            "created": created,
        }
    )


STEPS: list[DemoStep] = [_account_step]


def register_step(step: DemoStep) -> None:
    if step not in STEPS:
        STEPS.append(step)


@transaction.atomic
def demo_setup() -> dict:
    result: dict = {}
    for step in STEPS:
        step(result)
    return result
