"""Routes normalised events to the app that owns them.

Apps register handlers in their ``AppConfig.ready()``: ``register(MessageStatusUpdate, messaging_handler)``.
A handler is ``handler(instance, event) -> None`` and runs inside the callback job's transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from whatsapp_gateway.providers.base import NormalisedEvent

Handler = Callable[..., None]
_HANDLERS: dict[type[NormalisedEvent], list[Handler]] = defaultdict(list)


def register(event_class: type[NormalisedEvent], handler: Handler) -> None:
    if handler not in _HANDLERS[event_class]:
        _HANDLERS[event_class].append(handler)


def handlers_for(event: NormalisedEvent) -> list[Handler]:
    return list(_HANDLERS.get(type(event), []))


def dispatch(instance, event: NormalisedEvent) -> int:
    """Call every handler registered for the event's type; returns how many ran."""
    handlers = handlers_for(event)
    for handler in handlers:
        handler(instance, event)
    return len(handlers)
