"""Helper for test_limits_across_processes: ``setup`` creates an account, ``send N TAG`` sends N messages.

Run as a separate Python process with DJANGO_SETTINGS_MODULE=whatsapp_gateway.settings and its own data dir.
Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatsapp_gateway.settings")

import django

django.setup()

from whatsapp_gateway.providers import registry  # noqa: E402

registry.PROVIDERS["fake"] = "tests.fakes.FakeProvider"


def setup(daily_limit: int) -> dict:
    from whatsapp_gateway.accounts.models import Plan, User
    from whatsapp_gateway.accounts.services import account_create
    from whatsapp_gateway.instances.models import Instance

    plan = Plan.objects.create(
        code="procs", name="Procs", daily_limit=daily_limit, monthly_limit=10_000, is_custom=True
    )
    user = User.objects.create_user(username="procs@example.com", email="procs@example.com", password="x" * 12)
    account = account_create(name="Procs", owner=user, plan=plan, timezone="UTC")
    for tag in ("50", "55"):
        Instance.objects.create(account=account, name=f"line-{tag}", state="connected", provider="fake")
    return {"account": account.public_id}


def send(count: int, tag: str, go_file: str) -> dict:
    from whatsapp_gateway.accounts.models import Account
    from whatsapp_gateway.lib import errors
    from whatsapp_gateway.messaging.services import send_message

    account = Account.objects.select_related("plan").get(name="Procs")
    results: dict[str, int] = {}
    print("ready", flush=True)
    while not os.path.exists(go_file):  # start both processes at the same moment
        time.sleep(0.01)
    for i in range(count):
        try:
            send_message(
                account=account,
                instance_ref=f"line-{tag}",
                phone=f"+9665{tag}{i:06d}",
                text=f"Ticket {tag}-{i} was updated.",
                purpose="support",
                source="api",
            )
            code = "queued"
        except errors.GatewayError as exc:
            code = str(exc.code)
        results[code] = results.get(code, 0) + 1
    return results


if __name__ == "__main__":
    command = sys.argv[1]
    out = setup(int(sys.argv[2])) if command == "setup" else send(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    print(json.dumps(out))
