"""whatsapp-gateway demo: the sandbox instance demo-support-line, paired and connected, idempotently."""

from __future__ import annotations

from whatsapp_gateway.demo import demo_setup
from whatsapp_gateway.instances.models import Instance


def test_demo_creates_a_connected_sandbox_instance_once(db):
    first = demo_setup()
    second = demo_setup()

    assert first["instance_name"] == "demo-support-line"
    assert first["instance_state"] == "connected"
    assert first["instance_id"].startswith("inst_")
    assert second["instance_id"] == first["instance_id"]
    instance = Instance.objects.get(public_id=first["instance_id"])
    assert instance.provider == "sandbox"
    assert instance.phone_number
    assert Instance.objects.filter(name="demo-support-line").count() == 1


def test_demo_reconnects_a_disconnected_demo_instance(db):
    from whatsapp_gateway.providers.sandbox import simulate

    result = demo_setup()
    instance = Instance.objects.get(public_id=result["instance_id"])
    simulate.disconnect(instance=instance)

    assert demo_setup()["instance_state"] == "connected"
