"""Helpers for inbound tests: an instance and provider events delivered through the real dispatcher."""

from __future__ import annotations

import datetime as dt
import itertools

from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.providers import base, dispatch

_ids = itertools.count(1)


def text_event(
    text: str = "Hello",
    *,
    phone: str = "+966512345678",
    sender_id: str | None = None,
    lid: str = "",
    name: str = "Maria",
    message_id: str | None = None,
    at: dt.datetime | None = None,
    **extra,
) -> base.InboundMessage:
    jid = sender_id if sender_id is not None else (phone.lstrip("+") + "@s.whatsapp.net" if phone else lid)
    return base.InboundMessage(
        provider_message_id=message_id or f"3A{next(_ids):018d}",
        chat_id=extra.pop("chat_id", jid),
        sender_id=jid,
        sender_phone=phone,
        sender_lid=lid,
        sender_name=name,
        text=text,
        occurred_at=at,
        **extra,
    )


def deliver(instance: Instance, event: base.NormalisedEvent) -> int:
    """What the callback job does with a parsed event (the callback route runs this inside its transaction)."""
    from django.db import transaction

    with transaction.atomic():
        return dispatch.dispatch(instance, event)
