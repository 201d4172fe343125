"""Demo step: the sandbox instance ``demo-support-line``, paired and connected (idempotent)."""

from __future__ import annotations

from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.instances import services
from whatsapp_gateway.instances.models import Instance, InstanceState
from whatsapp_gateway.providers.sandbox import simulate

DEMO_INSTANCE_NAME = "demo-support-line"


def demo_instance_step(result: dict) -> None:
    account = Account.objects.get(public_id=result["account_id"])
    instance = Instance.objects.filter(account=account, name=DEMO_INSTANCE_NAME, deleted_at__isnull=True).first()
    if instance is None:
        instance = services.instance_create(
            account=account, name=DEMO_INSTANCE_NAME, provider="sandbox", any_provider=True
        )
    if instance.provider == "sandbox" and instance.state != InstanceState.CONNECTED:
        instance = services.instance_connect(instance=instance, reason="Demo set-up")
        simulate.scan(instance=instance)
        instance.refresh_from_db()
    result.update({"instance_id": instance.public_id, "instance_name": instance.name, "instance_state": instance.state})
