"""The home dashboard: onboarding checklist for a new account, usage, charts (SVG) with table fallbacks."""

from __future__ import annotations

import re

import pytest

from tests.factories import make_instance
from whatsapp_gateway.apikeys.services import api_key_create
from whatsapp_gateway.messaging.models import Message, MessageStatus
from whatsapp_gateway.messaging.services import send_message

pytestmark = pytest.mark.django_db


def steps(html: str) -> dict[str, bool]:
    return {key: done == "true" for key, done in re.findall(r'data-testid="step-(\w+)" data-done="(\w+)"', html)}


def test_sign_in_lands_on_the_dashboard(client, owner_alice):
    from tests.factories import PASSWORD

    response = client.post("/accounts/login/", {"login": owner_alice.user.email, "password": PASSWORD})
    assert response["Location"] == "/dashboard"


def test_a_new_account_sees_the_checklist_and_each_step_ticks_itself_off(alice_client, owner_alice):
    account = owner_alice.account
    html = alice_client.get("/dashboard").content.decode()
    assert steps(html) == {"instance": False, "pair": False, "apikey": False, "send": False, "webhook": False}
    assert 'data-testid="chart-sends"' not in html  # no charts before the first message

    instance = make_instance(account, connected=True)
    api_key_create(account=account, name="CRM", created_by=owner_alice.user)
    assert steps(alice_client.get("/dashboard").content.decode()) == {
        "instance": True,
        "pair": True,
        "apikey": True,
        "send": False,
        "webhook": False,
    }
    send_message(
        account=account,
        instance_ref=instance.name,
        phone="+966501234567",
        text="Your order shipped.",
        purpose="transactional",
        source="api",
    )
    Message.objects.filter(account=account).update(status=MessageStatus.DELIVERED)
    html = alice_client.get("/dashboard").content.decode()
    assert steps(html)["send"] is True
    assert 'data-testid="chart-sends"' in html


def test_usage_rates_and_the_sends_table(alice_client, owner_alice):
    account = owner_alice.account
    instance = make_instance(account, connected=True)
    for i in range(4):
        send_message(
            account=account,
            instance_ref=instance.name,
            phone=f"+96650123450{i}",
            text=f"Order {i} shipped.",
            purpose="transactional",
            source="api",
        )
    ids = list(Message.objects.filter(account=account).order_by("id").values_list("id", flat=True))
    Message.objects.filter(id__in=ids[:2]).update(status=MessageStatus.READ)
    Message.objects.filter(id=ids[2]).update(status=MessageStatus.DELIVERED)
    Message.objects.filter(id=ids[3]).update(status=MessageStatus.FAILED)
    html = alice_client.get("/dashboard").content.decode()
    assert re.search(r'data-testid="usage-today".*?stat-value">4 ', html, re.S)
    assert 'data-testid="delivery-rate">75%' in html  # 3 delivered or read of 4 handed over
    assert 'data-testid="read-rate">67%' in html  # 2 read of 3 delivered
    # Today's row of the table fallback: read 2, delivered 1, in progress 0, failed 1, blocked 0, total 4.
    assert (
        '<td class="num">2</td><td class="num">1</td><td class="num">0</td><td class="num">1</td><td class="num">0</td><td class="num">4</td>'
        in html
    )


@pytest.mark.parametrize("name", ["sends", "blocked", "inbound"])
def test_charts_are_svg_without_external_scripts(alice_client, name):
    response = alice_client.get(f"/dashboard/charts/{name}.svg?days=30")
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    body = response.content.decode()
    assert "<svg" in body and "http://kozea" not in body and "//kozea.github.io" not in body


def test_unknown_chart_is_404_and_anonymous_is_sent_to_login(alice_client):
    from django.test import Client

    assert alice_client.get("/dashboard/charts/nope.svg").status_code == 404
    assert Client().get("/dashboard/charts/sends.svg").status_code == 302


def test_thousands_separators(alice_client, owner_alice):
    html = alice_client.get("/dashboard").content.decode()
    limit = owner_alice.account.plan.monthly_limit
    assert limit >= 1000 and f"of {limit:,}" in html
