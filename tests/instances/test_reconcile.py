"""The health job: reconcile each instance with its provider, restart stuck pairing, update last_seen_at."""

from __future__ import annotations

import datetime as dt

import time_machine

from tests.factories import make_instance
from whatsapp_gateway.instances.models import Instance, InstanceState, InstanceStateChange
from whatsapp_gateway.instances.services import instance_connect, instances_reconcile_all
from whatsapp_gateway.instances.tasks import instances_reconcile_task
from whatsapp_gateway.providers.models import SandboxSession, SandboxSessionStatus
from whatsapp_gateway.webhooks.models import Event

T0 = dt.datetime(2026, 11, 24, 10, 0, 0, tzinfo=dt.UTC)


def test_a_connection_lost_without_a_callback_is_recorded_by_the_reconcile_job(owner_alice):
    instance = make_instance(owner_alice.account, connected=True)
    # The provider's session dropped, and its callback was lost.
    SandboxSession.objects.filter(instance=instance).update(status=SandboxSessionStatus.CLOSED)

    instances_reconcile_all()

    instance.refresh_from_db()
    assert instance.state == InstanceState.DISCONNECTED
    change = InstanceStateChange.objects.filter(instance=instance).first()
    assert (change.from_state, change.to_state, change.reason) == (
        "connected",
        "disconnected",
        "Reconciled with the provider",
    )
    assert Event.objects.filter(instance=instance, event_type="instance.disconnected").exists()


def test_a_connection_the_gateway_missed_is_recorded_with_the_number(owner_alice):
    instance = make_instance(owner_alice.account, connected=True)
    Instance.objects.filter(pk=instance.pk).update(state=InstanceState.DISCONNECTED)

    instances_reconcile_task.call_local()

    instance.refresh_from_db()
    assert instance.state == InstanceState.CONNECTED
    assert instance.reconnects == 1


def test_reconcile_updates_last_seen_for_connected_instances(owner_alice):
    with time_machine.travel(T0, tick=False):
        instance = make_instance(owner_alice.account, connected=True)
    with time_machine.travel(T0 + dt.timedelta(minutes=5), tick=False):
        instances_reconcile_all()
    instance.refresh_from_db()
    assert instance.last_seen_at == T0 + dt.timedelta(minutes=5)
    assert not InstanceStateChange.objects.filter(instance=instance, created_at__gt=T0 + dt.timedelta(minutes=1))


def test_pairing_stuck_past_the_qr_expiry_is_restarted_with_a_new_code(owner_alice):
    with time_machine.travel(T0, tick=False):
        instance = instance_connect(instance=make_instance(owner_alice.account))
    first_qr = instance.qr_payload
    # The rotation timers were lost (worker down): the QR code expired 20 s after T0 and nothing replaced it.
    with time_machine.travel(T0 + dt.timedelta(seconds=50), tick=False):
        instances_reconcile_all()
    instance.refresh_from_db()
    assert instance.qr_payload == first_qr  # within the grace period: left alone
    with time_machine.travel(T0 + dt.timedelta(seconds=90), tick=False):
        instances_reconcile_all()

    instance.refresh_from_db()
    assert instance.state == InstanceState.PAIRING
    assert instance.qr_payload != first_qr
    assert instance.qr_expires_at == T0 + dt.timedelta(seconds=110)
    assert instance.state_reason == "QR code expired: pairing restarted"
    assert instance.qr_codes_issued == 2


def test_deleted_instances_are_not_reconciled_and_one_failure_does_not_stop_the_sweep(owner_alice, monkeypatch):
    from whatsapp_gateway.instances import services

    broken = make_instance(owner_alice.account, name="broken", connected=True)
    fine = make_instance(owner_alice.account, name="fine", connected=True)
    deleted = make_instance(owner_alice.account, name="gone", connected=True)
    services.instance_delete(instance=deleted)
    SandboxSession.objects.filter(instance=fine).update(status=SandboxSessionStatus.CLOSED)
    original = services.instance_reconcile

    def flaky(*, instance, reason=""):
        if instance.pk == broken.pk:
            raise RuntimeError("provider adapter bug")
        return original(instance=instance, reason=reason)

    monkeypatch.setattr(services, "instance_reconcile", flaky)

    assert instances_reconcile_all() == 2
    fine.refresh_from_db()
    assert fine.state == InstanceState.DISCONNECTED


def test_a_provider_outage_leaves_the_state_alone(owner_alice, monkeypatch):
    from whatsapp_gateway.providers.base import ProviderError
    from whatsapp_gateway.providers.sandbox.adapter import SandboxProvider

    instance = make_instance(owner_alice.account, connected=True)

    def down(self, instance):
        raise ProviderError("timeout", permanent=False)

    monkeypatch.setattr(SandboxProvider, "connection_state", down)
    instances_reconcile_all()
    instance.refresh_from_db()
    assert instance.state == InstanceState.CONNECTED
