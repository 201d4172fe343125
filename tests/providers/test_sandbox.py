"""The sandbox provider: QR rotation and expiry, scanning, sends with timed receipts, test numbers, simulations."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from tests.factories import make_instance
from whatsapp_gateway.instances.models import InstanceState
from whatsapp_gateway.instances.services import instance_connect
from whatsapp_gateway.lib import phone as phone_lib
from whatsapp_gateway.providers import dispatch
from whatsapp_gateway.providers.base import (
    CallEvent,
    ConversationUpdate,
    GroupUpdate,
    InboundMessage,
    MessageStatusUpdate,
    ProviderError,
)
from whatsapp_gateway.providers.models import ProviderCallback, SandboxMessage
from whatsapp_gateway.providers.registry import get_provider
from whatsapp_gateway.providers.sandbox import simulate
from whatsapp_gateway.providers.sandbox.phone import (
    DEFAULT_CONTACT,
    TEST_NUMBER_NOT_ON_WHATSAPP,
    TEST_NUMBER_PROVIDER_ERROR,
    TEST_NUMBER_SLOW,
    TEST_NUMBERS,
    SandboxError,
    fake_phone_number,
)
from whatsapp_gateway.providers.sandbox.server import qr_rotate, run_due
from whatsapp_gateway.webhooks.models import Event

T0 = dt.datetime(2026, 11, 24, 10, 0, 0, tzinfo=dt.UTC)


@pytest.fixture
def recorded():
    """Collects the normalised events other apps would handle."""
    seen: list = []
    classes = [MessageStatusUpdate, InboundMessage, CallEvent, GroupUpdate, ConversationUpdate]

    def handler(instance, event):
        seen.append(event)

    for cls in classes:
        dispatch.register(cls, handler)
    yield seen
    for cls in classes:
        dispatch._HANDLERS[cls].remove(handler)


def test_connect_shows_a_qr_code_that_expires_after_20_seconds(owner_alice):
    with time_machine.travel(T0, tick=False):
        instance = instance_connect(instance=make_instance(owner_alice.account))

    assert instance.state == InstanceState.PAIRING
    assert instance.qr_payload.startswith("2@sandbox,")
    assert instance.qr_expires_at == T0 + dt.timedelta(seconds=20)
    assert instance.qr_codes_issued == 1
    assert Event.objects.filter(instance=instance, event_type="instance.qr_updated").count() == 1


def test_the_qr_code_rotates_every_20_seconds_through_the_callback_route(
    owner_alice, django_capture_on_commit_callbacks
):
    with time_machine.travel(T0, tick=False):
        instance = instance_connect(instance=make_instance(owner_alice.account))
    first = instance.qr_payload
    with time_machine.travel(T0 + dt.timedelta(seconds=10), tick=False):
        assert run_due() == 0  # not expired yet
    with (
        time_machine.travel(T0 + dt.timedelta(seconds=21), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert run_due() == 1

    instance.refresh_from_db()
    assert instance.state == InstanceState.PAIRING
    assert instance.qr_payload != first
    assert instance.qr_codes_issued == 2
    assert instance.qr_expires_at == T0 + dt.timedelta(seconds=41)
    assert ProviderCallback.objects.filter(instance=instance, body__contains='"type":"qr"').count() == 1
    assert Event.objects.filter(instance=instance, event_type="instance.qr_updated").count() == 2


def test_a_stale_rotation_timer_does_nothing(owner_alice):
    instance = instance_connect(instance=make_instance(owner_alice.account))
    assert qr_rotate(instance_pk=instance.pk, seq=7) is False


def test_pairing_gives_up_after_the_qr_limit(owner_alice, settings, django_capture_on_commit_callbacks):
    settings.GATEWAY_SANDBOX_QR_LIMIT = 2
    with time_machine.travel(T0, tick=False):
        instance = instance_connect(instance=make_instance(owner_alice.account))
    for seconds in (21, 42):
        with (
            time_machine.travel(T0 + dt.timedelta(seconds=seconds), tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            run_due()

    instance.refresh_from_db()
    assert instance.state == InstanceState.DISCONNECTED
    assert instance.state_reason == "The QR code was not scanned in time"
    assert instance.qr_payload == ""


def test_scanning_pairs_a_deterministic_valid_fake_number(owner_alice):
    instance = instance_connect(instance=make_instance(owner_alice.account))
    receipt = simulate.scan(instance=instance)

    instance.refresh_from_db()
    assert receipt.status == 200
    assert instance.state == InstanceState.CONNECTED
    assert instance.phone_number == fake_phone_number(instance)
    assert phone_lib.is_valid(instance.phone_number)
    assert instance.phone_number not in TEST_NUMBERS
    assert instance.profile_name == "Alice Co (sandbox)"
    assert instance.paired_at is not None
    assert instance.qr_payload == ""
    assert Event.objects.filter(instance=instance, event_type="instance.connected").count() == 1


def test_pairing_with_a_phone_number_gives_a_code_and_pairs_that_number(owner_alice):
    instance = instance_connect(instance=make_instance(owner_alice.account), phone_number="+966 50 123 4567")
    assert len(instance.pairing_code) == 9 and instance.pairing_code[4] == "-"

    simulate.scan(instance=instance)
    instance.refresh_from_db()
    assert instance.phone_number == "+966501234567"


def test_scanning_without_a_qr_code_is_refused(owner_alice):
    instance = make_instance(owner_alice.account)
    with pytest.raises(SandboxError):
        simulate.scan(instance=instance)


def test_the_test_numbers_are_valid_phone_numbers():
    for number in [*TEST_NUMBERS, DEFAULT_CONTACT]:
        assert phone_lib.normalize_e164(number) == number


def test_send_text_produces_sent_delivered_read_callbacks(owner_alice, recorded, django_capture_on_commit_callbacks):
    instance = make_instance(owner_alice.account, connected=True)
    provider = get_provider("sandbox")
    with django_capture_on_commit_callbacks(execute=True):
        result = provider.send_text(instance, to="+14155550111", text="Your order shipped")

    statuses = [(e.provider_message_id, e.status) for e in recorded if isinstance(e, MessageStatusUpdate)]
    assert statuses == [(result.provider_message_id, s) for s in ("sent", "delivered", "read")]
    assert recorded[0].recipient == "+14155550111"
    assert SandboxMessage.objects.get(provider_message_id=result.provider_message_id).status == "read"


def test_receipts_follow_the_configured_delays(owner_alice, recorded, settings, django_capture_on_commit_callbacks):
    settings.GATEWAY_SANDBOX_STATUS_DELAYS = [1.0, 3.0, 8.0]
    instance = make_instance(owner_alice.account, connected=True)
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        get_provider("sandbox").send_text(instance, to="+14155550111", text="Hi")
    seen = []
    for seconds in (0.5, 1.5, 4.5, 12.5):
        with (
            time_machine.travel(T0 + dt.timedelta(seconds=seconds), tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            run_due()
        seen.append([e.status for e in recorded])
    assert seen == [[], ["sent"], ["sent", "delivered"], ["sent", "delivered", "read"]]


def test_the_not_on_whatsapp_number_fails_permanently(owner_alice):
    instance = make_instance(owner_alice.account, connected=True)
    with pytest.raises(ProviderError) as caught:
        get_provider("sandbox").send_text(instance, to=TEST_NUMBER_NOT_ON_WHATSAPP, text="Hi")
    assert caught.value.permanent is True
    assert caught.value.code == "not_on_whatsapp"


def test_the_provider_error_number_fails_retryably(owner_alice):
    instance = make_instance(owner_alice.account, connected=True)
    with pytest.raises(ProviderError) as caught:
        get_provider("sandbox").send_text(instance, to=TEST_NUMBER_PROVIDER_ERROR, text="Hi")
    assert caught.value.permanent is False
    assert caught.value.code == "provider_unavailable"


def test_the_slow_number_gets_late_receipts(owner_alice, recorded, settings, django_capture_on_commit_callbacks):
    settings.GATEWAY_SANDBOX_STATUS_DELAYS = [1.0, 3.0, 8.0]
    instance = make_instance(owner_alice.account, connected=True)
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        result = get_provider("sandbox").send_text(instance, to=TEST_NUMBER_SLOW, text="Hi")
    with time_machine.travel(T0 + dt.timedelta(seconds=5), tick=False):
        run_due()
    assert recorded == []
    with (
        time_machine.travel(T0 + dt.timedelta(seconds=11), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        run_due()
    assert [(e.provider_message_id, e.status) for e in recorded] == [(result.provider_message_id, "sent")]


def test_sending_from_a_disconnected_sandbox_phone_is_a_retryable_error(owner_alice):
    instance = make_instance(owner_alice.account)
    with pytest.raises(ProviderError) as caught:
        get_provider("sandbox").send_text(instance, to="+14155550111", text="Hi")
    assert caught.value.permanent is False


def test_simulations_produce_the_normalised_events(owner_alice, recorded):
    instance = make_instance(owner_alice.account, connected=True)

    simulate.inbound(instance=instance, from_phone="+12025550142", text="Hello", from_name="Maria")
    simulate.stop(instance=instance, from_phone="+12025550142")
    simulate.call(instance=instance, from_phone="+12025550142")
    simulate.call(instance=instance, from_phone="+12025550142", missed=True, is_video=True)
    simulate.group_message(instance=instance, from_phone="+12025550143", text="Hi all")
    simulate.group_update(instance=instance, action="join", participant="+12025550144")
    simulate.conversation_update(instance=instance, phone="+12025550142", unread_count=2, archived=True)

    kinds = [type(e).__name__ for e in recorded]
    assert kinds == [
        "InboundMessage",
        "InboundMessage",
        "CallEvent",
        "CallEvent",
        "InboundMessage",
        "GroupUpdate",
        "ConversationUpdate",
    ]
    inbound, stop, call, missed, group_msg, group_update, conversation = recorded
    assert (inbound.sender_phone, inbound.sender_name, inbound.text, inbound.is_group) == (
        "+12025550142",
        "Maria",
        "Hello",
        False,
    )
    assert stop.text == "STOP"
    assert (call.status, call.caller_phone, call.is_video) == ("offer", "+12025550142", False)
    assert (missed.status, missed.is_video) == ("missed", True)
    assert group_msg.is_group and group_msg.chat_id.endswith("@g.us")
    assert (group_msg.sender_phone, group_msg.group_name, group_msg.text) == ("+12025550143", "Sandbox team", "Hi all")
    assert group_update.action == "join" and group_update.participants == ("12025550144@s.whatsapp.net",)
    assert (conversation.phone, conversation.unread_count, conversation.archived) == ("+12025550142", 2, True)
    assert ProviderCallback.objects.filter(instance=instance, status="processed").count() >= 8


def test_simulate_disconnect_and_restart_reconnects(owner_alice):
    from whatsapp_gateway.instances.services import instance_restart

    instance = make_instance(owner_alice.account, connected=True)
    simulate.disconnect(instance=instance)
    instance.refresh_from_db()
    assert instance.state == InstanceState.DISCONNECTED
    assert Event.objects.filter(instance=instance, event_type="instance.disconnected").count() == 1

    instance = instance_restart(instance=instance)
    assert instance.state == InstanceState.CONNECTED
    assert instance.reconnects == 1


def test_simulations_need_a_connected_sandbox_phone(owner_alice):
    instance = make_instance(owner_alice.account)
    with pytest.raises(SandboxError):
        simulate.inbound(instance=instance, text="Hi")
