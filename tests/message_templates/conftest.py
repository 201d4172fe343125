"""Template fixtures: a staff operator and helpers that create templates through the services."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import make_operator
from whatsapp_gateway.message_templates.services import template_approve, template_submit


@pytest.fixture
def staff_oscar(db):
    return make_operator("oscar@gateway.example")


@pytest.fixture
def oscar_client(staff_oscar) -> Client:
    client = Client()
    client.force_login(staff_oscar)
    return client


def submit(membership, *, name="order_shipped", body="Your order {{1}} has shipped today.", **fields):
    data = {"language": "en", "category": "utility", "use_case": "after dispatch"}
    data.update(fields)
    return template_submit(account=membership.account, actor=membership.user, name=name, body=body, **data)


def approved(membership, operator, **fields):
    return template_approve(template=submit(membership, **fields), operator=operator)
