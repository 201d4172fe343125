"""The benchmark's floor endpoint exists only for a server started with ``GATEWAY_BENCH_FLOOR=1``."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test import RequestFactory

from tests.messaging.conftest import body
from whatsapp_gateway.apikeys.models import ApiKey
from whatsapp_gateway.messaging import floor

pytestmark = pytest.mark.django_db


def test_the_floor_is_not_routed_in_production(alice_api):
    response = alice_api.client.post("/api/bench/floor", data=json.dumps(body()), content_type="application/json",
                                     **alice_api.headers())  # fmt: skip
    assert response.status_code == 404


def test_the_floor_writes_one_row_as_wide_as_a_message_row(owner_alice, alice_key):
    api_key = ApiKey.objects.select_related("account").get(account=owner_alice.account)
    floor._insert_sql.cache_clear()  # the test's transaction rolls the table back
    request = RequestFactory().post("/api/bench/floor", data=json.dumps(body()), content_type="application/json")
    request.auth = api_key
    response = floor.floor_view(request)
    assert response.status_code == 200
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {floor.FLOOR_TABLE}")  # noqa: S608
        assert cursor.fetchone()[0] == 1
        cursor.execute(f"SELECT * FROM {floor.FLOOR_TABLE} WHERE 1 = 0")  # noqa: S608
        columns = {c[0] for c in cursor.description}
    floor._insert_sql.cache_clear()
    assert columns == {f.column for f in floor.Message._meta.concrete_fields}
