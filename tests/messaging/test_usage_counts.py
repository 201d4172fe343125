"""Accepted sends are counted per instance and per account and day; the plan limits read the account's rows."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.apps import apps

from tests.factories import make_instance
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.messaging.guard.usage import local_day_bounds
from whatsapp_gateway.messaging.models import AccountDailyUsage, DailyUsage
from whatsapp_gateway.messaging.services import send_message

pytestmark = pytest.mark.django_db


def _send(account, instance: str, phone: str, **kw):
    return send_message(
        account=account, instance_ref=instance, phone=phone, text="Your order has shipped.", purpose="transactional",
        source="api", **kw,
    )  # fmt: skip


def test_sends_on_two_instances_count_once_each_in_the_account_total(owner_alice, alice_fake_instance):
    account = owner_alice.account
    make_instance(account, name="second-line", provider="fake", state="connected")
    _send(account, "support-line", "+966501234567")
    _send(account, "second-line", "+966501234568")
    _send(account, "second-line", "+966501234569")
    _send(account, "second-line", "+966501234560", dry_run=True)  # not counted
    today = local_day_bounds(account, now())[0]
    assert sorted(DailyUsage.objects.filter(day=today).values_list("count", flat=True)) == [1, 2]
    assert AccountDailyUsage.objects.get(account=account, day=today).count == 3


def test_the_upgrade_fills_the_account_totals_from_the_instance_counts(owner_alice, alice_fake_instance):
    account = owner_alice.account
    other = make_instance(account, name="second-line", provider="fake", state="connected")
    day = dt.date(2026, 3, 5)
    DailyUsage.objects.create(account=account, instance=alice_fake_instance, day=day, count=40)
    DailyUsage.objects.create(account=account, instance=other, day=day, count=2)
    DailyUsage.objects.create(account=account, instance=other, day=day + dt.timedelta(days=1), count=7)
    migration = importlib.import_module("whatsapp_gateway.messaging.migrations.0006_account_daily_usage")
    migration.fill_from_instance_counts(apps, None)
    totals = dict(AccountDailyUsage.objects.filter(account=account).values_list("day", "count"))
    assert totals == {day: 42, day + dt.timedelta(days=1): 7}
