"""API keys: shown once, stored as a keyed hash, authenticated in one lookup, revocable, audit-logged."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import time_machine

from whatsapp_gateway.accounts.models import AuditLog
from whatsapp_gateway.apikeys import selectors
from whatsapp_gateway.apikeys.models import ApiKey
from whatsapp_gateway.apikeys.selectors import api_key_by_hash
from whatsapp_gateway.apikeys.services import api_key_authenticate, api_key_create, api_key_revoke
from whatsapp_gateway.lib import errors
from whatsapp_gateway.lib.clock import now

pytestmark = pytest.mark.django_db


def test_the_full_key_is_returned_once_and_only_its_hash_is_stored(owner_alice):
    created = api_key_create(account=owner_alice.account, name="CRM", created_by=owner_alice.user)
    assert created.full_key.startswith("wg_live_") and len(created.full_key) >= 40
    key = ApiKey.objects.get()
    assert created.full_key not in (key.key_hash, key.prefix, key.name)
    assert created.full_key.startswith(key.prefix) and key.public_id.startswith("key_")
    assert AuditLog.objects.filter(action="api_key.created", target_id=key.public_id).exists()
    assert created.full_key not in str(AuditLog.objects.values_list("metadata", flat=True)[0])


def test_it_authenticates_the_key_and_loads_the_account(owner_alice):
    created = api_key_create(account=owner_alice.account, name="CRM")
    key = api_key_authenticate(token=created.full_key, client_ip="10.0.0.1")
    assert key.account == owner_alice.account


def test_the_one_query_lookup_loads_what_the_orm_would(owner_alice, django_assert_num_queries):
    """``api_key_by_hash`` reads key, account and plan with one prepared join (the API's hot path): every field must
    come back exactly as the ORM's select_related reads it (dates, booleans, JSON, encrypted fields)."""
    created = api_key_create(account=owner_alice.account, name="CRM", created_by=owner_alice.user)
    api_key_authenticate(token=created.full_key, client_ip="10.0.0.1")  # last_used_at/ip set: no NULLs only
    expected = ApiKey.objects.select_related("account", "account__plan").get(pk=created.api_key.pk)
    with django_assert_num_queries(1):
        fast = api_key_by_hash(expected.key_hash)
        pairs = [(fast, expected), (fast.account, expected.account), (fast.account.plan, expected.account.plan)]
    for got, want in pairs:
        for field in type(want)._meta.concrete_fields:
            assert getattr(got, field.attname) == getattr(want, field.attname), field.name
        assert got._state.adding is False and got._state.db == "default"
    assert api_key_by_hash("0" * 64) is None


@pytest.mark.parametrize("token", ["", "Bearer", "wg_test_abc", "wg_live_wrong", "x" * 300])
def test_unknown_or_malformed_keys_are_invalid(owner_alice, token):
    api_key_create(account=owner_alice.account, name="CRM")
    with pytest.raises(errors.InvalidApiKey):
        api_key_authenticate(token=token)


def test_a_revoked_key_is_refused_as_revoked(owner_alice):
    created = api_key_create(account=owner_alice.account, name="CRM")
    api_key_revoke(api_key=created.api_key, revoked_by=owner_alice.user)
    with pytest.raises(errors.RevokedApiKey):
        api_key_authenticate(token=created.full_key)
    assert AuditLog.objects.filter(action="api_key.revoked").count() == 1


def test_last_use_is_written_at_most_once_a_minute(owner_alice):
    created = api_key_create(account=owner_alice.account, name="CRM")
    start = now()
    with time_machine.travel(start, tick=False):
        api_key_authenticate(token=created.full_key, client_ip="10.0.0.1")
    with time_machine.travel(start + dt.timedelta(seconds=30), tick=False):
        api_key_authenticate(token=created.full_key, client_ip="10.0.0.2")
    key = ApiKey.objects.get()
    assert (key.last_used_at, key.last_used_ip) == (start, "10.0.0.1")
    with time_machine.travel(start + dt.timedelta(seconds=61), tick=False):
        api_key_authenticate(token=created.full_key, client_ip="10.0.0.3")
    key.refresh_from_db()
    assert key.last_used_ip == "10.0.0.3"


def test_a_key_cannot_be_scoped_to_another_accounts_instance(owner_alice, outsider_charlie):
    from whatsapp_gateway.instances.models import Instance

    theirs = Instance.objects.create(account=outsider_charlie.account, name="x")
    with pytest.raises(ValueError):
        api_key_create(account=owner_alice.account, name="CRM", instances=[theirs])


def test_demo_creates_a_new_key_each_run(db):
    from whatsapp_gateway.demo import demo_setup

    first, second = demo_setup(), demo_setup()
    assert first["api_key"] != second["api_key"]
    assert first["api_key"].startswith("wg_live_")
    assert ApiKey.objects.count() == 2


def _use_twice(token: str) -> None:
    api_key_authenticate(token=token, client_ip="10.0.0.1")  # the first use writes last_used_at: read again once
    api_key_authenticate(token=token, client_ip="10.0.0.1")


def test_a_key_is_not_read_again_for_a_few_seconds(owner_alice, settings, django_assert_num_queries, monkeypatch):
    """The cache (``GATEWAY_API_KEY_CACHE_SECONDS``): a change made elsewhere, without this process hearing of it (here
    an UPDATE that sends no signal, as another web process's revocation), applies once the entry expires."""
    settings.GATEWAY_API_KEY_CACHE_SECONDS = 2
    created = api_key_create(account=owner_alice.account, name="CRM")
    _use_twice(created.full_key)
    with django_assert_num_queries(0):
        assert api_key_authenticate(token=created.full_key).account == owner_alice.account
    ApiKey.objects.filter(pk=created.api_key.pk).update(revoked_at=now())
    assert api_key_authenticate(token=created.full_key).revoked_at is None  # still cached: at most 2 s
    later = time.monotonic() + 2.1
    monkeypatch.setattr(selectors.time, "monotonic", lambda: later)
    with pytest.raises(errors.RevokedApiKey):
        api_key_authenticate(token=created.full_key)


def test_a_change_saved_in_this_process_applies_at_once(owner_alice, settings):
    settings.GATEWAY_API_KEY_CACHE_SECONDS = 60
    created = api_key_create(account=owner_alice.account, name="CRM")
    _use_twice(created.full_key)
    plan = owner_alice.account.plan
    plan.daily_limit += 1
    plan.save()
    assert api_key_authenticate(token=created.full_key).account.plan.daily_limit == plan.daily_limit
    api_key_revoke(api_key=created.api_key, revoked_by=owner_alice.user)
    with pytest.raises(errors.RevokedApiKey):
        api_key_authenticate(token=created.full_key)


def test_without_the_cache_every_request_reads_the_key(owner_alice, settings, django_assert_num_queries):
    settings.GATEWAY_API_KEY_CACHE_SECONDS = 0
    created = api_key_create(account=owner_alice.account, name="CRM")
    _use_twice(created.full_key)
    with django_assert_num_queries(1):
        api_key_authenticate(token=created.full_key)
