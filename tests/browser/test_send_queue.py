"""The instance page shows its send queue paused by the circuit breaker, why a message waits, and the resume."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import time_machine
from playwright.sync_api import expect

from tests.factories import make_instance
from tests.fakes import retryable
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.messaging import policy, queue
from whatsapp_gateway.messaging.models import Message, SendLane
from whatsapp_gateway.messaging.services import send_message

ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR", Path(__file__).resolve().parents[2] / "artifacts"))


def test_a_paused_send_queue_shows_its_reason_and_its_resume(
    logged_in_page,
    base_url,
    owner_alice,
    fake_provider,
):
    page = logged_in_page
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    instance = make_instance(owner_alice.account, name="support-line", provider="fake", connected=True)
    fake_provider.script.extend([retryable("upstream 503")] * policy.BREAKER_FAILURES)
    ids = [
        send_message(
            account=owner_alice.account,
            instance_ref=instance,
            phone=f"+9665012345{n:02d}",
            text=f"Order {n} has shipped.",
            purpose="transactional",
            source="api",
        ).message_id
        for n in range(5)
    ]
    lane = SendLane.objects.get(instance=instance)
    while not lane.pause_code:  # the worker runs the lane whenever it is due
        with time_machine.travel(max(lane.wakeup_at or now(), now()), tick=False):
            queue.lane_run(instance_id=instance.pk)
        lane.refresh_from_db()

    page.goto(f"{base_url}/instances/{instance.public_id}/manage?tab=logs")
    status = page.get_by_test_id("queue-status")
    expect(status).to_contain_text("Send queue paused")
    expect(status).to_contain_text("3 sends to 3 recipients failed in a row")
    expect(status).to_contain_text("Next probe")
    page.screenshot(path=str(ARTIFACTS / "send-queue-paused.png"), full_page=True)

    page.goto(f"{base_url}/messages/{ids[3]}")
    expect(page.get_by_test_id("wait-reason")).to_contain_text("paused because the provider is failing")
    page.screenshot(path=str(ARTIFACTS / "send-queue-message-waits.png"), full_page=True)

    # The provider answers again: the probe goes at its time and the queue resumes.
    lane = SendLane.objects.get(instance=instance)
    with time_machine.travel(lane.probe_at + dt.timedelta(seconds=1), tick=False):
        assert queue.lane_run(instance_id=instance.pk) == "sent"
    page.goto(f"{base_url}/instances/{instance.public_id}/manage?tab=logs")
    expect(page.get_by_test_id("queue-status")).to_contain_text("Send queue running")
    assert Message.objects.filter(public_id__in=ids, status="sent").count() == 1
    page.screenshot(path=str(ARTIFACTS / "send-queue-resumed.png"), full_page=True)
