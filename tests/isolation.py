"""Tenant isolation: any portal URL naming another account's object must answer 404 (never 403, 200 or 302).

Two tools live here:

``assert_other_account_gets_404(client, url)``
    for a test that already has an object: ``client`` is logged in to a *different* account than the object's.

The factory registry used by ``tests/test_tenant_isolation.py``
    That test walks **every** registered URL pattern with a keyword argument (``<str:instance_id>``, …), builds an
    object of Alice's account for each argument, and checks that Charlie (another account) gets 404 while Alice
    herself does not. It fails loudly when a route names an argument no factory knows.

How to cover a new route (e.g. ``/widgets/<str:widget_id>/edit``): add a factory below, keyed by the URL keyword
argument, that creates the object *for the given account* through the services and returns ``{kwarg: public_id}``::

    @object_factory("widget_id")
    def _widget(account, built):
        from whatsapp_gateway.widgets.services import widget_create

        return {"widget_id": widget_create(account=account, name=unique("widget")).public_id}

``built`` holds the keyword arguments already made for the same URL, so a nested route
(``/webhooks/<endpoint_id>/deliveries/<delivery_id>``) can make the delivery under that endpoint. A factory may
return several keyword arguments at once. When one keyword argument means different objects on different routes
(``message_id`` is an outbound message on ``messaging:detail`` and an inbound one on ``inbound:detail``), register
with ``route="namespace:name"`` as well; the route-specific factory wins. Routes that are not portal pages (the
Bearer-key API, provider callbacks, the 3CX webhook) are listed in ``NOT_PORTAL_ROUTES`` with the reason.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable

from django.test import Client

ObjectFactory = Callable[..., dict[str, str]]

FACTORIES: dict[str, ObjectFactory] = {}
ROUTE_FACTORIES: dict[tuple[str, str], ObjectFactory] = {}

# Routes with keyword arguments that are not tenant-scoped portal pages, and why they are exempt here.
NOT_PORTAL_ROUTES: dict[str, str] = {
    "api:": "the JSON API authenticates with an API key; tests/messaging covers invalid_instance / 404 per key",
    "threecx:threecx_api:": "the 3CX webhook authenticates per integration; tests/threecx/test_webhook_auth.py",
    "providers:callback": "provider callbacks authenticate with a per-instance token; tests/providers",
    "dashboard:chart": "<name> is a chart kind, not an object id; every chart reads the signed-in account's own data",
}
# Route prefixes owned by libraries: the operator back office (staff only) and allauth (keys, not object ids).
LIBRARY_PREFIXES = ("admin/", "accounts/")

_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_counter)}"


def assert_other_account_gets_404(client: Client, url: str, *, methods: tuple[str, ...] = ("get",)) -> None:
    """``client`` is logged in as a user of a *different* account than the object in ``url``."""
    for method in methods:
        response = getattr(client, method)(url)
        assert response.status_code == 404, (
            f"{method.upper()} {url} answered {response.status_code} to another account; expected 404"
        )


def object_factory(kwarg: str, *, route: str | None = None) -> Callable[[ObjectFactory], ObjectFactory]:
    def register(factory: ObjectFactory) -> ObjectFactory:
        if route is None:
            FACTORIES[kwarg] = factory
        else:
            ROUTE_FACTORIES[(route, kwarg)] = factory
        return factory

    return register


def factory_for(route: str, kwarg: str) -> ObjectFactory | None:
    return ROUTE_FACTORIES.get((route, kwarg)) or FACTORIES.get(kwarg)


def build_kwargs(route: str, kwargs: list[str], account) -> dict[str, str]:
    built: dict[str, str] = {}
    for kwarg in kwargs:
        if kwarg in built:
            continue
        factory = factory_for(route, kwarg)
        if factory is None:
            raise LookupError(f"no isolation factory for <{kwarg}> on {route}; see tests/isolation.py")
        built.update(factory(account, built))
    return built


# --- Factories: one per URL keyword argument --------------------------------------------------------------------


def _instance_for(account, built: dict[str, str]):
    from whatsapp_gateway.instances.models import Instance

    if "instance_id" in built:
        return Instance.objects.get(public_id=built["instance_id"])
    from tests.factories import make_instance

    return make_instance(account, name=unique("iso-line"))


@object_factory("membership_id")
def _membership(account, built):
    from tests.factories import add_member

    return {"membership_id": add_member(account, email=f"{unique('iso')}@example.com", role="member").public_id}


@object_factory("instance_id")
def _instance(account, built):
    return {"instance_id": _instance_for(account, built).public_id}


@object_factory("key_id")
def _api_key(account, built):
    from whatsapp_gateway.apikeys.services import api_key_create

    return {"key_id": api_key_create(account=account, name=unique("iso-key")).api_key.public_id}


@object_factory("message_id", route="messaging:detail")
def _outbound_message(account, built):
    """A blocked attempt is recorded in the message log like a sent one; it needs no provider."""
    from whatsapp_gateway.lib import errors
    from whatsapp_gateway.messaging.models import Message
    from whatsapp_gateway.messaging.services import send_message

    instance = _instance_for(account, built)
    with contextlib.suppress(errors.GatewayError):  # blocked by purpose, and recorded
        send_message(
            account=account,
            instance_ref=instance.name,
            phone="+966501234567",
            text="Isolation check",
            purpose="marketing",
            source="api",
        )
    return {"message_id": Message.objects.filter(account=account).latest("id").public_id}


@object_factory("message_id", route="inbound:detail")
def _inbound_message(account, built):
    from tests.inbound.helpers import deliver, text_event
    from whatsapp_gateway.inbound.models import InboundMessage

    deliver(_instance_for(account, built), text_event("Isolation check"))
    return {"message_id": InboundMessage.objects.filter(account=account).latest("id").public_id}


@object_factory("suppression_id")
def _suppression(account, built):
    from whatsapp_gateway.suppression.services import suppression_add

    phone = f"+96650{next(_counter):07d}"
    return {"suppression_id": suppression_add(account=account, phone_e164=phone).public_id}


@object_factory("endpoint_id")
def _endpoint(account, built):
    """Disabled, so nothing is ever delivered to it; the URL check needs GATEWAY_ALLOW_PRIVATE_WEBHOOKS."""
    from whatsapp_gateway.webhooks.endpoints import endpoint_create

    endpoint, _secret = endpoint_create(
        account=account,
        instance=_instance_for(account, built),
        url="http://127.0.0.1:9/isolation",
        events=["message.received"],
        is_enabled=False,
    )
    return {"endpoint_id": endpoint.public_id}


def _event(account, built):
    from whatsapp_gateway.webhooks.outbox import event_emit

    return event_emit(
        account=account,
        instance=_instance_for(account, built),
        event_type="message.received",
        data={"from": "+966501234567", "message_text": "Isolation check", "message_type": "text"},
    )


@object_factory("event_id")
def _event_id(account, built):
    return {"event_id": _event(account, built).public_id}


@object_factory("delivery_id")
def _delivery(account, built):
    from whatsapp_gateway.webhooks.models import Endpoint
    from whatsapp_gateway.webhooks.outbox import delivery_create

    if "endpoint_id" not in built:
        built = {**built, **_endpoint(account, built)}
    endpoint = Endpoint.objects.get(public_id=built["endpoint_id"])
    delivery = delivery_create(endpoint=endpoint, event=_event(account, built))
    return {"endpoint_id": built["endpoint_id"], "delivery_id": delivery.public_id}


@object_factory("integration_id")
def _threecx_integration(account, built):
    from whatsapp_gateway.threecx.services import integration_create

    integration, _credentials = integration_create(
        account=account, name=unique("iso-3cx"), default_instance=_instance_for(account, built)
    )
    return {"integration_id": integration.public_id}


@object_factory("template_id")
def _template(account, built):
    from whatsapp_gateway.message_templates.services import template_submit

    template = template_submit(
        account=account,
        actor=None,
        name=unique("iso_template").replace("-", "_"),
        language="en",
        category="utility",
        body="Your order {{1}} has shipped today.",
        use_case="isolation check",
    )
    return {"template_id": template.public_id}
