"""Endpoint kinds: how each kind of endpoint builds its request and which events it takes.

An :class:`~whatsapp_gateway.webhooks.models.Endpoint` is any destination that receives events durably, with the
same outbox, claim, retry schedule, ``Retry-After``/``410`` handling, URL safety, per-endpoint concurrency limit and
delivery log as customer webhooks. What differs per kind is only the request: register a builder once, in your
``AppConfig.ready()`` (the 3CX app does, for ``kind="threecx"``)::

    from whatsapp_gateway.webhooks.kinds import OutgoingRequest, register_kind

    def build_threecx_request(endpoint, event, delivery, timestamp) -> OutgoingRequest:
        body = json.dumps(envelope_from(event.payload)).encode()
        return OutgoingRequest(body=body, headers={"Authorization": "Bearer ...", "Content-Type": "application/json"})

    register_kind("threecx", build_threecx_request, accepts=lambda endpoint, event: ...)  # accepts is optional

Then create the endpoint with ``webhooks.endpoints.endpoint_create(account=..., kind="threecx", url=...,
events=["message.received"], instance=None)`` (``instance=None`` = every instance of the account). Every
``outbox.event_emit`` of a subscribed type creates a delivery for it in the emitting transaction (if ``accepts``
returns True); or create one explicitly with ``outbox.delivery_create(endpoint=..., event=...)``. Update it with
``endpoint_update`` (URL, events, enabled). The log is at ``webhooks:endpoint_deliveries`` (URL
``/webhooks/<whk_…>/deliveries``). ``delivery.signed_json_request`` builds the customer-style signed request from
any JSON body, for a "signed native JSON" mode.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from whatsapp_gateway.webhooks.models import Delivery, Endpoint, Event


@dataclass(frozen=True)
class OutgoingRequest:
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


RequestBuilder = Callable[[Endpoint, Event, Delivery, int], OutgoingRequest]
Accepts = Callable[[Endpoint, Event], bool]


@dataclass(frozen=True)
class _Kind:
    build: RequestBuilder
    accepts: Accepts | None


_KINDS: dict[str, _Kind] = {}


def register_kind(kind: str, build: RequestBuilder, *, accepts: Accepts | None = None) -> None:
    """Register how requests for endpoints of ``kind`` are built (and, optionally, which events they take)."""
    _KINDS[kind] = _Kind(build=build, accepts=accepts)


def kind_accepts(endpoint: Endpoint, event: Event) -> bool:
    spec = _KINDS.get(endpoint.kind)
    return spec is None or spec.accepts is None or spec.accepts(endpoint, event)


def kind_builder(kind: str) -> RequestBuilder | None:
    """The request builder registered for ``kind``, if any (customer endpoints use the default signed request)."""
    spec = _KINDS.get(kind)
    return spec.build if spec is not None else None
