"""Retention: bodies redacted after GATEWAY_RETENTION_BODY_DAYS, rows deleted after GATEWAY_RETENTION_METADATA_DAYS."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.management import call_command

from tests.inbound.helpers import deliver, text_event
from whatsapp_gateway.contacts.models import Contact, Conversation
from whatsapp_gateway.inbound.models import InboundMessage
from whatsapp_gateway.lib import retention
from whatsapp_gateway.suppression.models import Suppression

T0 = dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC)


def at(days):
    return T0 + dt.timedelta(days=days)


@pytest.fixture
def history(alice_bare_instance):
    """Messages at day 0, day 100 and day 340; the job then runs on day 400."""
    with time_machine.travel(at(0), tick=False):
        deliver(
            alice_bare_instance,
            text_event("old order question", phone="+966512345678", message_type="image", metadata={"caption": "x"}),
        )
        deliver(alice_bare_instance, text_event("STOP", phone="+966512345670"))
    with time_machine.travel(at(100), tick=False):
        deliver(alice_bare_instance, text_event("middle", phone="+966512345679"))
    with time_machine.travel(at(340), tick=False):
        deliver(alice_bare_instance, text_event("recent", phone="+966512345679"))
        deliver(alice_bare_instance, text_event("fresh", phone="+966512345671"))


def test_the_daily_job_redacts_old_bodies_and_deletes_old_rows(history):
    with time_machine.travel(at(400), tick=False):
        results = retention.retention_run()

    assert results["inbound_messages"]["deleted"] == 2  # day 0 (older than 365 days)
    assert results["inbound_messages"]["redacted"] == 3  # day 100 and day 340 (older than 30 days)
    texts = dict(InboundMessage.objects.values_list("received_at", "text"))
    assert set(texts.values()) == {""}
    assert all(m.body_redacted_at is not None and m.metadata == {} for m in InboundMessage.objects.all())
    assert "[redacted" in InboundMessage.objects.first().preview
    # the idle conversations of the deleted rows go; contacts and the opt-out stay (suppression needs them)
    assert set(Conversation.objects.values_list("contact__phone_e164", flat=True)) == {"+966512345679", "+966512345671"}
    assert Contact.objects.filter(phone_e164="+966512345670").exists()
    assert Suppression.objects.filter(phone_e164="+966512345670", removed_at__isnull=True).exists()


def test_recent_messages_are_untouched(history):
    with time_machine.travel(at(350), tick=False):
        retention.retention_run()
    assert InboundMessage.objects.get(text="fresh").body_redacted_at is None
    assert InboundMessage.objects.filter(text="middle").count() == 0  # day 100 is past 30 days: redacted
    assert InboundMessage.objects.count() == 5


def test_running_twice_changes_nothing_more(history):
    with time_machine.travel(at(400), tick=False):
        retention.retention_run()
        again = retention.retention_run()
    assert again["inbound_messages"] == {"redacted": 0, "deleted": 0, "conversations_deleted": 0}


def test_the_periods_are_configurable(history, settings):
    settings.GATEWAY_RETENTION_BODY_DAYS = 400
    settings.GATEWAY_RETENTION_METADATA_DAYS = 200
    with time_machine.travel(at(400), tick=False):
        results = retention.retention_run()
    assert results["inbound_messages"]["deleted"] == 3 and results["inbound_messages"]["redacted"] == 0
    assert set(InboundMessage.objects.values_list("text", flat=True)) == {"recent", "fresh"}


def test_every_registered_purger_runs_and_one_failure_does_not_stop_the_others(settings):
    calls = []

    def good(*, body_cutoff, metadata_cutoff):
        calls.append((body_cutoff, metadata_cutoff))
        return {"deleted": 1}

    def bad(*, body_cutoff, metadata_cutoff):
        raise RuntimeError("disk full")

    retention.register_purger("test_good", good)
    retention.register_purger("test_bad", bad)
    try:
        with time_machine.travel(at(400), tick=False):
            results = retention.retention_run()
    finally:
        retention._PURGERS.pop("test_good")
        retention._PURGERS.pop("test_bad")
    assert results["test_good"] == {"deleted": 1} and results["test_bad"] == {"error": 1}
    assert calls == [(at(370), at(35))]
    assert "inbound_messages" in results


def test_the_periodic_task_runs_the_job(history):
    from whatsapp_gateway.inbound.tasks import retention_daily_task

    with time_machine.travel(at(400), tick=False):
        retention_daily_task.call_local()
    assert InboundMessage.objects.count() == 3


def test_the_management_command_runs_it_now(history, capsys):
    with time_machine.travel(at(400), tick=False):
        call_command("retention_purge")
    out = capsys.readouterr().out
    assert "bodies 30 days, metadata 365 days" in out and '"deleted": 2' in out


def test_bad_periods_are_refused():
    with pytest.raises(ValueError):
        retention.retention_cutoffs(at=T0, body_days=0, metadata_days=365)
