"""``__any_of``: the same rows as ``__in``; one array parameter on PostgreSQL whatever the list's length."""

from __future__ import annotations

import pytest
from django.db import connection

from whatsapp_gateway.accounts.models import Plan
from whatsapp_gateway.lib import lookups  # noqa: F401 - registers the lookup

pytestmark = pytest.mark.django_db


def test_any_of_selects_what_in_selects():
    ids = list(Plan.objects.values_list("id", flat=True))
    assert len(ids) >= 2
    wanted = [ids[0], ids[-1], None, 10**12]  # None and unknown ids match nothing
    assert sorted(Plan.objects.filter(id__any_of=wanted).values_list("id", flat=True)) == sorted(
        Plan.objects.filter(id__in=wanted).values_list("id", flat=True)
    )
    assert not Plan.objects.filter(id__any_of=[]).exists()
    assert not Plan.objects.filter(id__any_of=[None]).exists()
    assert Plan.objects.filter(id__any_of=ids).update(max_instances=3) == len(ids)


def test_any_of_sends_one_parameter_on_postgresql():
    many = list(range(1, 301))
    sql, params = Plan.objects.filter(id__any_of=many).query.sql_with_params()
    if connection.vendor == "postgresql":
        assert "= ANY(%s)" in sql and len(params) == 1 and params[0] == many
    else:
        assert " IN (" in sql and len(params) == len(many)
