from __future__ import annotations

from django import template

from whatsapp_gateway.lib.phone import mask

register = template.Library()


@register.filter
def phone(value: str, reveal: bool = False) -> str:
    """``{{ message.phone_e164|phone:reveal }}``: masked unless an admin asked to reveal."""
    return value if reveal else mask(value)
