"""Every allauth page renders inside the portal layout (base.html), with the portal's form styling."""

from __future__ import annotations

import pytest

ANONYMOUS_PAGES = [
    "/accounts/login/",
    "/accounts/signup/",
    "/accounts/password/reset/",
    "/accounts/password/reset/done/",
]
LOGGED_IN_PAGES = [
    "/accounts/logout/",
    "/accounts/email/",
    "/accounts/password/change/",
    "/accounts/2fa/",
    "/accounts/reauthenticate/",
]


def assert_in_portal_layout(html: str) -> None:
    assert 'class="topbar"' in html, "rendered outside base.html"
    assert "/static/css/app.css" in html
    assert 'class="auth-card card"' in html
    assert "<strong>Menu:</strong>" not in html, "allauth's bare default layout leaked through"
    assert 'class="footer"' in html


@pytest.mark.django_db
@pytest.mark.parametrize("url", ANONYMOUS_PAGES)
def test_public_account_pages_use_the_portal_layout(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert_in_portal_layout(response.content.decode())


@pytest.mark.parametrize("url", LOGGED_IN_PAGES)
def test_logged_in_account_pages_use_the_portal_layout_with_navigation(alice_client, url):
    response = alice_client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert_in_portal_layout(html)
    assert 'aria-label="Main"' in html


def test_form_fields_get_labels_and_the_portal_button_style(client, db):
    html = client.get("/accounts/login/").content.decode()
    assert '<label for="id_login">' in html
    assert '<label for="id_password">' in html
    assert 'class="button"' in html
    assert '<label class="checkbox" for="id_remember">' in html


def test_form_errors_are_shown_in_the_error_box(client, owner_alice):
    html = client.post("/accounts/login/", {"login": "alice@example.com", "password": "nope-nope-1"}).content.decode()
    assert 'class="form-errors"' in html


def test_the_email_verification_sent_page_uses_the_layout(client, db):
    client.post(
        "/accounts/signup/",
        {
            "business_name": "Layout Co",
            "email": "layout@example.com",
            "password1": "correct-horse-battery-9",
            "password2": "correct-horse-battery-9",
            "timezone": "UTC",
            "default_country": "SA",
        },
    )
    response = client.get("/accounts/confirm-email/")
    assert response.status_code == 200
    assert_in_portal_layout(response.content.decode())


def test_the_closed_signup_page_uses_the_layout(client, db, settings):
    settings.GATEWAY_SIGNUP_ENABLED = False
    assert_in_portal_layout(client.get("/accounts/signup/").content.decode())
