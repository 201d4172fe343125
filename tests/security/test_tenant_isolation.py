"""Tenant isolation over every portal route: another account's ids answer 404 (GET and POST), anonymous visitors
are sent to the login page, and every route of the product is classified (a new route fails this suite until it
is added to the matrix in tests/security/routes.py)."""

from __future__ import annotations

import pytest

from tests.security.routes import MACHINE, PUBLIC, STAFF, all_routes, portal_routes
from tests.security.world import value_for
from tests.tallies import SECURITY as TALLY

pytestmark = pytest.mark.django_db


def _path(route, world):
    return route.path({k: value_for(route.pattern, k, world) for k in route.keywords})


def test_every_route_is_public_machine_staff_or_a_portal_route_in_the_matrix(alice_world):
    for route in all_routes():
        if route.pattern in PUBLIC or route.pattern in MACHINE or route.pattern in STAFF:
            continue
        _path(route, alice_world)  # raises when the matrix has no object for one of its ids
    assert len(portal_routes()) >= 40


def test_another_account_gets_404_for_every_object_route(charlie_client, alice_world):
    checked = 0
    for route in portal_routes():
        if not route.keywords:
            continue
        path = _path(route, alice_world)
        if path.startswith("/dashboard/charts/"):
            continue  # <name> is a chart kind, not another account's object: charts read the own account only
        statuses = {method: getattr(charlie_client, method)(path, {}).status_code for method in ("get", "post")}
        # A method the view does not take answers 405 whoever asks (it reveals nothing); the one it takes is 404.
        assert set(statuses.values()) <= {404, 405} and 404 in statuses.values(), (
            f"{path} answered {statuses} to another account; expected 404"
        )
        checked += 2
    TALLY["isolation requests (other account)"] += checked
    assert checked >= 60


def test_the_owner_reaches_the_same_urls(alice_client, alice_world):
    for route in portal_routes():
        if route.keywords:
            path = _path(route, alice_world)
            assert alice_client.get(path).status_code != 404, f"the matrix built a wrong URL: {path}"


def test_anonymous_visitors_are_sent_to_the_login_page_everywhere(client, alice_world):
    for route in portal_routes():
        path = _path(route, alice_world)
        for method in ("get", "post"):
            response = getattr(client, method)(path)
            if response.status_code == 405:
                continue
            assert response.status_code == 302, f"{method.upper()} {path} answered {response.status_code}"
            assert response["Location"].startswith("/accounts/login/"), path
            TALLY["isolation requests (anonymous)"] += 1


def test_staff_pages_refuse_customers(alice_client, alice_world):
    for pattern in STAFF:
        response = alice_client.get("/" + pattern)
        assert response.status_code in (302, 405)
        if response.status_code == 302:
            assert "/admin/login/" in response["Location"]
