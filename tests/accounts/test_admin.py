"""The operator back office: staff only; accounts (plan, modules as checkboxes, pause/suspend, audited), plans incl.
custom ones, users, and a read-only audit log."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.accounts.test_mfa import totp_code
from tests.factories import OPERATOR_TOTP_SECRET, PASSWORD, make_operator
from whatsapp_gateway.accounts.admin import AccountAdminForm
from whatsapp_gateway.accounts.models import Account, AuditLog, Plan, User


@pytest.fixture
def staff_oscar(db) -> User:
    return make_operator("oscar@gateway.example")


@pytest.fixture
def oscar_client(staff_oscar) -> Client:
    client = Client()
    client.force_login(staff_oscar)
    return client


def account_change_data(account: Account, **overrides) -> dict:
    """The account change form as the browser posts it, including the membership inline."""
    data = {
        "name": account.name,
        "plan": account.plan_id,
        "enabled_modules": list(account.enabled_modules),
        "paused_reason": account.paused_reason,
        "timezone": account.timezone,
        "default_country": account.default_country,
        "extra_opt_out_keywords": "[]",
        "send_opt_out_confirmation": "on",
        "allow_authentication_to_opted_out": "on",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


class TestWhoGetsIn:
    @pytest.mark.parametrize("url", ["/admin/", "/admin/accounts/account/", "/admin/accounts/auditlog/"])
    def test_a_customer_is_sent_to_the_admin_login(self, alice_client, url):
        response = alice_client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")

    def test_a_customer_cannot_log_in_to_the_admin_with_their_password(self, owner_alice):
        client = Client()
        response = client.post(
            "/admin/login/?next=/admin/", {"username": owner_alice.user.username, "password": PASSWORD}
        )
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
        assert client.get("/admin/").status_code == 302
        # Signed in to the portal, a customer is refused by the back office.
        client.post("/accounts/login/", {"login": owner_alice.user.email, "password": PASSWORD})
        assert client.get("/admin/login/?next=/admin/").status_code == 403

    def test_anonymous_visitors_are_sent_to_the_admin_login(self, client, db):
        response = client.get("/admin/accounts/account/")
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")

    def test_staff_log_in_through_the_portal_login_with_their_second_factor(self, staff_oscar):
        client = Client()
        response = client.post(
            "/admin/login/?next=/admin/", {"username": staff_oscar.username, "password": PASSWORD}, follow=True
        )
        assert response.redirect_chain[0][0] == "/accounts/login/?next=%2Fadmin%2F"
        assert client.get("/admin/").status_code == 302
        response = client.post("/accounts/login/?next=/admin/", {"login": staff_oscar.email, "password": PASSWORD})
        assert response["Location"] == "/accounts/2fa/authenticate/"
        response = client.post("/accounts/2fa/authenticate/", {"code": totp_code(OPERATOR_TOTP_SECRET)})
        assert response["Location"] == "/admin/"
        assert client.get("/admin/").status_code == 200

    def test_the_portal_menu_links_staff_to_the_back_office_and_hides_it_from_customers(
        self, alice_client, staff_oscar, owner_alice
    ):
        assert b'href="/admin/"' not in alice_client.get("/instances").content
        owner_alice.user.is_staff = True
        owner_alice.user.save()
        assert b'href="/admin/"' in alice_client.get("/instances").content

    @pytest.mark.parametrize(
        "url",
        [
            "/admin/",
            "/admin/accounts/account/",
            "/admin/accounts/plan/",
            "/admin/accounts/plan/add/",
            "/admin/accounts/user/",
            "/admin/accounts/user/add/",
            "/admin/accounts/auditlog/",
        ],
    )
    def test_every_back_office_page_renders_for_staff(self, oscar_client, owner_alice, url):
        assert oscar_client.get(url).status_code == 200

    def test_account_user_and_audit_detail_pages_render(self, oscar_client, owner_alice):
        account = owner_alice.account
        entry = AuditLog.objects.filter(account=account).first()
        for url in (
            f"/admin/accounts/account/{account.pk}/change/",
            f"/admin/accounts/user/{owner_alice.user.pk}/change/",
            f"/admin/accounts/auditlog/{entry.pk}/change/",
        ):
            assert oscar_client.get(url).status_code == 200, url


class TestModules:
    def test_the_account_form_shows_modules_as_checkboxes_not_json(self, oscar_client, owner_alice):
        html = oscar_client.get(f"/admin/accounts/account/{owner_alice.account.pk}/change/").content.decode()
        assert 'type="checkbox" name="enabled_modules" value="api_send"' in html
        assert 'type="checkbox" name="enabled_modules" value="threecx"' in html
        assert "API sending" in html and "3CX integration" in html

    def test_the_form_keeps_only_known_modules_in_a_stable_order(self, owner_alice):
        data = {**account_change_data(owner_alice.account), "enabled_modules": ["threecx", "api_send"]}
        form = AccountAdminForm(data=data, instance=owner_alice.account)
        assert form.is_valid(), form.errors
        assert form.cleaned_data["enabled_modules"] == ["api_send", "threecx"]

    def test_an_unknown_module_is_refused(self, owner_alice):
        data = {**account_change_data(owner_alice.account), "enabled_modules": ["marketing_blast"]}
        form = AccountAdminForm(data=data, instance=owner_alice.account)
        assert not form.is_valid()
        assert "enabled_modules" in form.errors

    def test_unticking_every_module_saves_an_empty_list_and_is_audited(self, oscar_client, owner_alice):
        account = owner_alice.account
        data = account_change_data(account)
        del data["enabled_modules"]
        response = oscar_client.post(f"/admin/accounts/account/{account.pk}/change/", data)
        assert response.status_code == 302, response.content.decode()[:2000]
        account.refresh_from_db()
        assert account.enabled_modules == []
        assert not account.has_module("api_send")
        entry = AuditLog.objects.get(account=account, action="account.changed_by_operator")
        assert entry.actor_label == "operator oscar@gateway.example"
        assert entry.metadata["changed"]["enabled_modules"] == {"from": ["api_send", "threecx"], "to": []}

    def test_the_operator_moves_an_account_to_a_custom_plan(self, oscar_client, owner_alice):
        response = oscar_client.post(
            "/admin/accounts/plan/add/",
            {
                "name": "Hospital network",
                "code": "hospital-network",
                "daily_limit": 4000,
                "monthly_limit": 80000,
                "max_instances": 12,
                "is_custom": "on",
            },
        )
        assert response.status_code == 302
        plan = Plan.objects.get(code="hospital-network")
        assert plan.is_custom
        account = owner_alice.account
        oscar_client.post(f"/admin/accounts/account/{account.pk}/change/", account_change_data(account, plan=plan.pk))
        account.refresh_from_db()
        assert account.plan == plan
        entry = AuditLog.objects.get(account=account, action="account.changed_by_operator")
        assert entry.metadata["changed"]["plan"]["to"].startswith("Hospital network")


class TestPauseAndSuspend:
    def run_action(self, client, action: str, *accounts: Account):
        return client.post(
            "/admin/accounts/account/",
            {"action": action, "_selected_action": [a.pk for a in accounts], "index": 0},
        )

    def test_pausing_shows_the_banner_and_is_audited_then_resume_lifts_it(
        self, oscar_client, alice_client, owner_alice
    ):
        account = owner_alice.account
        assert self.run_action(oscar_client, "pause", account).status_code == 302
        account.refresh_from_db()
        assert account.is_paused and account.paused_reason == "Paused by operator"
        assert b"Sending is paused for this account" in alice_client.get("/instances").content
        assert AuditLog.objects.filter(account=account, action="account.paused_by_operator").exists()

        self.run_action(oscar_client, "resume", account)
        account.refresh_from_db()
        assert not account.is_paused
        assert b"Sending is paused" not in alice_client.get("/instances").content
        assert AuditLog.objects.filter(account=account, action="account.resumed_by_operator").exists()

    def test_suspending_locks_the_portal_for_that_account_only(
        self, oscar_client, alice_client, charlie_client, owner_alice
    ):
        self.run_action(oscar_client, "suspend", owner_alice.account)
        response = alice_client.get("/instances")
        assert response.status_code == 403 and b"suspended" in response.content
        assert charlie_client.get("/instances").status_code == 200
        self.run_action(oscar_client, "unsuspend", owner_alice.account)
        assert alice_client.get("/instances").status_code == 200
        actions = set(AuditLog.objects.filter(account=owner_alice.account).values_list("action", flat=True))
        assert {"account.suspended_by_operator", "account.unsuspended_by_operator"} <= actions


class TestUsersAndAuditLog:
    def test_the_operator_creates_a_user_who_logs_in_with_their_email(self, oscar_client):
        response = oscar_client.post(
            "/admin/accounts/user/add/",
            {"email": "Ops2@Gateway.example", "usable_password": "true", "password1": PASSWORD, "password2": PASSWORD},
        )
        assert response.status_code == 302, response.content.decode()[:3000]
        user = User.objects.get(email="ops2@gateway.example")
        assert user.username == "ops2@gateway.example"
        assert user.check_password(PASSWORD)

    def test_the_audit_log_cannot_be_added_changed_or_deleted(self, oscar_client, owner_alice):
        entry = AuditLog.objects.filter(account=owner_alice.account).first()
        assert oscar_client.get("/admin/accounts/auditlog/add/").status_code == 403
        assert oscar_client.get(f"/admin/accounts/auditlog/{entry.pk}/delete/").status_code == 403
        response = oscar_client.post(f"/admin/accounts/auditlog/{entry.pk}/change/", {"action": "forged"})
        assert response.status_code == 403
        entry.refresh_from_db()
        assert entry.action == "account.created"
