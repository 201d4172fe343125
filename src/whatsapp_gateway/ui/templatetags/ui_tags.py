"""Design-system template tags: ``{% when %}`` for times, ``{% chip %}`` for identifiers."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html

register = template.Library()

FORMATS = {"seconds": "Y-m-d H:i:s", "minutes": "Y-m-d H:i", "date": "Y-m-d"}


@register.simple_tag
def when(value: dt.datetime | None, precision: str = "seconds", empty: str = "—") -> str:
    """``{% when message.created_at %}``: the time in the account's zone, UTC and the zone name on hover.

    Seconds at most (never microseconds); ``precision`` is "seconds", "minutes" or "date".
    """
    if isinstance(value, str):  # ISO 8601 kept in JSON (e.g. a message's status history)
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return format_html("{}", value)
    if not value:
        return format_html('<span class="muted">{}</span>', empty)
    if not isinstance(value, dt.datetime):
        return format_html("{}", date_format(value, FORMATS["date"]))
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    utc = value.astimezone(dt.UTC) if timezone.is_aware(value) else value
    return format_html(
        '<time datetime="{}" title="{} UTC">{}</time>',
        utc.isoformat(timespec="seconds").replace("+00:00", "Z"),
        utc.strftime("%Y-%m-%d %H:%M:%S"),
        date_format(local, FORMATS.get(precision, FORMATS["seconds"])),
    )


@register.simple_tag
def tz_name() -> str:
    """The zone times are shown in, for column headings: ``Time ({% tz_name %})``."""
    return timezone.get_current_timezone_name()


@register.simple_tag
def chip(value: object, copy: bool = True, label: str = "") -> str:
    """``{% chip instance.public_id %}``: a monospace value that truncates instead of breaking, full value on hover.

    With ``copy`` (the default) a small button copies the full value (static/js/portal.js, ``data-copy-text``).
    """
    text = "" if value is None else str(value)
    if not text:
        return format_html('<span class="muted">{}</span>', "—")
    if not copy:
        return format_html('<span class="chip"><code title="{}">{}</code></span>', text, text)
    return format_html(
        '<span class="chip"><code title="{}">{}</code>'
        '<button type="button" class="chip-copy" data-copy-text="{}" aria-label="Copy {}">Copy</button></span>',
        text,
        text,
        text,
        label or text,
    )


@register.filter
def width_class(percent: int | float | None) -> str:
    """``{{ 37|width_class }}`` -> "w-35": bar widths as classes, because the CSP forbids style attributes."""
    try:
        value = max(0, min(100, float(percent or 0)))
    except (TypeError, ValueError):
        value = 0
    step = int(round(value / 5) * 5)
    if value > 0 and step == 0:
        step = 5  # a non-zero figure is never drawn as an empty bar
    return f"w-{step}"


@register.simple_tag(takes_context=True)
def live(context, element_id: str, seconds: int = 5, active: bool = True) -> str:
    """``<div {% live "message-log" 5 %}>``: the element refreshes itself every few seconds (htmx polling).

    htmx fetches this same page and swaps in the element with the same id, so the view needs no partial template;
    a page that answers with a redirect (signed out) simply stops updating. ``active=False`` renders only the id
    (e.g. a message in a final state has nothing left to wait for).
    """
    if not active:
        return format_html('id="{}"', element_id)
    request = context.get("request")
    path = request.get_full_path() if request is not None else ""
    return format_html(
        'id="{}" hx-get="{}" hx-trigger="every {}s" hx-select="#{}" hx-swap="outerHTML" data-live="{}"',
        element_id,
        path,
        int(seconds),
        element_id,
        int(seconds),
    )


def _readable(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')} {_readable(v)}" for k, v in value.items()) or "none"
    if isinstance(value, list | tuple):
        return ", ".join(_readable(v) for v in value) or "none"
    return "—" if value in (None, "") else str(value)


@register.filter
def details(metadata: object) -> list[tuple[str, str]]:
    """An audit entry's metadata as (label, text) pairs: ``{"full_numbers": true}`` -> ("Full numbers", "yes")."""
    if not isinstance(metadata, dict):
        return [("Details", _readable(metadata))] if metadata else []
    return [(str(key).replace("_", " ").capitalize(), _readable(value)) for key, value in metadata.items()]
