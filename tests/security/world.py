"""One of every customer-owned object, all in one account, for route matrices (tenant isolation, CSRF).

``build_world(membership, capture)`` creates them through the services and returns the value each URL keyword
takes; ``ROUTE_VALUES`` maps a route's keyword (or ``route:keyword`` where one name means different objects) to
the world's key.
"""

from __future__ import annotations

from tests.factories import add_member, make_instance
from whatsapp_gateway.apikeys.services import api_key_create
from whatsapp_gateway.inbound.models import InboundMessage
from whatsapp_gateway.message_templates.services import template_submit
from whatsapp_gateway.messaging.models import Message
from whatsapp_gateway.messaging.services import send_message
from whatsapp_gateway.providers.sandbox import simulate
from whatsapp_gateway.suppression.services import suppression_add
from whatsapp_gateway.threecx.services import integration_create
from whatsapp_gateway.webhooks.endpoints import endpoint_create
from whatsapp_gateway.webhooks.models import Delivery
from whatsapp_gateway.webhooks.outbox import event_emit


def build_world(membership, capture) -> dict[str, str]:
    account, user = membership.account, membership.user
    with capture(execute=True):
        instance = make_instance(account, name="world-line", connected=True)
    with capture(execute=True):
        simulate.inbound(instance=instance, from_phone="+966501110000", text="Hello from the world")
    member = add_member(account, email=f"member-{account.public_id}@example.com", role="member")
    key = api_key_create(account=account, name="world key", created_by=user)
    outcome = send_message(
        account=account,
        instance_ref=instance,
        phone="+966501110001",
        text="Your order has shipped.",
        purpose="transactional",
        source="api",
    )
    suppression = suppression_add(account=account, phone_e164="+966501110002", actor=user)
    endpoint, _ = endpoint_create(
        account=account, instance=instance, url="http://127.0.0.1:9/in", events=["message.received"], actor=user
    )
    event = event_emit(account=account, instance=instance, event_type="message.received", data={"message_text": "x"})
    delivery = Delivery.objects.filter(endpoint=endpoint).order_by("-id").first()
    integration, _ = integration_create(account=account, name="World PBX", default_instance=instance)
    template = template_submit(
        account=account,
        actor=user,
        name="world_order_shipped",
        language="en",
        category="utility",
        body="Your order {{1}} has shipped today.",
    )
    return {
        "instance": instance.public_id,
        "membership": member.public_id,
        "api_key": key.api_key.public_id,
        "api_key_plain": key.full_key,
        "message": Message.objects.get(public_id=outcome.message_id).public_id,
        "inbound": InboundMessage.objects.filter(account=account).latest("id").public_id,
        "suppression": suppression.public_id,
        "endpoint": endpoint.public_id,
        "delivery": delivery.public_id,
        "event": event.public_id,
        "integration": integration.public_id,
        "template": template.public_id,
        "chart": "sends",  # a chart kind of the dashboard, not an object: it always reads the own account
    }


# URL keyword -> world key; "route-prefix:keyword" for keywords whose meaning depends on the route.
ROUTE_VALUES = {
    "instance_id": "instance",
    "membership_id": "membership",
    "key_id": "api_key",
    "messages/:message_id": "message",
    "inbound-logs/:message_id": "inbound",
    "suppression_id": "suppression",
    "endpoint_id": "endpoint",
    "delivery_id": "delivery",
    "event_id": "event",
    "integration_id": "integration",
    "template_id": "template",
    "dashboard/charts/:name": "chart",
}


def value_for(route: str, keyword: str, world: dict[str, str]) -> str:
    for prefix_key, world_key in ROUTE_VALUES.items():
        if ":" in prefix_key:
            prefix, name = prefix_key.split(":")
            if name == keyword and route.startswith(prefix):
                return world[world_key]
    if keyword in ROUTE_VALUES:
        return world[ROUTE_VALUES[keyword]]
    raise KeyError(f"no world object for <{keyword}> in {route}: add one to tests/security/world.py")
