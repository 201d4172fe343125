"""Out-of-process side of the reliability suite: set up data, enqueue sends, run a worker, report the ledger.

Run as ``python tests/reliability/harness.py <command> ...`` with ``GATEWAY_DATA_DIR`` / ``DATABASE_URL`` /
``REDIS_URL`` pointing at a scratch installation (``tests/reliability/cluster.py`` does this). Every command prints
one JSON object on its last line.

The worker is the real Huey consumer (``run_huey``) with two test-speed settings: the per-instance pacing gap is
cut to ~0.1 s, and the repair sweeps (normally periodic jobs every minute) run every second with short grace
periods, so a crash is repaired within seconds instead of minutes. Nothing else is changed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatsapp_gateway.settings")


def _django() -> None:
    import django

    django.setup()


def cmd_setup(instances: str, receiver_url: str = "-") -> dict:
    """An account on a large custom plan with N connected sandbox instances (and a webhook endpoint each)."""
    from tests.factories import make_account_with_user, make_instance
    from whatsapp_gateway.accounts.models import Plan
    from whatsapp_gateway.apikeys.services import api_key_create
    from whatsapp_gateway.instances.models import Instance

    plan, _ = Plan.objects.update_or_create(
        code="reliability",
        defaults={
            "name": "Reliability",
            "daily_limit": 1_000_000,
            "monthly_limit": 10_000_000,
            "max_instances": 100,
            "is_custom": True,
        },
    )
    membership = make_account_with_user(email="ops-test@example.com", account_name="Reliability Co")
    account = membership.account
    account.plan = plan
    account.save()
    created = []
    for number in range(int(instances)):
        instance = make_instance(account, name=f"line-{number}", connected=True)
        # Past the warm-up window so the test measures the queue, not the warm-up caps.
        Instance.objects.filter(pk=instance.pk).update(paired_at=instance.paired_at - dt.timedelta(days=30))
        created.append(instance.public_id)
        if receiver_url != "-":
            from whatsapp_gateway.webhooks.endpoints import endpoint_create

            endpoint_create(
                account=account, instance=instance, url=receiver_url, events=["message.sent"], actor=membership.user
            )
    key = api_key_create(account=account, name="reliability", created_by=membership.user).full_key
    states = list(Instance.objects.filter(account=account).values_list("state", flat=True))
    return {"account": account.public_id, "instances": created, "states": states, "api_key": key}


def cmd_enqueue(count: str, tag: str) -> dict:
    """Accept ``count`` sends through the send service, round-robin over the instances, one recipient each."""
    from whatsapp_gateway.accounts.models import Account
    from whatsapp_gateway.instances.models import Instance
    from whatsapp_gateway.messaging.models import Message
    from whatsapp_gateway.messaging.services import send_message

    account = Account.objects.get(name="Reliability Co")
    instances = list(Instance.objects.filter(account=account).order_by("id"))
    # A fresh recipient for every message across batches: the per-recipient limit (5 in 10 minutes) is not what
    # this suite tests, and a soak run sends many batches.
    offset = Message.objects.filter(account=account).count()
    ids = []
    for number in range(int(count)):
        outcome = send_message(
            account=account,
            instance_ref=instances[(offset + number) % len(instances)],  # even across batches (rate limit)
            phone=f"+1202555{2000 + (offset + number) % 8000:04d}" if tag != "slow" else "+12025550103",
            text=f"Order {tag}-{number} has shipped.",
            purpose="transactional",
            source="api",
        )
        ids.append(outcome.message_id)
    return {"queued": len(ids)}


def cmd_status() -> dict:
    """The ledger: messages by status, provider calls per message, webhook deliveries by state."""
    from django.db.models import Count

    from whatsapp_gateway.messaging.models import Message
    from whatsapp_gateway.providers.models import SandboxMessage
    from whatsapp_gateway.webhooks.models import Delivery

    by_status = dict(
        Message.objects.exclude(status="blocked")
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    blocked = list(Message.objects.filter(status="blocked").values_list("block_code", flat=True)[:5])
    calls = SandboxMessage.objects.values("text").annotate(n=Count("pk"))
    duplicates = [row["text"] for row in calls if row["n"] > 1]
    failed = list(Message.objects.filter(status="failed").values_list("error_code", flat=True)[:10])
    sent_event_ids = list(Delivery.objects.filter(event_type="message.sent").values_list("event__public_id", flat=True))
    deliveries = dict(Delivery.objects.values_list("state").annotate(n=Count("pk")).values_list("state", "n"))
    return {
        "by_status": by_status,
        "blocked": blocked,
        "failed_codes": failed,
        "provider_calls": sum(row["n"] for row in calls),
        "duplicate_sends": duplicates,
        "deliveries": deliveries,
        "sent_event_ids": sent_event_ids,
    }


def _fast_repairs() -> None:
    from whatsapp_gateway.messaging import policy, queue

    policy.PACING_MIN_GAP_SECONDS = 0.05
    policy.PACING_MAX_JITTER_SECONDS = 0.05
    queue.LANE_STUCK_AFTER = dt.timedelta(seconds=6)  # well above a slow send (1 s), even on a loaded machine
    queue.WAKEUP_LOST_AFTER = dt.timedelta(seconds=2)

    def sweeper() -> None:
        from django.db import close_old_connections

        from whatsapp_gateway.providers.services import callbacks_sweep
        from whatsapp_gateway.webhooks.sweep import deliveries_sweep

        while True:
            time.sleep(1)
            for sweep in (queue.sweep, lambda: deliveries_sweep(grace=dt.timedelta(seconds=2)), callbacks_sweep):
                try:
                    sweep()
                except Exception as exc:  # the database or broker may be down right now; try again next second
                    print(f"sweep failed: {type(exc).__name__}", file=sys.stderr, flush=True)
                finally:
                    close_old_connections()

    threading.Thread(target=sweeper, name="fast-sweeper", daemon=True).start()


def cmd_worker() -> dict:
    from django.core.management import call_command

    _fast_repairs()
    print("worker starting", flush=True)
    call_command("run_huey", workers=4)
    return {"stopped": True}


COMMANDS = {"setup": cmd_setup, "enqueue": cmd_enqueue, "status": cmd_status, "worker": cmd_worker}

if __name__ == "__main__":
    _django()
    result = COMMANDS[sys.argv[1]](*sys.argv[2:])
    print(json.dumps(result), flush=True)
