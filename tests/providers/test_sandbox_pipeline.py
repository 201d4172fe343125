"""End to end through the real pipeline: the send service queues, the sandbox sends, its receipts come back
through the callback route and move the message sent → delivered → read."""

from __future__ import annotations

from tests.factories import make_instance
from whatsapp_gateway.messaging.models import Message
from whatsapp_gateway.messaging.services import send_message
from whatsapp_gateway.providers.models import ProviderCallback
from whatsapp_gateway.providers.sandbox.phone import TEST_NUMBER_NOT_ON_WHATSAPP
from whatsapp_gateway.webhooks.models import Event


def test_a_sent_message_reaches_read_through_sandbox_callbacks(owner_alice, django_capture_on_commit_callbacks):
    instance = make_instance(owner_alice.account, name="support-line", connected=True)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = send_message(
            account=owner_alice.account,
            instance_ref="support-line",
            phone="+14155550111",
            text="Your order #1042 has shipped.",
            purpose="transactional",
            source="api",
        )

    message = Message.objects.get(public_id=outcome.message_id)
    assert message.status == "read"
    assert message.provider_message_id.startswith("SBX")
    assert ProviderCallback.objects.filter(instance=instance, body__contains=message.provider_message_id).count() == 3
    events = set(Event.objects.filter(instance=instance).values_list("event_type", flat=True))
    assert {"message.sent", "message.delivered", "message.read"} <= events


def test_a_send_to_the_not_on_whatsapp_test_number_fails(owner_alice, django_capture_on_commit_callbacks):
    make_instance(owner_alice.account, name="support-line", connected=True)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = send_message(
            account=owner_alice.account,
            instance_ref="support-line",
            phone=TEST_NUMBER_NOT_ON_WHATSAPP,
            text="Your order #1042 has shipped.",
            purpose="transactional",
            source="api",
        )

    message = Message.objects.get(public_id=outcome.message_id)
    assert message.status == "failed"
