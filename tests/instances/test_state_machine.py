"""instance_transition: every allowed and every refused transition, the events and counters it writes."""

from __future__ import annotations

import itertools

import pytest
import time_machine

from tests.factories import make_instance
from whatsapp_gateway.instances.models import ALLOWED_TRANSITIONS, Instance, InstanceState, InstanceStateChange
from whatsapp_gateway.instances.services import InstanceTransitionRefused, instance_transition
from whatsapp_gateway.webhooks.models import Event

STATES = [s.value for s in InstanceState]
ALLOWED = [(a, b) for a, b in itertools.product(STATES, STATES) if b in ALLOWED_TRANSITIONS[a] and a != b]
REFUSED = [(a, b) for a, b in itertools.product(STATES, STATES) if b not in ALLOWED_TRANSITIONS[a] and a != b]


def _instance_in(account, state: str) -> Instance:
    instance = make_instance(account, name=f"inst-{state.replace('_', '-')}")
    Instance.objects.filter(pk=instance.pk).update(state=state)  # arrange only: put it in the starting state
    instance.refresh_from_db()
    return instance


def _event_types(instance: Instance) -> list[str]:
    return sorted(Event.objects.filter(instance=instance).values_list("event_type", flat=True))


@pytest.mark.parametrize(("from_state", "to_state"), ALLOWED)
def test_it_allows_each_listed_transition_and_records_it(owner_alice, from_state, to_state):
    instance = _instance_in(owner_alice.account, from_state)

    result = instance_transition(instance=instance, to_state=to_state, reason="test", phone_number="+14155550123")

    assert result.state == to_state
    assert instance.state == to_state  # the caller's object follows
    change = InstanceStateChange.objects.get(instance=instance)
    assert (change.from_state, change.to_state, change.reason) == (from_state, to_state, "test")
    assert result.state_changed_at is not None
    expected = ["instance.connection_updated"]
    if to_state == "connected":
        expected.append("instance.connected")
    if from_state == "connected" and to_state in ("disconnected", "logged_out", "failed"):
        expected.append("instance.disconnected")
    assert _event_types(instance) == sorted(expected)
    payload = Event.objects.filter(instance=instance, event_type="instance.connection_updated").get().payload
    assert payload["state"] == to_state
    assert payload["previous_state"] == from_state
    assert payload["reason"] == "test"
    assert payload["instance_id"] == instance.public_id
    assert payload["instance_name"] == instance.name


@pytest.mark.parametrize(("from_state", "to_state"), REFUSED)
def test_it_refuses_each_unlisted_transition_and_records_nothing(owner_alice, from_state, to_state):
    instance = _instance_in(owner_alice.account, from_state)

    with pytest.raises(InstanceTransitionRefused):
        instance_transition(instance=instance, to_state=to_state, reason="test")

    instance.refresh_from_db()
    assert instance.state == from_state
    assert not InstanceStateChange.objects.filter(instance=instance).exists()
    assert _event_types(instance) == []


@pytest.mark.parametrize("state", [s for s in STATES if s != "pairing"])
def test_staying_in_the_same_state_is_not_a_transition(owner_alice, state):
    instance = _instance_in(owner_alice.account, state)

    instance_transition(instance=instance, to_state=state, reason="again")

    assert not InstanceStateChange.objects.filter(instance=instance).exists()
    assert _event_types(instance) == []


def test_a_new_qr_code_while_pairing_emits_qr_updated_without_a_history_row(owner_alice):
    instance = _instance_in(owner_alice.account, "pairing")

    instance_transition(instance=instance, to_state="pairing", qr_payload="2@first")
    instance_transition(instance=instance, to_state="pairing", qr_payload="2@first")  # same code: nothing new
    instance_transition(instance=instance, to_state="pairing", qr_payload="2@second")

    instance.refresh_from_db()
    assert instance.qr_codes_issued == 2
    assert instance.qr_payload == "2@second"
    assert _event_types(instance) == ["instance.qr_updated", "instance.qr_updated"]
    assert not InstanceStateChange.objects.filter(instance=instance).exists()
    payload = Event.objects.filter(instance=instance).first().payload
    assert payload["qr"] == "2@second"
    assert payload["state"] == "pairing"


def test_first_connection_sets_paired_at_and_a_reconnect_keeps_it(owner_alice):
    instance = _instance_in(owner_alice.account, "pairing")
    with time_machine.travel("2026-11-24 10:00:00Z", tick=False):
        instance_transition(instance=instance, to_state="connected", phone_number="+14155550123")
    first_paired = instance.paired_at
    with time_machine.travel("2026-11-25 10:00:00Z", tick=False):
        instance_transition(instance=instance, to_state="disconnected", reason="phone offline")
        instance_transition(instance=instance, to_state="connected", phone_number="+14155550123")

    instance.refresh_from_db()
    assert instance.paired_at == first_paired
    assert instance.paired_at.isoformat().startswith("2026-11-24T10:00")
    assert instance.reconnects == 1
    assert instance.last_seen_at.isoformat().startswith("2026-11-25T10:00")


def test_pairing_a_different_number_restarts_the_warm_up_clock(owner_alice):
    instance = _instance_in(owner_alice.account, "pairing")
    with time_machine.travel("2026-11-24 10:00:00Z", tick=False):
        instance_transition(instance=instance, to_state="connected", phone_number="+14155550123")
    with time_machine.travel("2026-11-30 10:00:00Z", tick=False):
        instance_transition(instance=instance, to_state="logged_out")
        instance_transition(instance=instance, to_state="pairing")
        instance_transition(instance=instance, to_state="connected", phone_number="+14155550199")

    instance.refresh_from_db()
    assert instance.phone_number == "+14155550199"
    assert instance.paired_at.isoformat().startswith("2026-11-30T10:00")
    assert instance.reconnects == 0


def test_events_carry_the_contract_fields(owner_alice):
    instance = _instance_in(owner_alice.account, "pairing")
    instance_transition(instance=instance, to_state="connected", phone_number="+14155550123", reason="scanned")

    payload = Event.objects.get(instance=instance, event_type="instance.connected").payload
    assert {"event", "event_id", "occurred_at", "instance_id", "instance_name"} <= set(payload)
    assert payload["state"] == "connected"
    assert payload["previous_state"] == "pairing"
    assert payload["phone_number"] == "+14155550123"
    assert payload["reason"] == "scanned"


def test_leaving_connected_emits_instance_disconnected_with_the_reason(owner_alice):
    instance = _instance_in(owner_alice.account, "connected")
    instance_transition(instance=instance, to_state="disconnected", reason="phone offline")

    payload = Event.objects.get(instance=instance, event_type="instance.disconnected").payload
    assert payload["previous_state"] == "connected"
    assert payload["state"] == "disconnected"
    assert payload["reason"] == "phone offline"
