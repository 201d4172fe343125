"""Operator controls wired into the product: the kill switch in the guard and the queue, instance pause/resume and
force-disconnect, policy-event review, and the dashboard's sections."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.factories import make_instance, record_usage
from tests.messaging.conftest import body
from whatsapp_gateway.accounts.models import AuditLog
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.messaging import queue
from whatsapp_gateway.messaging.models import Message, MessageStatus, PolicyEvent
from whatsapp_gateway.messaging.services import send_message
from whatsapp_gateway.operations.services import sending_set_enabled

pytestmark = pytest.mark.django_db


def _queue_one(account, instance, text="Your order has shipped."):
    outcome = send_message(
        account=account, instance_ref=instance, phone="+966501234567", text=text, purpose="transactional", source="api"
    )
    return Message.objects.get(public_id=outcome.message_id)


def test_the_api_refuses_every_send_while_the_kill_switch_is_off(alice_api, alice_fake_instance, owner_alice):
    sending_set_enabled(enabled=False, reason="provider incident")
    response = alice_api.send(body())
    assert response.status_code == 503
    assert response.json()["error"] == "sending_disabled"
    assert response["Retry-After"] == "300"
    logged = Message.objects.get(account=owner_alice.account)
    assert logged.status == MessageStatus.BLOCKED and logged.block_code == "sending_disabled"
    assert fake_sent_nothing(alice_fake_instance)


def fake_sent_nothing(instance) -> bool:
    return not Message.objects.filter(instance=instance, status__in=["sending", "sent"]).exists()


def test_the_kill_switch_runs_after_authentication(alice_api, alice_fake_instance):
    from tests.messaging.conftest import ApiClient

    sending_set_enabled(enabled=False)
    assert ApiClient("wg_live_not-a-key").send(body()).json()["error"] == "invalid_api_key"


def test_queued_messages_wait_while_sending_is_off_and_go_in_order_after(
    owner_alice, alice_fake_instance, fake_provider
):
    first = _queue_one(owner_alice.account, alice_fake_instance, text="first")
    _queue_one(owner_alice.account, alice_fake_instance, text="second")
    sending_set_enabled(enabled=False, reason="incident")
    assert queue.lane_run(instance_id=alice_fake_instance.pk) == "unavailable"
    assert fake_provider.sent == []
    sending_set_enabled(enabled=True)
    assert queue.lane_run(instance_id=alice_fake_instance.pk) == "sent"
    assert [s["text"] for s in fake_provider.sent] == ["first"]
    first.refresh_from_db()
    assert first.status == MessageStatus.SENT


def test_sends_are_counted_in_metrics_by_outcome_and_code(alice_api, alice_fake_instance):
    from whatsapp_gateway.lib.metrics import SENDS

    def value(outcome, code):
        return SENDS.labels(outcome=outcome, code=code, source="api")._value.get()

    accepted, suppressed = value("accepted", ""), value("blocked", "message_purpose_not_allowed")
    alice_api.send(body())
    alice_api.send(body(message_purpose="marketing"))
    assert value("accepted", "") == accepted + 1
    assert value("blocked", "message_purpose_not_allowed") == suppressed + 1


def test_an_operator_pauses_and_resumes_an_instance_from_the_admin(operator_client, owner_alice):
    instance = make_instance(owner_alice.account, name="line-1", connected=True)
    url = "/admin/instances/instance/"
    operator_client.post(url, {"action": "pause_instances", "_selected_action": [instance.pk]})
    instance.refresh_from_db()
    assert instance.is_paused
    response = send_attempt(owner_alice, instance)
    assert response == "account_paused"
    operator_client.post(url, {"action": "resume_instances", "_selected_action": [instance.pk]})
    instance.refresh_from_db()
    assert not instance.is_paused
    actions = set(AuditLog.objects.filter(target_id=instance.public_id).values_list("action", flat=True))
    assert {"operator.instance_paused", "operator.instance_resumed"} <= actions


def send_attempt(membership, instance) -> str:
    from whatsapp_gateway.lib import errors

    try:
        send_message(
            account=membership.account,
            instance_ref=instance,
            phone="+966501234567",
            text="Your code is 1234",
            purpose="authentication",
            source="api",
        )
    except errors.GatewayError as exc:
        return str(exc.code)
    return "queued"


def test_an_operator_pausing_an_account_holds_its_queue_and_resuming_sends_it_in_order(
    operator_client, owner_alice, alice_fake_instance, fake_provider, django_capture_on_commit_callbacks
):
    account = owner_alice.account
    first = _queue_one(account, alice_fake_instance, text="first")
    _queue_one(account, alice_fake_instance, text="second")
    url = "/admin/accounts/account/"
    operator_client.post(url, {"action": "pause", "_selected_action": [account.pk], "index": 0})
    account.refresh_from_db()
    # Already-queued messages wait too (not only new sends are refused).
    assert queue.lane_run(instance_id=alice_fake_instance.pk) == "unavailable"
    assert send_attempt(owner_alice, alice_fake_instance) == "account_paused"
    assert fake_provider.sent == []
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        operator_client.post(url, {"action": "resume", "_selected_action": [account.pk], "index": 0})
    assert callbacks  # the resume woke the account's lanes (run at once here: Huey is immediate in tests)
    assert [s["text"] for s in fake_provider.sent] == ["first"]  # the next one follows after the pacing gap
    first.refresh_from_db()
    assert first.status == MessageStatus.SENT


def test_unpausing_an_account_in_its_change_form_wakes_its_queue(
    operator_client, owner_alice, alice_fake_instance, fake_provider, django_capture_on_commit_callbacks
):
    from tests.accounts.test_admin import account_change_data

    account = owner_alice.account
    _queue_one(account, alice_fake_instance, text="waiting")
    account.is_paused = True
    account.paused_reason = "Billing"
    account.save()
    assert queue.lane_run(instance_id=alice_fake_instance.pk) == "unavailable"
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(
            f"/admin/accounts/account/{account.pk}/change/", account_change_data(account, paused_reason="")
        )
    assert response.status_code == 302
    account.refresh_from_db()
    assert not account.is_paused
    assert [s["text"] for s in fake_provider.sent] == ["waiting"]


def test_an_operator_adjusts_a_plan_limit_and_the_next_send_obeys_it(
    operator_client, owner_alice, alice_api, alice_fake_instance
):
    account = owner_alice.account
    account.timezone = "UTC"
    account.save()
    plan = account.plan
    record_usage(account=account, instance=alice_fake_instance, day=now().astimezone(dt.UTC).date(), count=5)

    def set_daily_limit(limit: int) -> None:
        data = {
            "name": plan.name,
            "code": plan.code,
            "daily_limit": limit,
            "monthly_limit": plan.monthly_limit,
            "max_instances": plan.max_instances,
        }
        if plan.is_custom:
            data["is_custom"] = "on"
        assert operator_client.post(f"/admin/accounts/plan/{plan.pk}/change/", data).status_code == 302

    set_daily_limit(5)
    refused = alice_api.send(body())
    assert refused.status_code == 429
    assert refused.json()["error"] == "daily_limit_reached"
    assert refused.json()["details"] == {"limit": 5, "used": 5}
    set_daily_limit(6)
    assert alice_api.send(body()).status_code == 202


def test_an_operator_force_disconnects_an_instance(operator_client, owner_alice):
    instance = make_instance(owner_alice.account, name="line-1", connected=True)
    assert instance.state == "connected"
    operator_client.post(
        "/admin/instances/instance/", {"action": "force_disconnect_instances", "_selected_action": [instance.pk]}
    )
    instance.refresh_from_db()
    assert instance.state == "logged_out"
    assert AuditLog.objects.filter(action="operator.instance_disconnected", target_id=instance.public_id).exists()


def test_policy_events_are_listed_with_their_reasons_for_review(operator_client, owner_alice, alice_fake_instance):
    message = _queue_one(owner_alice.account, alice_fake_instance)
    PolicyEvent.objects.create(
        account=owner_alice.account,
        instance=alice_fake_instance,
        message=message,
        action="review",
        risk_score=60,
        reasons=["marketing_language (+30): 'offer'", "link_shortener (+30): the text uses a link shortener"],
    )
    html = operator_client.get("/admin/messaging/policyevent/?action__exact=review").content.decode()
    assert "link_shortener (+30)" in html
    assert operator_client.get("/admin/messaging/policyevent/add/").status_code == 403
    dashboard = operator_client.get("/admin/operations/dashboard/").content.decode()
    assert "Recent policy events" in dashboard and "marketing_language" in dashboard


def test_the_dashboard_counts_blocked_sends_by_code_over_24_hours(operator_client, alice_api, alice_fake_instance):
    alice_api.send(body(message_purpose="marketing"))
    alice_api.send(body(message_purpose="marketing"))
    alice_api.send(body(instance_id="nope"))
    alice_api.send(body())
    html = operator_client.get("/admin/operations/dashboard/").content.decode()
    assert "1 accepted, 3 blocked" in html
    assert "<code>message_purpose_not_allowed</code></td><td>2</td>" in html
    assert "<code>invalid_instance</code></td><td>1</td>" in html


def test_the_dashboard_lists_failing_webhook_endpoints_and_queue_backlog(
    operator_client, owner_alice, alice_fake_instance
):
    from whatsapp_gateway.lib.clock import now
    from whatsapp_gateway.webhooks.models import Endpoint

    Endpoint.objects.create(
        account=owner_alice.account,
        instance=alice_fake_instance,
        url="https://receiver.example.com/hook",
        events=["message.sent"],
        failing_since=now(),
    )
    _queue_one(owner_alice.account, alice_fake_instance)
    html = operator_client.get("/admin/operations/dashboard/").content.decode()
    assert "Failing webhook endpoints" in html and "retrying" in html
    assert "outbound_messages</td><td>1</td>" in html


def test_queue_depth_is_exported_per_queue(client, owner_alice, alice_fake_instance, settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    _queue_one(owner_alice.account, alice_fake_instance)
    text = client.get("/metrics").content.decode()
    assert 'gateway_queue_depth{queue="outbound_messages"} 1.0' in text
    for name in ("webhook_deliveries", "threecx_deliveries", "provider_callbacks", "outbound_in_flight"):
        assert f'gateway_queue_depth{{queue="{name}"}}' in text
