"""CSRF on every form: a POST without the token is refused (403) on every portal, account and operator route;
the only CSRF-exempt views are the machine endpoints authenticated by a key, a secret or a token."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import enable_totp
from tests.security.routes import MACHINE, all_routes, portal_routes
from tests.security.world import value_for
from tests.tallies import SECURITY as TALLY

pytestmark = pytest.mark.django_db

ACCOUNT_FORMS = [
    "/accounts/login/",
    "/accounts/signup/",
    "/accounts/logout/",
    "/accounts/password/reset/",
    "/accounts/password/change/",
    "/accounts/email/",
    "/accounts/2fa/totp/activate/",
    "/admin/login/",
    "/admin/operations/kill-switch/",
]


def _csrf_client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_every_portal_post_without_a_token_is_refused(owner_alice, alice_world):
    client = _csrf_client(owner_alice.user)
    refused = 0
    for route in portal_routes():
        path = route.path({k: value_for(route.pattern, k, alice_world) for k in route.keywords})
        status = client.post(path, {"name": "x", "role": "admin", "phone": "+966501234567"}).status_code
        assert status in (403, 405), f"POST {path} without a CSRF token answered {status}"
        refused += status == 403
    TALLY["csrf: portal forms refused without token"] += refused
    assert refused >= 30


def test_account_and_operator_forms_need_the_token_too(owner_alice):
    owner_alice.user.is_staff = True
    owner_alice.user.save()
    enable_totp(owner_alice.user)
    client = _csrf_client(owner_alice.user)
    anonymous = Client(enforce_csrf_checks=True)
    for path in ACCOUNT_FORMS:
        for who in (client, anonymous):
            status = who.post(path, {"login": "a@example.com", "password": "x"}).status_code
            assert status in (403, 302, 404), f"POST {path} without a CSRF token answered {status}"
            if status == 403:
                TALLY["csrf: account/operator forms refused without token"] += 1
    assert anonymous.post("/accounts/login/", {"login": "a@example.com", "password": "x"}).status_code == 403


def test_only_machine_endpoints_are_csrf_exempt():
    exempt = {route.pattern for route in all_routes() if getattr(route.callback, "csrf_exempt", False)}
    allowed = set(MACHINE) | {"api/openapi.json", "api/docs", "api/", "integrations/3cx/"}
    assert exempt <= allowed, f"unexpected CSRF-exempt routes: {sorted(exempt - allowed)}"
    assert "api/send-message" in exempt and "providers/<str:provider>/callback/<str:token>" in exempt


def test_a_form_with_the_token_still_works(owner_alice, alice_world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner_alice.user)
    page = client.get("/suppressed-recipients")
    token = page.cookies["csrftoken"].value
    response = client.post(
        "/suppressed-recipients", {"phone": "+966501239999", "note": "asked", "csrfmiddlewaretoken": token}
    )
    assert response.status_code in (200, 302)
