"""The operator's kill switch and the operations dashboard."""

from __future__ import annotations

import pytest

from tests.factories import make_operator
from whatsapp_gateway.accounts.models import AuditLog
from whatsapp_gateway.lib import errors
from whatsapp_gateway.operations.killswitch import sending_check, sending_is_enabled
from whatsapp_gateway.operations.services import sending_set_enabled


@pytest.fixture
def operator(db):
    return make_operator("ops@example.com")


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


def test_sending_is_enabled_until_the_operator_turns_it_off(db, operator):
    assert sending_is_enabled()
    sending_check()
    sending_set_enabled(enabled=False, actor=operator, reason="provider incident")
    assert not sending_is_enabled()
    with pytest.raises(errors.SendingDisabled) as caught:
        sending_check()
    assert caught.value.status == 503
    assert caught.value.code == "sending_disabled"
    entry = AuditLog.objects.get(action="operator.sending_disabled")
    assert entry.actor == operator and entry.metadata == {"reason": "provider incident"}
    sending_set_enabled(enabled=True, actor=operator)
    assert sending_is_enabled()
    assert AuditLog.objects.filter(action="operator.sending_enabled").count() == 1


def test_the_dashboard_is_for_staff_only(client, alice_client, db):
    assert client.get("/admin/operations/dashboard/").status_code == 302  # to the admin login
    assert alice_client.get("/admin/operations/dashboard/").status_code == 302


def test_the_dashboard_shows_instances_by_state_and_the_job_broker(operator_client, owner_alice):
    from whatsapp_gateway.instances.models import Instance

    Instance.objects.create(account=owner_alice.account, name="line-1", state="connected")
    owner_alice.account.is_paused = True
    owner_alice.account.paused_reason = "Use-case review"
    owner_alice.account.save()
    html = operator_client.get("/admin/operations/dashboard/").content.decode()
    assert "Instances by state (1)" in html
    assert "connected" in html
    assert "job broker (Huey)" in html
    assert "Use-case review" in html
    assert "Stop all outbound sending" in html


def test_an_operator_stops_and_resumes_sending_from_the_dashboard(operator_client):
    response = operator_client.post("/admin/operations/kill-switch/", {"enabled": "", "reason": "incident 42"})
    assert response.status_code == 302
    assert not sending_is_enabled()
    html = operator_client.get("/admin/operations/dashboard/").content.decode()
    assert "DISABLED" in html and "incident 42" in html
    operator_client.post("/admin/operations/kill-switch/", {"enabled": "on"})
    assert sending_is_enabled()


def test_the_kill_switch_form_needs_a_csrf_token(operator):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(operator)
    assert csrf_client.post("/admin/operations/kill-switch/", {"enabled": ""}).status_code == 403
    assert sending_is_enabled()


def test_the_operator_settings_admin_edits_the_one_row_through_the_service(operator_client):
    response = operator_client.get("/admin/operations/operatorsettings/")
    assert response.status_code == 302
    change_url = response["Location"]
    response = operator_client.post(change_url, {"sending_enabled": "", "sending_disabled_reason": "maintenance"})
    assert response.status_code == 302
    assert not sending_is_enabled()
    assert AuditLog.objects.filter(action="operator.sending_disabled").exists()


def test_the_admin_index_links_the_dashboard(operator_client):
    assert "/admin/operations/dashboard/" in operator_client.get("/admin/").content.decode()
