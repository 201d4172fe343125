"""Every portal URL with an object id answers 404 to another account — checked for all registered routes.

The routes are read from the URLconf at collection time, so a route added later is covered without touching this
file; if its keyword argument has no factory in ``tests/isolation.py``, ``test_every_object_route_has_a_factory``
fails and names it (the module docstring there says how to add one).
"""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.isolation import LIBRARY_PREFIXES, NOT_PORTAL_ROUTES, build_kwargs, factory_for

_KWARG = re.compile(r"<(?:\w+:)?(\w+)>")


def _walk(patterns, prefix: str = "", namespace: str | None = None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(filter(None, [namespace, pattern.namespace])) or None
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), namespace, pattern


def object_routes() -> list[tuple[str, str, list[str], object]]:
    """(route name, path pattern, keyword arguments, view) for every named route that takes keyword arguments."""
    found = []
    for path, namespace, pattern in _walk(get_resolver().url_patterns):
        kwargs = _KWARG.findall(path)
        if not kwargs or path.startswith(LIBRARY_PREFIXES):
            continue
        name = f"{namespace}:{pattern.name}" if namespace else (pattern.name or path)
        found.append((name, path, kwargs, pattern.callback))
    return found


def _exempt(name: str) -> bool:
    return any(name == key or (key.endswith(":") and name.startswith(key)) for key in NOT_PORTAL_ROUTES)


PORTAL_ROUTES = [route for route in object_routes() if not _exempt(route[0])]


def test_the_walker_finds_the_portal_routes_we_know_of():
    names = {name for name, *_ in PORTAL_ROUTES}
    assert {"accounts:member_role", "accounts:member_remove"} <= names
    assert len(PORTAL_ROUTES) >= 2


def test_every_object_route_is_a_portal_view_or_explicitly_exempt():
    """A route with an object id that skips ``portal_view`` would skip the account gate entirely."""
    unguarded = [
        f"{name} ({path})" for name, path, _kw, view in PORTAL_ROUTES if not hasattr(view, "portal_minimum_role")
    ]
    assert not unguarded, (
        "these routes take an object id but are not decorated with accounts.decorators.portal_view; decorate them "
        f"or list them in tests/isolation.py NOT_PORTAL_ROUTES with a reason: {unguarded}"
    )


def test_every_object_route_has_a_factory():
    missing = sorted(
        {f"<{kwarg}> on {name} ({path})" for name, path, kwargs, _ in PORTAL_ROUTES for kwarg in kwargs}
        - {
            f"<{kwarg}> on {name} ({path})"
            for name, path, kwargs, _ in PORTAL_ROUTES
            for kwarg in kwargs
            if factory_for(name, kwarg) is not None
        }
    )
    assert not missing, f"add an object factory in tests/isolation.py for: {missing}"


@pytest.fixture
def _isolation_settings(settings):
    settings.GATEWAY_ALLOW_PRIVATE_WEBHOOKS = True  # the endpoint factory uses a loopback URL (never delivered)


@pytest.mark.parametrize(
    "name, kwargs",
    [pytest.param(name, kwargs, id=name) for name, _path, kwargs, _view in PORTAL_ROUTES],
)
def test_another_account_gets_404_and_the_owner_does_not(
    name, kwargs, owner_alice, alice_client, charlie_client, _isolation_settings
):
    if any(factory_for(name, kwarg) is None for kwarg in kwargs):
        pytest.fail(f"no factory for {name}; see test_every_object_route_has_a_factory")
    url = reverse(name, kwargs=build_kwargs(name, kwargs, owner_alice.account))

    answers = {method: getattr(charlie_client, method)(url).status_code for method in ("get", "post")}
    assert set(answers.values()) <= {404, 405}, f"{url} answered {answers} to another account; expected 404"
    assert 404 in answers.values(), f"{url} never looked the object up for another account: {answers}"

    # The control: the object's own account reaches it, so the 404 above is about the account, not a bad factory.
    method = "get" if answers["get"] == 404 else "post"
    own = getattr(alice_client, method)(url).status_code
    assert own != 404 and own < 500, f"{method.upper()} {url} answered {own} to its own account"
