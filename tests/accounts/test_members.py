"""Members: invitation by email (set password → log in → member), roles and their limits, removal, audit trail."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from whatsapp_gateway.accounts.models import AuditLog, Membership, Role, User

NEW_PASSWORD = "invited-person-passphrase-7"


def invite(client, email="erin@example.com", role="member"):
    return client.post("/account/members/", {"email": email, "role": role})


def set_password_link(message) -> str:
    match = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+)", message.body)
    assert match, message.body
    return match.group(1)


class TestInvitation:
    def test_the_invited_person_gets_an_email_naming_the_account_and_the_inviter(
        self, alice_client, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            response = invite(alice_client)
        assert response.status_code == 302
        assert len(mail.outbox) == 1
        message = mail.outbox[0]
        assert message.to == ["erin@example.com"]
        assert "alice@example.com invited you to Alice Co" in message.subject
        assert "as member" in message.body
        assert "/accounts/password/reset/key/" in message.body

    def test_set_password_then_log_in_and_land_in_the_account_as_a_member(
        self, alice_client, owner_alice, django_capture_on_commit_callbacks
    ):
        from django.test import Client

        with django_capture_on_commit_callbacks(execute=True):
            invite(alice_client)
        erin = Client()
        form_page = erin.get(set_password_link(mail.outbox[0]), follow=True)
        assert form_page.status_code == 200
        set_password_path = form_page.redirect_chain[-1][0]
        response = erin.post(set_password_path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
        assert response.status_code == 302

        response = erin.post("/accounts/login/", {"login": "erin@example.com", "password": NEW_PASSWORD})
        assert response.status_code == 302 and response["Location"] == "/dashboard"
        assert erin.get("/instances").status_code == 200
        membership = Membership.objects.get(user__email="erin@example.com")
        assert membership.account == owner_alice.account
        assert membership.role == Role.MEMBER
        assert erin.get("/account/members/").status_code == 403

    def test_before_setting_a_password_the_invited_person_cannot_log_in(self, alice_client):
        invite(alice_client)
        user = User.objects.get(email="erin@example.com")
        assert not user.has_usable_password()

    def test_the_set_password_link_works_once(self, alice_client, django_capture_on_commit_callbacks):
        from django.test import Client

        with django_capture_on_commit_callbacks(execute=True):
            invite(alice_client)
        link = set_password_link(mail.outbox[0])
        erin = Client()
        set_password_path = erin.get(link, follow=True).redirect_chain[-1][0]
        erin.post(set_password_path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
        again = Client().get(link, follow=True)
        assert b'name="password1"' not in again.content

    def test_an_admin_can_invite_an_admin(self, admin_dana, django_capture_on_commit_callbacks):
        from django.test import Client

        dana = Client()
        dana.force_login(admin_dana.user)
        with django_capture_on_commit_callbacks(execute=True):
            invite(dana, role="admin")
        assert Membership.objects.get(user__email="erin@example.com").role == Role.ADMIN

    def test_nobody_can_be_invited_straight_in_as_owner(self, alice_client):
        response = invite(alice_client, role="owner")
        assert response.status_code == 200
        assert not User.objects.filter(email="erin@example.com").exists()

    def test_an_existing_user_cannot_be_invited_again(self, alice_client, outsider_charlie):
        response = invite(alice_client, email="Charlie@Example.com")
        assert response.status_code == 200
        assert b"A user with this email already exists." in response.content
        assert Membership.objects.get(user=outsider_charlie.user).account == outsider_charlie.account

    def test_a_member_cannot_invite(self, bob_client):
        response = invite(bob_client)
        assert response.status_code == 403
        assert not User.objects.filter(email="erin@example.com").exists()

    def test_the_invitation_is_audited_with_who_and_from_where(self, alice_client, owner_alice):
        invite(alice_client, role="admin")
        entry = AuditLog.objects.get(account=owner_alice.account, action="member.invited")
        assert entry.actor == owner_alice.user
        assert entry.target_id == "erin@example.com"
        assert entry.metadata == {"role": "admin"}
        assert entry.ip_address == "127.0.0.1"


class TestRoles:
    def test_a_member_cannot_reach_the_members_page_and_an_admin_can(self, bob_client, admin_dana):
        from django.test import Client

        assert bob_client.get("/account/members/").status_code == 403
        dana = Client()
        dana.force_login(admin_dana.user)
        assert dana.get("/account/members/").status_code == 200

    def test_the_owner_can_make_someone_owner_and_it_is_audited(self, alice_client, owner_alice, member_bob):
        alice_client.post(f"/account/members/{member_bob.public_id}/role/", {"role": "owner"})
        member_bob.refresh_from_db()
        assert member_bob.role == Role.OWNER
        entry = AuditLog.objects.get(account=owner_alice.account, action="member.role_changed")
        assert entry.target_id == "bob@example.com"
        assert entry.metadata == {"from": "member", "to": "owner"}

    def test_an_admin_cannot_grant_the_owner_role(self, admin_dana, member_bob):
        from django.test import Client

        dana = Client()
        dana.force_login(admin_dana.user)
        response = dana.post(f"/account/members/{member_bob.public_id}/role/", {"role": "owner"}, follow=True)
        assert b"Only an owner can grant or remove the owner role." in response.content
        member_bob.refresh_from_db()
        assert member_bob.role == Role.MEMBER

    def test_an_admin_cannot_demote_an_owner(self, admin_dana, owner_alice):
        from django.test import Client

        dana = Client()
        dana.force_login(admin_dana.user)
        dana.post(f"/account/members/{owner_alice.public_id}/role/", {"role": "member"})
        owner_alice.refresh_from_db()
        assert owner_alice.role == Role.OWNER

    def test_the_last_owner_cannot_be_demoted(self, alice_client, owner_alice):
        response = alice_client.post(f"/account/members/{owner_alice.public_id}/role/", {"role": "admin"}, follow=True)
        assert b"An account must keep at least one owner." in response.content
        owner_alice.refresh_from_db()
        assert owner_alice.role == Role.OWNER

    def test_with_two_owners_one_can_step_down(self, alice_client, owner_alice, member_bob):
        alice_client.post(f"/account/members/{member_bob.public_id}/role/", {"role": "owner"})
        alice_client.post(f"/account/members/{owner_alice.public_id}/role/", {"role": "admin"})
        owner_alice.refresh_from_db()
        assert owner_alice.role == Role.ADMIN

    def test_a_member_cannot_change_roles(self, bob_client, member_bob):
        response = bob_client.post(f"/account/members/{member_bob.public_id}/role/", {"role": "admin"})
        assert response.status_code == 403
        member_bob.refresh_from_db()
        assert member_bob.role == Role.MEMBER

    def test_an_unknown_role_changes_nothing(self, alice_client, member_bob):
        alice_client.post(f"/account/members/{member_bob.public_id}/role/", {"role": "superuser"})
        member_bob.refresh_from_db()
        assert member_bob.role == Role.MEMBER


class TestRemoval:
    def test_an_admin_removes_a_member_who_can_no_longer_log_in(self, admin_dana, member_bob, owner_alice):
        from django.test import Client

        from tests.factories import PASSWORD

        dana = Client()
        dana.force_login(admin_dana.user)
        response = dana.post(f"/account/members/{member_bob.public_id}/remove/")
        assert response.status_code == 302
        assert not Membership.objects.filter(pk=member_bob.pk).exists()
        bob = Client()
        bob.post("/accounts/login/", {"login": "bob@example.com", "password": PASSWORD})
        assert "_auth_user_id" not in bob.session
        entry = AuditLog.objects.get(account=owner_alice.account, action="member.removed")
        assert (entry.actor, entry.target_id) == (admin_dana.user, "bob@example.com")

    def test_an_admin_cannot_remove_an_owner(self, admin_dana, owner_alice):
        from django.test import Client

        dana = Client()
        dana.force_login(admin_dana.user)
        dana.post(f"/account/members/{owner_alice.public_id}/remove/")
        assert Membership.objects.filter(pk=owner_alice.pk).exists()

    def test_nobody_removes_themselves(self, alice_client, owner_alice):
        response = alice_client.post(f"/account/members/{owner_alice.public_id}/remove/", follow=True)
        assert b"You cannot remove yourself." in response.content
        assert Membership.objects.filter(pk=owner_alice.pk).exists()


class TestAuditLogPage:
    @pytest.fixture
    def history(self, alice_client, owner_alice, member_bob):
        invite(alice_client, email="erin@example.com", role="admin")
        alice_client.post(f"/account/members/{member_bob.public_id}/role/", {"role": "admin"})
        alice_client.post(
            "/account/",
            {"name": "Alice Trading", "timezone": "Europe/Berlin", "default_country": "DE"},
        )
        return owner_alice

    def test_the_owner_sees_membership_and_settings_changes_with_ip(self, alice_client, history):
        html = alice_client.get("/account/audit-log/").content.decode()
        for action in ("member.invited", "member.role_changed", "account.settings_changed", "account.created"):
            assert action in html
        assert "127.0.0.1" in html
        assert "Europe/Berlin" in html

    def test_an_admin_sees_the_log_too(self, history, admin_dana):
        from django.test import Client

        dana = Client()
        dana.force_login(admin_dana.user)
        response = dana.get("/account/audit-log/")
        assert response.status_code == 200
        assert b"member.role_changed" in response.content

    def test_a_member_is_refused(self, history):
        from django.test import Client

        erin_like = Client()
        bob = Membership.objects.get(user__email="bob@example.com")
        bob.role = Role.MEMBER
        bob.save()
        erin_like.force_login(bob.user)
        assert erin_like.get("/account/audit-log/").status_code == 403

    def test_another_account_sees_none_of_it(self, history, charlie_client):
        html = charlie_client.get("/account/audit-log/").content.decode()
        assert "member.invited" not in html
        assert "erin@example.com" not in html

    def test_the_log_filters_by_action_prefix(self, alice_client, history):
        html = alice_client.get("/account/audit-log/?action=member.").content.decode()
        assert "member.invited" in html
        assert "account.settings_changed" not in html

    def test_entries_cannot_be_changed_from_the_portal(self, alice_client, history):
        count = AuditLog.objects.count()
        assert alice_client.post("/account/audit-log/").status_code in (403, 405)
        assert AuditLog.objects.count() == count
