from __future__ import annotations

import pytest

PORTAL_AREAS = [
    "/dashboard",
    "/instances",
    "/api-keys",
    "/messages",
    "/suppressed-recipients",
    "/inbound-logs",
    "/integrations/3cx",
    "/account/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("url", PORTAL_AREAS)
def test_anonymous_users_are_sent_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("url", PORTAL_AREAS)
def test_every_area_renders_for_a_member(bob_client, url):
    response = bob_client.get(url)
    assert response.status_code == 200, url


@pytest.mark.parametrize("url", ["/account/members/", "/account/audit-log/"])
def test_owner_only_pages_render_for_the_owner(alice_client, url):
    assert alice_client.get(url).status_code == 200


@pytest.mark.parametrize("url", ["/account/members/", "/account/audit-log/"])
def test_a_member_cannot_reach_owner_and_admin_pages(bob_client, url):
    response = bob_client.get(url)
    assert response.status_code == 403
    assert b"higher role" in response.content


def test_a_member_cannot_change_account_settings(bob_client, owner_alice):
    response = bob_client.post("/account/", {"name": "Hacked", "timezone": "UTC", "default_country": "SA"})
    assert response.status_code == 403
    owner_alice.account.refresh_from_db()
    assert owner_alice.account.name == "Alice Co"


def test_the_owner_changes_settings_and_it_is_audited(alice_client, owner_alice):
    response = alice_client.post(
        "/account/",
        {
            "name": "Alice Trading",
            "timezone": "Asia/Riyadh",
            "default_country": "SA",
            "extra_opt_out_keywords": "Halt\nhalt\nBasta",
            "send_opt_out_confirmation": "on",
        },
    )
    assert response.status_code == 302
    account = owner_alice.account
    account.refresh_from_db()
    assert account.name == "Alice Trading"
    assert account.extra_opt_out_keywords == ["halt", "basta"]
    assert account.allow_authentication_to_opted_out is False
    entry = account.audit_entries.get(action="account.settings_changed")
    assert entry.actor == owner_alice.user
    assert entry.ip_address == "127.0.0.1"


def test_a_logged_in_user_without_an_account_gets_an_explanation(client, db):
    from tests.factories import make_user

    client.force_login(make_user("staff@example.com"))
    response = client.get("/instances")
    assert response.status_code == 403
    assert b"not part of a customer account" in response.content


def test_a_suspended_account_cannot_use_the_portal(alice_client, owner_alice):
    owner_alice.account.is_suspended = True
    owner_alice.account.save()
    response = alice_client.get("/instances")
    assert response.status_code == 403
    assert b"suspended" in response.content


def test_members_of_another_account_get_404_on_member_actions(charlie_client, member_bob):
    from tests.isolation import assert_other_account_gets_404

    for action in ("role", "remove"):
        assert_other_account_gets_404(
            charlie_client, f"/account/members/{member_bob.public_id}/{action}/", methods=("post",)
        )


def test_audit_log_details_are_readable_text_and_filter_by_actor_action_and_date(alice_client, owner_alice):
    import datetime as dt

    from whatsapp_gateway.accounts.models import AuditLog

    account = owner_alice.account
    AuditLog.objects.create(
        account=account,
        actor_label="bob@example.com",
        action="api_key.created",
        metadata={"full_numbers": True, "filters": {"status": "queued"}},
    )
    old = AuditLog.objects.create(account=account, actor_label="alice@example.com", action="webhook.updated")
    AuditLog.objects.filter(pk=old.pk).update(created_at=dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC))
    html = alice_client.get("/account/audit-log/").content.decode()
    assert "Full numbers</span> yes" in html and "status queued" in html and "{&#x27;" not in html
    assert "api_key.created" in alice_client.get("/account/audit-log/", {"actor": "bob@"}).content.decode()
    assert "webhook.updated" not in alice_client.get("/account/audit-log/", {"actor": "bob@"}).content.decode()
    dated = alice_client.get("/account/audit-log/", {"date_from": "2026-01-05", "date_to": "2026-01-05"})
    assert "webhook.updated" in dated.content.decode() and "api_key.created" not in dated.content.decode()
    assert alice_client.get("/account/audit-log/", {"date_from": "nonsense"}).status_code == 200
