"""The Webhook tab: configure, secret shown once, rotation, test event shown inline, roles, isolation."""

from __future__ import annotations

from tests.isolation import assert_other_account_gets_404
from whatsapp_gateway.accounts.models import AuditLog
from whatsapp_gateway.webhooks.catalogue import EVENT_TYPES, GROUPS, RECOMMENDED_EVENTS
from whatsapp_gateway.webhooks.models import Delivery, Endpoint


def tab_url(instance) -> str:
    return f"/instances/{instance.public_id}/manage?tab=webhook"


def save(client, instance, url, events, enabled=True):
    data = {"action": "save", "destination_url": url, "events": events}
    if enabled:
        data["is_enabled"] = "on"
    return client.post(tab_url(instance), data)


def test_the_tab_groups_every_event_and_preselects_the_recommended_ones(alice_client, alice_sandbox_instance):
    html = alice_client.get(tab_url(alice_sandbox_instance)).content.decode()
    for group in GROUPS:
        assert group in html
    for spec in EVENT_TYPES:
        checked = f'value="{spec.name}" checked' in html
        assert checked == (spec.name in RECOMMENDED_EVENTS), spec.name


def test_saving_creates_the_endpoint_and_shows_the_secret_once(alice_client, alice_sandbox_instance, httpserver):
    url = httpserver.url_for("/hook")
    response = save(alice_client, alice_sandbox_instance, url, ["message.received", "message.failed"])
    assert response.status_code == 302
    endpoint = Endpoint.objects.get(instance=alice_sandbox_instance)
    assert endpoint.url == url and endpoint.events == ["message.failed", "message.received"]
    first = alice_client.get(tab_url(alice_sandbox_instance)).content.decode()
    assert endpoint.secret in first and 'data-testid="webhook-secret"' in first
    second = alice_client.get(tab_url(alice_sandbox_instance)).content.decode()
    assert endpoint.secret not in second
    assert AuditLog.objects.filter(action="webhook.created", target_id=endpoint.public_id).exists()


def test_the_secret_is_encrypted_at_rest(alice_client, alice_sandbox_instance, httpserver):
    from django.db import connection

    save(alice_client, alice_sandbox_instance, httpserver.url_for("/hook"), ["message.received"])
    endpoint = Endpoint.objects.get()
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret, url FROM webhooks_endpoint WHERE id = %s", [endpoint.pk])
        raw_secret, raw_url = cursor.fetchone()
    assert endpoint.secret.startswith("whsec_") and "whsec_" not in raw_secret
    assert "127.0.0.1" not in raw_url


def test_an_unsafe_url_is_rejected_in_the_form(alice_client, alice_sandbox_instance, settings):
    settings.GATEWAY_ALLOW_PRIVATE_WEBHOOKS = False
    for url in ("http://example.com/hook", "https://169.254.169.254/latest", "https://user:pw@example.com/"):
        response = save(alice_client, alice_sandbox_instance, url, ["message.received"])
        assert response.status_code == 200
        assert "errorlist" in response.content.decode()
    assert not Endpoint.objects.exists()


def test_updating_changes_events_and_can_turn_it_off(alice_client, alice_sandbox_instance, httpserver):
    url = httpserver.url_for("/hook")
    save(alice_client, alice_sandbox_instance, url, ["message.received"])
    save(alice_client, alice_sandbox_instance, url, ["message.read"], enabled=False)
    endpoint = Endpoint.objects.get()
    assert endpoint.events == ["message.read"] and not endpoint.is_enabled
    assert AuditLog.objects.filter(action="webhook.updated").exists()


def test_rotating_shows_a_new_secret_once_and_keeps_the_old_one_for_24_hours(
    alice_client, alice_sandbox_instance, httpserver
):
    save(alice_client, alice_sandbox_instance, httpserver.url_for("/hook"), ["message.received"])
    old = Endpoint.objects.get().secret
    alice_client.get(tab_url(alice_sandbox_instance))
    alice_client.post(tab_url(alice_sandbox_instance), {"action": "rotate"})
    endpoint = Endpoint.objects.get()
    assert endpoint.secret != old and endpoint.previous_secret == old
    assert (endpoint.previous_secret_expires_at - endpoint.secret_rotated_at).total_seconds() == 24 * 3600
    html = alice_client.get(tab_url(alice_sandbox_instance)).content.decode()
    assert endpoint.secret in html and old not in html
    assert "still signs until" in html
    assert AuditLog.objects.filter(action="webhook.secret_rotated").exists()


def test_send_test_event_shows_the_response_inline(alice_client, alice_sandbox_instance, httpserver):
    httpserver.expect_request("/hook").respond_with_data('{"received": true}', status=202)
    save(alice_client, alice_sandbox_instance, httpserver.url_for("/hook"), ["message.received"])
    response = alice_client.post(tab_url(alice_sandbox_instance), {"action": "test"})
    assert response.status_code == 302
    html = alice_client.get(tab_url(alice_sandbox_instance)).content.decode()
    assert 'data-testid="webhook-test-result"' in html
    assert "202" in html and "received" in html and " ms" in html
    delivery = Delivery.objects.get(event_type="webhook.test")
    assert delivery.state == "sent"
    request, _ = httpserver.log[0]
    assert request.headers["X-WhatsApp-Gateway-Event"] == "webhook.test"


def test_a_failing_test_event_shows_the_error(alice_client, alice_sandbox_instance, httpserver):
    httpserver.expect_request("/hook").respond_with_data("kaputt", status=500)
    save(alice_client, alice_sandbox_instance, httpserver.url_for("/hook"), ["message.received"])
    alice_client.post(tab_url(alice_sandbox_instance), {"action": "test"})
    html = alice_client.get(tab_url(alice_sandbox_instance)).content.decode()
    assert "500" in html and "kaputt" in html
    assert Delivery.objects.get(event_type="webhook.test").state == "failed"  # no retries for a test


def test_members_see_the_tab_but_cannot_change_it(bob_client, alice_sandbox_instance, httpserver):
    assert bob_client.get(tab_url(alice_sandbox_instance)).status_code == 200
    response = save(bob_client, alice_sandbox_instance, httpserver.url_for("/hook"), ["message.received"])
    assert response.status_code == 403
    assert not Endpoint.objects.exists()


def test_another_account_gets_404(charlie_client, alice_sandbox_instance):
    assert_other_account_gets_404(charlie_client, tab_url(alice_sandbox_instance), methods=("get", "post"))
