"""The back office (/admin/) signs in only through the portal login: throttled, with the second factor, and only
for staff who have an authenticator app."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.accounts.test_mfa import totp_code
from tests.factories import OPERATOR_TOTP_SECRET, PASSWORD, make_operator, make_user
from tests.tallies import SECURITY as TALLY

pytestmark = pytest.mark.django_db


def test_a_password_alone_never_opens_the_back_office():
    operator = make_operator()
    client = Client()
    response = client.post("/admin/login/", {"username": operator.email, "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session
    # The portal login stops at the second factor; /admin/ stays closed until the code is given.
    response = client.post("/accounts/login/?next=/admin/", {"login": operator.email, "password": PASSWORD})
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert client.get("/admin/").status_code == 302
    assert client.get("/admin/operations/dashboard/").status_code == 302
    response = client.post("/accounts/2fa/authenticate/", {"code": totp_code(OPERATOR_TOTP_SECRET)})
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    TALLY["operator login: requests"] += 7


def test_wrong_operator_passwords_are_throttled_like_portal_logins():
    operator = make_operator()
    client = Client()
    # The admin route checks no password at all: every attempt is sent to the portal login.
    for _ in range(25):
        response = client.post("/admin/login/", {"username": operator.email, "password": "wrong-password"})
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    # There, the operator's login is limited like everyone's: locked after 5 failures, even for the right password.
    answers = [
        b"Too many failed login attempts"
        in client.post("/accounts/login/?next=/admin/", {"login": operator.email, "password": "wrong"}).content
        for _ in range(8)
    ]
    assert answers == [False] * 5 + [True] * 3
    response = client.post("/accounts/login/?next=/admin/", {"login": operator.email, "password": PASSWORD})
    assert b"Too many failed login attempts" in response.content and "_auth_user_id" not in client.session
    TALLY["operator login: throttled attempts"] += 34


def test_staff_without_an_authenticator_app_are_asked_to_set_one_up():
    staff = make_user("new-ops@example.com")
    staff.is_staff = staff.is_superuser = True
    staff.save()
    client = Client()
    client.post("/accounts/login/", {"login": staff.email, "password": PASSWORD})
    assert "_auth_user_id" in client.session
    for url in ("/admin/", "/admin/accounts/account/", "/admin/operations/dashboard/"):
        response = client.get(url, follow=True)
        assert response.status_code == 403, url
        assert b"requires two-factor authentication" in response.content
        assert b'href="/accounts/2fa/totp/activate/"' in response.content
        TALLY["operator login: staff without MFA refused"] += 1
    # A logged-in customer (not staff) is refused outright; no Django password form appears for anyone.
    customer = make_user("customer@example.com")
    other = Client()
    other.force_login(customer)
    assert other.get("/admin/login/").status_code == 403
