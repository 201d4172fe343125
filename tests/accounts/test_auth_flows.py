"""Sign-up, email verification, login, logout and password reset through the real allauth forms and emails."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.utils import timezone

from tests.factories import PASSWORD, make_user
from whatsapp_gateway.accounts.models import Account, AuditLog, Membership, Role, User

NEW_PASSWORD = "a-much-better-passphrase-42"

pytestmark = pytest.mark.django_db


def signup_data(**overrides) -> dict:
    data = {
        "business_name": "Nour Clinic",
        "email": "nour@example.com",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "timezone": "Asia/Riyadh",
        "default_country": "SA",
    }
    data.update(overrides)
    return data


def link_in(message, path_prefix: str) -> str:
    """The first link in an email whose path starts with ``path_prefix``, as a path the test client can GET."""
    match = re.search(r"https?://[^/\s]+(" + re.escape(path_prefix) + r"\S*)", message.body)
    assert match, f"no {path_prefix} link in:\n{message.body}"
    return match.group(1)


def login(client, email: str, password: str, **extra):
    return client.post("/accounts/login/", {"login": email, "password": password}, **extra)


def is_logged_in(client) -> bool:
    return "_auth_user_id" in client.session


class TestSignUp:
    def test_the_signup_page_asks_for_business_name_timezone_and_country(self, client):
        html = client.get("/accounts/signup/").content.decode()
        for field in ("business_name", "email", "password1", "password2", "timezone", "default_country"):
            assert f'name="{field}"' in html

    def test_signing_up_creates_the_account_with_the_user_as_owner_and_audits_it(self, client):
        response = client.post("/accounts/signup/", signup_data())
        assert response.status_code == 302
        user = User.objects.get(email="nour@example.com")
        membership = Membership.objects.select_related("account").get(user=user)
        assert membership.role == Role.OWNER
        account = membership.account
        assert (account.name, account.timezone, account.default_country) == ("Nour Clinic", "Asia/Riyadh", "SA")
        assert account.plan.code == "starter"
        entry = AuditLog.objects.get(account=account, action="account.created")
        assert entry.actor == user
        assert entry.ip_address == "127.0.0.1"

    def test_signup_rejects_an_unknown_timezone_and_creates_nothing(self, client):
        response = client.post("/accounts/signup/", signup_data(timezone="Mars/Olympus"))
        assert response.status_code == 200
        assert not User.objects.filter(email="nour@example.com").exists()
        assert Account.objects.filter(name="Nour Clinic").count() == 0

    def test_an_email_that_is_already_registered_creates_nothing_and_reveals_nothing(self, client, owner_alice):
        response = client.post("/accounts/signup/", signup_data(email="alice@example.com"))
        # The same answer as a real sign-up (no account enumeration); the owner of the address is told by email.
        assert response.status_code == 302
        assert response["Location"] == "/accounts/confirm-email/"
        assert Account.objects.filter(name="Nour Clinic").count() == 0
        assert Membership.objects.get(user=owner_alice.user).account == owner_alice.account
        assert [m.to for m in mail.outbox] == [["alice@example.com"]]
        assert "/accounts/confirm-email/" not in mail.outbox[0].body

    def test_signup_sends_a_verification_email_and_does_not_log_in(self, client):
        client.post("/accounts/signup/", signup_data())
        assert len(mail.outbox) == 1
        message = mail.outbox[0]
        assert message.to == ["nour@example.com"]
        assert "/accounts/confirm-email/" in message.body
        assert not is_logged_in(client)
        assert client.get("/instances").status_code == 302

    def test_following_the_verification_link_verifies_the_email_and_logs_in(self, client):
        client.post("/accounts/signup/", signup_data())
        confirm_path = link_in(mail.outbox[0], "/accounts/confirm-email/")
        page = client.get(confirm_path)
        assert page.status_code == 200
        assert b"nour@example.com" in page.content
        response = client.post(confirm_path)
        assert response.status_code == 302
        assert response["Location"] == "/dashboard"
        assert is_logged_in(client)
        assert client.get("/instances").status_code == 200
        user = User.objects.get(email="nour@example.com")
        assert user.emailaddress_set.get().verified

    def test_an_unverified_user_cannot_log_in(self, client):
        client.post("/accounts/signup/", signup_data())
        client.logout()
        response = login(client, "nour@example.com", PASSWORD)
        assert response.status_code == 302
        assert response["Location"] == "/accounts/confirm-email/"
        assert not is_logged_in(client)
        assert client.get("/instances").status_code == 302

    def test_trying_to_log_in_unverified_resends_the_link_at_most_every_three_minutes(self, client):
        import time_machine

        with time_machine.travel(timezone.now(), tick=False) as traveller:
            client.post("/accounts/signup/", signup_data())
            login(client, "nour@example.com", PASSWORD)
            assert len(mail.outbox) == 1, "a second link within three minutes"
            traveller.shift(181)
            login(client, "nour@example.com", PASSWORD)
            assert len(mail.outbox) == 2
            fresh_link = link_in(mail.outbox[1], "/accounts/confirm-email/")
            client.post(fresh_link)
        assert is_logged_in(client)

    def test_a_wrong_verification_key_verifies_nothing(self, client):
        client.post("/accounts/signup/", signup_data())
        response = client.post("/accounts/confirm-email/not-a-real-key/")
        assert response.status_code == 404
        assert not User.objects.get(email="nour@example.com").emailaddress_set.get().verified


class TestSignUpClosed:
    @pytest.fixture(autouse=True)
    def _closed(self, settings):
        settings.GATEWAY_SIGNUP_ENABLED = False

    def test_the_signup_page_says_it_is_closed(self, client):
        response = client.get("/accounts/signup/")
        assert response.status_code == 200
        assert b"Sign Up Closed" in response.content or b"sign-up is closed" in response.content.lower()
        assert b'name="password1"' not in response.content

    def test_posting_the_form_creates_nobody(self, client):
        client.post("/accounts/signup/", signup_data())
        assert not User.objects.filter(email="nour@example.com").exists()
        assert not mail.outbox

    def test_the_sign_up_link_is_hidden(self, client):
        html = client.get("/accounts/login/").content.decode()
        assert 'href="/accounts/signup/"' not in html

    def test_it_reopens_without_a_restart(self, client, settings):
        settings.GATEWAY_SIGNUP_ENABLED = True
        assert b'name="password1"' in client.get("/accounts/signup/").content


class TestLoginAndLogout:
    def test_a_verified_user_logs_in_and_lands_on_instances(self, client, owner_alice):
        response = login(client, "alice@example.com", PASSWORD)
        assert response.status_code == 302
        assert response["Location"] == "/dashboard"
        assert is_logged_in(client)

    def test_the_email_is_case_insensitive(self, client, owner_alice):
        login(client, "Alice@Example.com", PASSWORD)
        assert is_logged_in(client)

    def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(self, client, owner_alice):
        response = login(client, "alice@example.com", "wrong-password-1")
        assert response.status_code == 200
        assert not is_logged_in(client)
        assert b"The email address and/or password you specified are not correct." in response.content

    def test_a_deactivated_user_cannot_log_in(self, client, owner_alice):
        owner_alice.user.is_active = False
        owner_alice.user.save()
        login(client, "alice@example.com", PASSWORD)
        assert not is_logged_in(client)

    def test_logout_needs_a_post_and_asks_to_confirm_on_get(self, client, owner_alice):
        login(client, "alice@example.com", PASSWORD)
        page = client.get("/accounts/logout/")
        assert page.status_code == 200
        assert is_logged_in(client)
        assert b'method="post"' in page.content
        response = client.post("/accounts/logout/")
        assert response.status_code == 302
        assert response["Location"] == "/accounts/login/"
        assert not is_logged_in(client)
        assert client.get("/instances").status_code == 302

    def test_the_login_form_is_csrf_protected(self, owner_alice):
        from django.test import Client

        strict = Client(enforce_csrf_checks=True)
        response = login(strict, "alice@example.com", PASSWORD)
        assert response.status_code == 403


class TestPasswordReset:
    def test_reset_by_email_link_sets_a_new_password_that_works(self, client, owner_alice):
        response = client.post("/accounts/password/reset/", {"email": "alice@example.com"})
        assert response.status_code == 302
        assert len(mail.outbox) == 1
        reset_path = link_in(mail.outbox[0], "/accounts/password/reset/key/")

        form_page = client.get(reset_path, follow=True)
        assert form_page.status_code == 200
        set_password_path = form_page.redirect_chain[-1][0] if form_page.redirect_chain else reset_path
        response = client.post(set_password_path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
        assert response.status_code == 302

        client.logout()
        login(client, "alice@example.com", PASSWORD)
        assert not is_logged_in(client), "the old password still works"
        login(client, "alice@example.com", NEW_PASSWORD)
        assert is_logged_in(client)

    def test_a_reset_link_works_only_once(self, client, owner_alice):
        client.post("/accounts/password/reset/", {"email": "alice@example.com"})
        reset_path = link_in(mail.outbox[0], "/accounts/password/reset/key/")
        form_page = client.get(reset_path, follow=True)
        set_password_path = form_page.redirect_chain[-1][0]
        client.post(set_password_path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
        client.logout()
        again = client.get(reset_path, follow=True)
        assert b"Bad Token" in again.content or b"invalid" in again.content.lower()

    def test_an_unknown_email_gets_the_same_answer_and_no_reset_link(self, client, db):
        response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
        assert response.status_code == 302
        assert all("/accounts/password/reset/key/" not in m.body for m in mail.outbox)

    def test_a_weak_new_password_is_refused(self, client, owner_alice):
        client.post("/accounts/password/reset/", {"email": "alice@example.com"})
        reset_path = link_in(mail.outbox[0], "/accounts/password/reset/key/")
        set_password_path = client.get(reset_path, follow=True).redirect_chain[-1][0]
        response = client.post(set_password_path, {"password1": "12345678", "password2": "12345678"})
        assert response.status_code == 200
        client.logout()
        login(client, "alice@example.com", PASSWORD)
        assert is_logged_in(client)


class TestLoginThrottling:
    """ACCOUNT_RATE_LIMITS["login_failed"] = "5/m/ip,10/5m/key": proven on the real login endpoint."""

    THROTTLED = b"Too many failed login attempts. Try again later."

    def test_after_five_failures_from_one_ip_even_the_right_password_is_refused(self, client, owner_alice):
        for _ in range(5):
            response = login(client, "alice@example.com", "wrong-password-1")
            assert self.THROTTLED not in response.content
        response = login(client, "alice@example.com", PASSWORD)
        assert self.THROTTLED in response.content
        assert not is_logged_in(client)

    def test_the_ip_limit_lifts_after_a_minute(self, client, owner_alice):
        import time_machine

        with time_machine.travel(timezone.now(), tick=False) as traveller:
            for _ in range(5):
                login(client, "alice@example.com", "wrong-password-1")
            assert self.THROTTLED in login(client, "alice@example.com", PASSWORD).content
            traveller.shift(61)
            login(client, "alice@example.com", PASSWORD)
        assert is_logged_in(client)

    def test_failures_spread_over_many_ips_still_lock_the_account(self, client, owner_alice):
        for attempt in range(10):
            login(client, "alice@example.com", "wrong-password-1", REMOTE_ADDR=f"203.0.113.{attempt + 1}")
        response = login(client, "alice@example.com", PASSWORD, REMOTE_ADDR="198.51.100.7")
        assert self.THROTTLED in response.content
        assert not is_logged_in(client)

    def test_another_users_login_is_not_affected_by_a_locked_account(self, client, owner_alice, outsider_charlie):
        for attempt in range(10):
            login(client, "alice@example.com", "wrong-password-1", REMOTE_ADDR=f"203.0.113.{attempt + 1}")
        login(client, "charlie@example.com", PASSWORD, REMOTE_ADDR="198.51.100.8")
        assert is_logged_in(client)

    def test_the_configured_limits_are_the_documented_ones(self, settings):
        assert settings.ACCOUNT_RATE_LIMITS["login_failed"] == "5/m/ip,10/5m/key"


class TestPasswordHashing:
    def test_argon2_is_the_configured_hasher(self):
        from whatsapp_gateway import settings as production

        assert production.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"

    def test_a_password_set_at_signup_is_stored_as_argon2_and_verifies(self, client, settings):
        from whatsapp_gateway import settings as production

        settings.PASSWORD_HASHERS = production.PASSWORD_HASHERS
        client.post("/accounts/signup/", signup_data())
        user = User.objects.get(email="nour@example.com")
        assert user.password.startswith("argon2$argon2id$")
        assert user.check_password(PASSWORD)
        assert not user.check_password(PASSWORD + "x")

    def test_an_old_pbkdf2_hash_still_logs_in_and_is_upgraded_to_argon2(self, client, settings):
        from django.contrib.auth.hashers import make_password

        from whatsapp_gateway import settings as production

        settings.PASSWORD_HASHERS = production.PASSWORD_HASHERS
        user = make_user("legacy@example.com")
        user.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
        user.save()
        login(client, "legacy@example.com", PASSWORD)
        assert is_logged_in(client)
        user.refresh_from_db()
        assert user.password.startswith("argon2$")
