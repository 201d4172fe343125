"""The ``whatsapp-gateway`` commands that use the database or the app registry.

``cli`` imports this module only after ``django.setup()``: the modules below import models, which Django refuses to
load before its app registry is ready. Argument parsing and process launching stay in ``cli``.
"""

from __future__ import annotations

import argparse
import json
import sys

from whatsapp_gateway.demo import demo_setup
from whatsapp_gateway.instances.selectors import instance_find_for_operator
from whatsapp_gateway.lib.phone import mask
from whatsapp_gateway.operations.metrics import serve_process_metrics
from whatsapp_gateway.operations.services import encryption_keys_rotate
from whatsapp_gateway.pages.views import _check_database, _check_queue
from whatsapp_gateway.providers.sandbox import simulate as sandbox_simulate
from whatsapp_gateway.providers.sandbox.phone import DEFAULT_CONTACT_NAME, SandboxError


def demo() -> dict:
    """``whatsapp-gateway demo``: the demo account, created idempotently."""
    return demo_setup()


def serve_worker_metrics(*, host: str, port: int) -> None:
    """This host's process metrics for ``whatsapp-gateway worker`` (WORKER_METRICS_PORT)."""
    serve_process_metrics(host=host, port=port)


def simulate(args: argparse.Namespace) -> None:
    """``whatsapp-gateway simulate``: one sandbox simulation through the provider callback route."""
    try:
        instance = instance_find_for_operator(ref=args.instance, account_ref=args.account)
    except LookupError as exc:
        sys.exit(f"error: {exc}")
    action = args.action
    try:
        if action == "scan":
            receipt = sandbox_simulate.scan(instance=instance)
        elif action in ("inbound", "stop"):
            if action == "stop":
                receipt = sandbox_simulate.stop(instance=instance, from_phone=args.from_phone)
            else:
                receipt = sandbox_simulate.inbound(
                    instance=instance,
                    from_phone=args.from_phone,
                    text=args.text or "Hello!",
                    from_name=args.name or DEFAULT_CONTACT_NAME,
                )
        elif action in ("call", "missed-call"):
            receipt = sandbox_simulate.call(
                instance=instance, from_phone=args.from_phone, is_video=args.video, missed=action == "missed-call"
            )
        elif action == "group-message":
            receipt = sandbox_simulate.group_message(
                instance=instance,
                from_phone=args.from_phone,
                text=args.text or "Hello team!",
                group_name=args.group,
                from_name=args.name or DEFAULT_CONTACT_NAME,
            )
        elif action == "group-update":
            receipt = sandbox_simulate.group_update(
                instance=instance, action=args.group_action, participant=args.participant, group_name=args.group
            )
        elif action == "conversation-update":
            receipt = sandbox_simulate.conversation_update(
                instance=instance, phone=args.phone, unread_count=args.unread, archived=args.archived
            )
        elif action == "reconnect":
            receipt = sandbox_simulate.reconnect(instance=instance)
        else:
            receipt = sandbox_simulate.disconnect(instance=instance)
    except SandboxError as exc:
        sys.exit(f"error: {exc.message}")
    instance.refresh_from_db()
    number = f", number {mask(instance.phone_number)}" if instance.phone_number else ""
    status = "accepted" if receipt.status == 200 else f"refused ({receipt.status})"
    print(
        f"simulated {action} on {instance.name} ({instance.public_id}): callback {status}; "
        f"instance is {instance.state}{number}. No real WhatsApp message was involved."
    )
    if receipt.status != 200:
        sys.exit(1)


def rotate_keys() -> None:
    """``whatsapp-gateway rotate-keys``: re-encrypt every secret at rest with the first key."""
    report = encryption_keys_rotate()
    print(f"Re-encrypted {report.values} values in {report.rows} rows with the first key ({len(report.fields)} fields:")
    for name in report.fields:
        print(f"  {name}")
    print(")  The other keys in GATEWAY_ENCRYPTION_KEYS can now be removed.")


def ready() -> None:
    """``whatsapp-gateway ready``: exit 0 when the database and the job broker answer."""
    db_ok, db_detail = _check_database()
    queue_ok, queue_detail = _check_queue()
    print(json.dumps({"database": db_detail, "queue": queue_detail}))
    sys.exit(0 if db_ok and queue_ok else 1)
