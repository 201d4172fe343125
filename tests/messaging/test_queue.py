"""The outbound queue: claim, pacing, retries, final failure, reconciliation, and the status lifecycle."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from tests.fakes import permanent, retryable
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.messaging import policy, queue
from whatsapp_gateway.messaging.lifecycle import message_status_callback
from whatsapp_gateway.messaging.models import Message, MessageStatus, SendLane
from whatsapp_gateway.messaging.services import message_record_from_phone, send_message
from whatsapp_gateway.providers.base import InboundMessage, MessageStatusUpdate
from whatsapp_gateway.webhooks.models import Event

pytestmark = pytest.mark.django_db


def queue_one(account, instance, phone="+966501234567", text="Your order has shipped.", **kw):
    outcome = send_message(
        account=account, instance_ref=instance, phone=phone, text=text, purpose="transactional", source="api", **kw
    )
    return Message.objects.get(public_id=outcome.message_id)


def events(event_type):
    return [e.payload for e in Event.objects.filter(event_type=event_type).order_by("id")]


def test_lane_sends_the_oldest_queued_message_and_records_the_provider_id(
    owner_alice, alice_fake_instance, fake_provider
):
    first = queue_one(owner_alice.account, alice_fake_instance)
    queue_one(owner_alice.account, alice_fake_instance, phone="+966501234568")
    assert queue.lane_run(instance_id=alice_fake_instance.pk) == "sent"
    first.refresh_from_db()
    assert first.status == MessageStatus.SENT and first.provider_message_id.startswith("fake-")
    assert [s["to"] for s in fake_provider.sent] == ["+966501234567"]
    assert fake_provider.sent[0]["typing_ms"] >= policy.TYPING_MIN_MS
    sent = events("message.sent")
    assert sent[0]["message_id"] == first.public_id and sent[0]["previous_status"] == "sending"
    assert sent[0]["log_id"] == first.log_id and sent[0]["phone"] == "+966501234567"


def test_the_next_message_waits_for_the_pacing_gap(owner_alice, alice_fake_instance, fake_provider):
    queue_one(owner_alice.account, alice_fake_instance)
    second = queue_one(owner_alice.account, alice_fake_instance, phone="+966501234568")
    queue.lane_run(instance_id=alice_fake_instance.pk)
    assert queue.lane_run(instance_id=alice_fake_instance.pk) == "waiting"
    lane = SendLane.objects.get(instance=alice_fake_instance)
    gap = (lane.next_send_at - now()).total_seconds()
    assert policy.PACING_MIN_GAP_SECONDS - 1 <= gap <= policy.PACING_MIN_GAP_SECONDS + policy.PACING_MAX_JITTER_SECONDS
    with time_machine.travel(now() + dt.timedelta(seconds=6), tick=False):
        assert queue.lane_run(instance_id=alice_fake_instance.pk) == "sent"
    second.refresh_from_db()
    assert second.status == MessageStatus.SENT


def test_a_lane_with_a_message_in_flight_sends_nothing_else(owner_alice, alice_fake_instance, fake_provider):
    message = queue_one(owner_alice.account, alice_fake_instance)
    SendLane.objects.update_or_create(
        instance=alice_fake_instance, defaults={"in_flight": message, "in_flight_since": now()}
    )
    assert queue.lane_run(instance_id=alice_fake_instance.pk) == "busy"
    assert fake_provider.sent == []


def test_two_consumers_racing_for_one_message_send_it_once(owner_alice, alice_fake_instance, fake_provider):
    message = queue_one(owner_alice.account, alice_fake_instance)
    # Both workers read the same queue head; only the conditional UPDATE decides who sends.
    assert queue._send_one(alice_fake_instance, message.pk) == "sent"
    assert queue._send_one(alice_fake_instance, message.pk) == "lost_claim"
    assert len(fake_provider.sent) == 1


def test_retryable_errors_back_off_then_fail_for_good(owner_alice, alice_fake_instance, fake_provider):
    message = queue_one(owner_alice.account, alice_fake_instance)
    fake_provider.script.extend([retryable()] * policy.SEND_MAX_ATTEMPTS)
    moment = now()
    for attempt in range(1, policy.SEND_MAX_ATTEMPTS + 1):
        with time_machine.travel(moment, tick=False):
            result = queue.lane_run(instance_id=alice_fake_instance.pk)
        message.refresh_from_db()
        if attempt < policy.SEND_MAX_ATTEMPTS:
            assert result == "retry" and message.status == MessageStatus.QUEUED
            backoff = policy.SEND_RETRY_BACKOFF_SECONDS[min(attempt - 1, len(policy.SEND_RETRY_BACKOFF_SECONDS) - 1)]
            assert message.next_attempt_at == moment + dt.timedelta(seconds=backoff)
            moment = message.next_attempt_at + dt.timedelta(seconds=6)
        else:
            assert result == "failed"
    assert message.status == MessageStatus.FAILED and message.error_code == "provider_unavailable"
    assert len(fake_provider.sent) == policy.SEND_MAX_ATTEMPTS
    failed = events("message.failed")
    assert len(failed) == 1 and failed[0]["error_code"] == "provider_unavailable"


def test_a_permanent_error_fails_at_once_with_code_and_message(owner_alice, alice_fake_instance, fake_provider):
    message = queue_one(owner_alice.account, alice_fake_instance)
    fake_provider.script.append(permanent())
    assert queue.lane_run(instance_id=alice_fake_instance.pk) == "failed"
    message.refresh_from_db()
    assert (message.status, message.error_code, message.error_message) == (
        "failed",
        "not_on_whatsapp",
        "not on WhatsApp",
    )
    assert events("message.failed")[0]["error_message"] == "not on WhatsApp"
    assert events("message.status_updated")[-1]["status"] == "failed"


def deliver(instance, message, status, **extra):
    message.refresh_from_db()
    message_status_callback(
        instance, MessageStatusUpdate(provider_message_id=message.provider_message_id, status=status, **extra)
    )
    message.refresh_from_db()
    return message.status


def test_callbacks_move_status_forward_and_never_back(owner_alice, alice_fake_instance, fake_provider):
    message = queue_one(owner_alice.account, alice_fake_instance)
    fake_provider.script.append("accepted")
    assert queue.lane_run(instance_id=alice_fake_instance.pk) == "accepted"
    assert deliver(alice_fake_instance, message, "read") == "read"
    assert deliver(alice_fake_instance, message, "delivered") == "read"
    assert deliver(alice_fake_instance, message, "sent") == "read"
    assert deliver(alice_fake_instance, message, "failed") == "read"
    # The skipped statuses are implied (every read message was sent and delivered), each event exactly once.
    assert [e["status"] for e in events("message.status_updated")] == ["sending", "sent", "delivered", "read"]
    assert len(events("message.sent")) == 1 and len(events("message.delivered")) == 1
    assert [h.get("note", "") for h in message.history][-3:] == ["implied by read", "implied by read", ""]
    assert message.delivered_at is not None and message.sent_at is not None


def test_full_lifecycle_emits_each_event(owner_alice, alice_fake_instance, fake_provider):
    message = queue_one(owner_alice.account, alice_fake_instance)
    queue.lane_run(instance_id=alice_fake_instance.pk)
    deliver(alice_fake_instance, message, "delivered")
    deliver(alice_fake_instance, message, "read")
    assert [e["status"] for e in events("message.status_updated")] == ["sending", "sent", "delivered", "read"]
    assert len(events("message.delivered")) == 1 and len(events("message.read")) == 1
    assert [h["status"] for h in message.history] == ["queued", "sending", "sent", "delivered", "read"]


def test_a_status_that_arrives_before_the_send_finished_is_applied_later(
    owner_alice, alice_fake_instance, fake_provider
):
    message = queue_one(owner_alice.account, alice_fake_instance)
    message_status_callback(
        alice_fake_instance, MessageStatusUpdate(provider_message_id="fake-early", status="delivered")
    )
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.SENDING)
    from whatsapp_gateway.providers.base import SendResult

    queue._send_accepted(message.pk, SendResult(provider_message_id="fake-early", status="sent"))
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED


def test_a_crash_after_the_provider_accepted_is_reconciled_not_resent(owner_alice, alice_fake_instance, fake_provider):
    message = queue_one(owner_alice.account, alice_fake_instance)
    # The worker claimed the lane and the message, the provider accepted it, then the worker died.
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.SENDING, claimed_at=now(), attempts=1)
    SendLane.objects.update_or_create(
        instance=alice_fake_instance, defaults={"in_flight": message, "in_flight_since": now()}
    )
    fake_provider.history.append(
        InboundMessage(
            provider_message_id="wamid-1", chat_id="966501234567@s.whatsapp.net", from_me=True, text=message.text
        )
    )
    with time_machine.travel(now() + dt.timedelta(minutes=3), tick=False):
        counts = queue.sweep()
    message.refresh_from_db()
    assert counts["reconciled"] == 1 and counts["released"] == 1
    assert message.status == MessageStatus.SENT and message.provider_message_id == "wamid-1"
    assert fake_provider.sent == []


def test_a_worker_killed_before_the_provider_call_is_requeued_and_sent_once(
    owner_alice, alice_fake_instance, fake_provider, monkeypatch
):
    """The claim committed, then the worker died before calling the provider: a provider whose history lists every
    send proves it never saw the message, so the sweep puts it back at the head of the queue and it goes out once."""
    monkeypatch.setattr(type(fake_provider), "sent_history_is_complete", True)
    message = queue_one(owner_alice.account, alice_fake_instance)
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.SENDING, claimed_at=now(), attempts=1)
    SendLane.objects.update_or_create(
        instance=alice_fake_instance, defaults={"in_flight": message, "in_flight_since": now()}
    )
    with time_machine.travel(now() + dt.timedelta(minutes=3), tick=False):
        counts = queue.sweep()  # re-queues, then wakes the lane (tests run jobs eagerly: it sends at once)
    message.refresh_from_db()
    assert counts["requeued"] == 1 and counts["released"] == 1 and counts["unknown_failed"] == 0
    assert counts["woken"] == 1
    notes = [(h["status"], h.get("note", "")) for h in message.history]
    assert [status for status, _ in notes][-3:] == ["queued", "sending", "sent"]
    assert "re-queued" in notes[-3][1]
    assert message.status == MessageStatus.SENT and len(fake_provider.sent) == 1


def test_without_a_complete_history_an_interrupted_send_is_not_requeued(
    owner_alice, alice_fake_instance, fake_provider
):
    message = queue_one(owner_alice.account, alice_fake_instance)
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.SENDING, claimed_at=now(), attempts=1)
    SendLane.objects.update_or_create(
        instance=alice_fake_instance, defaults={"in_flight": message, "in_flight_since": now()}
    )
    with time_machine.travel(now() + dt.timedelta(minutes=3), tick=False):
        counts = queue.sweep()
    message.refresh_from_db()
    assert counts["requeued"] == 0 and message.status == MessageStatus.SENDING
    assert fake_provider.sent == []


def test_a_send_with_unknown_outcome_fails_without_a_resend(owner_alice, alice_fake_instance, fake_provider):
    message = queue_one(owner_alice.account, alice_fake_instance)
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.SENDING, claimed_at=now(), attempts=1)
    with time_machine.travel(now() + dt.timedelta(minutes=policy.SEND_OUTCOME_UNKNOWN_AFTER_MINUTES + 1), tick=False):
        counts = queue.sweep()
    message.refresh_from_db()
    assert counts["unknown_failed"] == 1
    assert message.status == MessageStatus.FAILED and message.error_code == "send_outcome_unknown"
    assert fake_provider.sent == []


def test_the_phone_echo_of_an_unknown_send_reconciles_it(owner_alice, alice_fake_instance, fake_provider):
    message = queue_one(owner_alice.account, alice_fake_instance)
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.SENDING, claimed_at=now(), attempts=1)
    recorded = message_record_from_phone(
        instance=alice_fake_instance,
        to_phone="966501234567@s.whatsapp.net",
        text=message.text,
        provider_message_id="wamid-9",
        occurred_at=now(),
    )
    assert recorded.pk == message.pk
    recorded.refresh_from_db()
    assert recorded.status == MessageStatus.SENT and recorded.provider_message_id == "wamid-9"


def test_sweep_wakes_lanes_whose_job_was_lost(owner_alice, alice_fake_instance, fake_provider, monkeypatch):
    """The send woke the lane in its own transaction, and its job never reached the job store (here: the test's
    transaction never commits, so the on-commit enqueue never runs). The sweep leaves a fresh wake-up alone and
    re-makes the job once the wake-up is older than WAKEUP_LOST_AFTER."""
    queue_one(owner_alice.account, alice_fake_instance)
    assert SendLane.objects.get(instance=alice_fake_instance).wakeup_at is not None
    woken = []
    monkeypatch.setattr(queue, "_enqueue", lambda instance_id, delay=0: woken.append(instance_id))
    assert queue.sweep()["woken"] == 0
    with time_machine.travel(now() + queue.WAKEUP_LOST_AFTER + dt.timedelta(seconds=1), tick=False):
        assert queue.sweep()["woken"] == 1
    assert woken == [alice_fake_instance.pk]


def test_messages_of_an_offline_instance_wait_then_expire(owner_alice, alice_fake_instance, fake_provider):
    message = queue_one(owner_alice.account, alice_fake_instance)
    alice_fake_instance.state = "disconnected"
    alice_fake_instance.save()
    assert queue.lane_run(instance_id=alice_fake_instance.pk) == "unavailable"
    with time_machine.travel(now() + dt.timedelta(hours=policy.QUEUE_EXPIRY_HOURS, minutes=1), tick=False):
        queue.sweep()
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED and message.error_code == "expired"


def test_messages_sent_from_the_phone_are_recorded_once_as_outbound(owner_alice, alice_fake_instance):
    first = message_record_from_phone(
        instance=alice_fake_instance,
        to_phone="+966501112222",
        text="Hi from the shop",
        provider_message_id="p-1",
        occurred_at=now(),
    )
    again = message_record_from_phone(
        instance=alice_fake_instance,
        to_phone="+966501112222",
        text="Hi from the shop",
        provider_message_id="p-1",
        occurred_at=now(),
    )
    assert first.pk == again.pk
    assert first.source == "phone" and first.status == "sent" and not first.counted
    from whatsapp_gateway.contacts.models import Conversation

    conversation = Conversation.objects.get(instance=alice_fake_instance)
    assert conversation.outbound_count == 1 and conversation.last_outbound_at is not None


def test_sent_messages_update_the_conversation(owner_alice, alice_fake_instance, fake_provider):
    queue_one(owner_alice.account, alice_fake_instance)
    queue.lane_run(instance_id=alice_fake_instance.pk)
    from whatsapp_gateway.contacts.models import Conversation

    conversation = Conversation.objects.get(instance=alice_fake_instance, contact__phone_e164="+966501234567")
    assert conversation.outbound_count == 1
