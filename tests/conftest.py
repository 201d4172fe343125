"""Shared fixtures: the cast (owner_alice, member_bob, outsider_charlie), clients, and the isolation helper.

Tests run on SQLite by default and on PostgreSQL + Redis when DATABASE_URL / REDIS_URL are set (see .ci/run).
Background jobs run eagerly (Huey immediate mode) unless a test is about the queue itself.
"""

from __future__ import annotations

import pytest

from tests.factories import enable_totp, make_account_with_user
from tests.providers.fakes.cloud import FakeCloud
from tests.providers.fakes.evolution import FakeEvolution
from tests.providers.fakes.waha import FakeWaha
from whatsapp_gateway.apikeys.selectors import api_key_cache_clear
from whatsapp_gateway.message_templates.selectors import template_local_forget
from whatsapp_gateway.providers import registry
from whatsapp_gateway.providers.http import use_transport

pytest_plugins = ["tests.tallies"]


def _is_transactional(item: pytest.Item) -> bool:
    fixtures = getattr(item, "fixturenames", ())
    if "transactional_db" in fixtures or "live_server" in fixtures:
        return True
    marker = item.get_closest_marker("django_db")
    return bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))


def pytest_collection_modifyitems(config, items):
    """Transactional tests (``live_server``, ``transaction=True``) end with a flush that also empties what data
    migrations seeded (the plans). Serialized rollback restores that migrated data at the start of each of them, so
    every test sees the plans whatever ran before it, in any order and under xdist."""
    for item in items:
        if _is_transactional(item):
            existing = item.get_closest_marker("django_db")
            kwargs = dict(existing.kwargs) if existing else {}
            kwargs.update(transaction=True, serialized_rollback=True)
            item.add_marker(pytest.mark.django_db(**kwargs), append=False)


_MIGRATED_DATA: dict[str, str] = {}


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    from django.db import connections

    for alias in connections:
        contents = getattr(connections[alias], "_test_serialized_contents", None)
        if contents is not None:
            _MIGRATED_DATA[alias] = contents


@pytest.fixture(autouse=True)
def _migrated_data_in_transactional_tests(request):
    """Django restores serialized data only on the connection object that serialized it. Once Playwright runs,
    the test thread's context holds a different connection object (asgiref's context-local storage), so Django
    skips the restore; do it here on the connection the test actually uses, and mark that connection so the
    flush afterwards does not re-run post_migrate (which would clash with the restored content types)."""
    if not _is_transactional(request.node):
        return
    request.getfixturevalue("transactional_db")
    from django.db import connections

    for alias, contents in _MIGRATED_DATA.items():
        connection = connections[alias]
        if not hasattr(connection, "_test_serialized_contents"):
            connection._test_serialized_contents = contents
            connection.creation.deserialize_db_from_string(contents)


@pytest.fixture(autouse=True)
def _no_cached_api_keys():
    api_key_cache_clear()
    template_local_forget()
    yield
    api_key_cache_clear()
    template_local_forget()


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Argon2 is deliberately slow; tests that are not about hashing use a fast hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _isolated_cache(settings, tmp_path):
    # With REDIS_URL (the CI's second pass) the real Redis cache is used, cleared around every test.
    if not settings.REDIS_URL:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
        settings.GATEWAY_AUTH_THROTTLE_FILE = tmp_path / "auth-throttle.sqlite3"
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def owner_alice(db):
    return make_account_with_user(email="alice@example.com", account_name="Alice Co", role="owner")


@pytest.fixture
def member_bob(owner_alice):
    from tests.factories import add_member

    return add_member(owner_alice.account, email="bob@example.com", role="member")


@pytest.fixture
def admin_dana(owner_alice):
    from tests.factories import add_member

    return add_member(owner_alice.account, email="dana@example.com", role="admin")


@pytest.fixture
def outsider_charlie(db):
    return make_account_with_user(email="charlie@example.com", account_name="Charlie Ltd", role="owner")


@pytest.fixture
def alice_client(client, owner_alice):
    client.force_login(owner_alice.user)
    return client


@pytest.fixture
def bob_client(member_bob):
    from django.test import Client

    c = Client()
    c.force_login(member_bob.user)
    return c


@pytest.fixture
def charlie_client(outsider_charlie):
    from django.test import Client

    c = Client()
    c.force_login(outsider_charlie.user)
    return c


@pytest.fixture
def admin_user(admin_user):
    """pytest-django's superuser, with the authenticator app every operator needs for the back office."""
    return enable_totp(admin_user)


# --- A provider that records sends instead of making them (tests/fakes.py) ---------------------------------------


@pytest.fixture
def fake_provider():
    """The ``fake`` provider, registered for this test: it records every call and answers as configured."""
    registry.PROVIDERS["fake"] = "tests.fakes.FakeProvider"
    registry.get_provider.cache_clear()
    provider = registry.get_provider("fake")
    provider.reset()
    yield provider
    provider.reset()
    registry.get_provider.cache_clear()


# --- Local fakes of the providers' HTTP APIs (tests/providers/fakes/) ---------------------------------------------


@pytest.fixture
def fake_evolution(settings):
    fake = FakeEvolution()
    settings.EVOLUTION_BASE_URL = fake.base_url
    settings.EVOLUTION_API_KEY = fake.api_key
    with use_transport(fake.transport):
        yield fake


@pytest.fixture
def fake_waha(settings):
    fake = FakeWaha()
    settings.WAHA_BASE_URL = fake.base_url
    settings.WAHA_API_KEY = fake.api_key
    with use_transport(fake.transport):
        yield fake


@pytest.fixture
def fake_cloud(settings):
    fake = FakeCloud()
    fake.add_number()
    settings.CLOUD_GRAPH_BASE_URL = fake.base_url
    settings.CLOUD_API_VERSION = fake.version
    settings.CLOUD_ACCESS_TOKEN = next(iter(fake.tokens))
    settings.CLOUD_APP_SECRET = fake.app_secret
    settings.CLOUD_VERIFY_TOKEN = "operator-verify-token"
    with use_transport(fake.transport):
        yield fake
