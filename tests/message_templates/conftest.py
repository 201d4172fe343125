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


# The Cloud instance wired to the fake Graph API, and the messaging API key.
from tests.messaging.conftest import alice_key  # noqa: E402, F401


@pytest.fixture
def cloud_line(owner_alice, fake_cloud):
    """A connected Cloud API instance of Alice's account on the fake Graph API."""
    from tests.factories import make_instance

    return make_instance(
        owner_alice.account,
        provider="cloud",
        name="cloud-line",
        provider_ref="106540352242922",
        credentials={"verify_token": "vt"},
        state="connected",
    )


def wrote_earlier(instance, phone: str) -> None:
    from django.utils import timezone

    from whatsapp_gateway.contacts.models import Contact, Conversation

    contact, _ = Contact.objects.get_or_create(account=instance.account, phone_e164=phone)
    Conversation.objects.update_or_create(
        account=instance.account, instance=instance, contact=contact, defaults={"last_inbound_at": timezone.now()}
    )
