"""Set-up side of the client tests: acts on the data directory of the gateway the tests started.

Run as ``python tests/client/gateway_ctl.py <command> ...`` with the gateway's environment (``GATEWAY_DATA_DIR``);
every command prints one JSON object on its last line. The running gateway sees the rows and jobs it writes.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatsapp_gateway.settings")


def cmd_setup(receiver_url: str) -> dict:
    """The demo account and instance, a fresh API key, a second key that is revoked, an instance that is not
    connected, an approved template ``order_update`` (en), and a webhook endpoint for every event at
    ``receiver_url``."""
    from whatsapp_gateway.accounts.models import User
    from whatsapp_gateway.apikeys.services import api_key_create, api_key_revoke
    from whatsapp_gateway.demo import demo_setup
    from whatsapp_gateway.instances.models import Instance
    from whatsapp_gateway.instances.services import instance_create
    from whatsapp_gateway.message_templates.services import template_approve, template_submit
    from whatsapp_gateway.webhooks.catalogue import EVENT_NAMES
    from whatsapp_gateway.webhooks.endpoints import endpoint_create

    demo = demo_setup()
    instance = Instance.objects.get(public_id=demo["instance_id"])
    account = instance.account
    revoked = api_key_create(account=account, name="revoked by the client tests")
    api_key_revoke(api_key=revoked.api_key)
    offline = instance_create(account=account, name="client-tests-offline", provider="sandbox", any_provider=True)
    operator = User.objects.create_user(username="ops@example.com", email="ops@example.com", is_staff=True)
    template = template_submit(
        account=account,
        actor=None,
        name="order_update",
        language="en",
        category="utility",
        body="Your order {{1}} ships on {{2}}.",
    )
    template_approve(template=template, operator=operator)
    endpoint, secret = endpoint_create(account=account, instance=instance, url=receiver_url, events=sorted(EVENT_NAMES))
    return {
        "api_key": demo["api_key"],
        "revoked_api_key": revoked.full_key,
        "instance_id": instance.public_id,
        "instance_name": instance.name,
        "offline_instance_id": offline.public_id,
        "endpoint_id": endpoint.pk,
        "secret": secret,
    }


def cmd_rotate(endpoint_id: str) -> dict:
    from whatsapp_gateway.webhooks.endpoints import endpoint_rotate_secret
    from whatsapp_gateway.webhooks.models import Endpoint

    _, secret = endpoint_rotate_secret(endpoint=Endpoint.objects.get(pk=int(endpoint_id)))
    return {"secret": secret}


def cmd_simulate(instance_id: str, phone: str) -> dict:
    """What the simulated phone can do, once each: inbound text, call, missed call, group message and update,
    conversation update, then an opt-out (STOP) from ``phone``."""
    from whatsapp_gateway.instances.models import Instance
    from whatsapp_gateway.providers.sandbox import simulate

    instance = Instance.objects.get(public_id=instance_id)
    receipts = [
        simulate.inbound(instance=instance, from_phone=phone, text="Where is my order?", from_name="Maria"),
        simulate.call(instance=instance, from_phone=phone),
        simulate.call(instance=instance, from_phone=phone, missed=True),
        simulate.group_message(instance=instance, from_phone=phone, text="Hi all", group_name="Team"),
        simulate.group_update(instance=instance, action="join", participant=phone, group_name="Team"),
        simulate.conversation_update(instance=instance, phone=phone, unread_count=2, archived=False),
        simulate.stop(instance=instance, from_phone=phone),
    ]
    return {"statuses": [receipt.status for receipt in receipts]}


COMMANDS = {"setup": cmd_setup, "rotate": cmd_rotate, "simulate": cmd_simulate}

if __name__ == "__main__":
    import django

    django.setup()
    print(json.dumps(COMMANDS[sys.argv[1]](*sys.argv[2:])))
