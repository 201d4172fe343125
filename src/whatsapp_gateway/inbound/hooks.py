"""Forwarders: where inbound messages go after opt-out handling (e.g. the 3CX bridge).

An app registers a forwarder in its ``AppConfig.ready()``::

    from whatsapp_gateway.inbound.hooks import register_forwarder
    register_forwarder(threecx_forward_inbound)

A forwarder is ``fn(inbound, *, is_opt_out) -> str | None``. It is called inside the callback's transaction,
*after* opt-out handling (so ``inbound.is_opt_out`` and the suppression row already exist), once per new inbound
message (never for a duplicated provider delivery). It should only record what it wants to do and enqueue its
work with ``transaction.on_commit``; it returns a ``ForwardingStatus`` value (``"pending"``, ``"skipped"``, …) to
store on the row, or ``None`` when the message is not for it. Later outcomes are recorded with
``inbound.services.inbound_forwarding_update``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from whatsapp_gateway.inbound.models import InboundMessage

Forwarder = Callable[..., "str | None"]
_FORWARDERS: list[Forwarder] = []


def register_forwarder(fn: Forwarder) -> None:
    if fn not in _FORWARDERS:
        _FORWARDERS.append(fn)


def unregister_forwarder(fn: Forwarder) -> None:
    if fn in _FORWARDERS:
        _FORWARDERS.remove(fn)


def forwarders() -> list[Forwarder]:
    return list(_FORWARDERS)


def run_forwarders(inbound: InboundMessage, *, is_opt_out: bool) -> str | None:
    """Call every forwarder; returns the last status a forwarder gave (``None`` if none took the message)."""
    status = None
    for fn in forwarders():
        result = fn(inbound, is_opt_out=is_opt_out)
        if result:
            status = result
    return status
