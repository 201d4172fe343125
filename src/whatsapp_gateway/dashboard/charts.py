"""Server-rendered SVG charts (pygal). They need no JavaScript: the page shows them as images, with a table beside
each one for screen readers and for anyone who would rather read numbers."""

from __future__ import annotations

import datetime as dt

import pygal
from pygal.style import Style

from whatsapp_gateway.dashboard.selectors import OUTCOME_LABELS, OUTCOMES, DaySends

# The portal palette (static/css/app.css), one colour per outcome in OUTCOMES order.
OUTCOME_COLOURS = {
    "read": "#075c38",
    "delivered": "#3fa56f",
    "in_progress": "#9fb3c2",
    "failed": "#b42318",
    "blocked": "#d99a06",
}

_BASE = {
    "background": "#ffffff",
    "plot_background": "#ffffff",
    "foreground": "#3b444d",
    "foreground_strong": "#1b1f23",
    "foreground_subtle": "#dde2e7",
    "font_family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    "label_font_size": 13,
    "major_label_font_size": 13,
    "legend_font_size": 14,
    "value_font_size": 12,
    "title_font_size": 16,
    "opacity": ".95",
    "opacity_hover": "1",
    "transition": "0s",
}


def _config(**extra) -> dict:
    # js=[]: pygal would otherwise link its tooltip script from the internet; nothing loads from outside.
    return {
        "js": [],
        "explicit_size": False,
        "disable_xml_declaration": False,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": 5,
        "show_y_guides": True,
        "print_values": False,
        "margin": 12,
        "spacing": 12,
        "no_data_text": "No data yet",
        **extra,
    }


def _day_label(day: dt.date, days: int) -> str:
    return day.strftime("%a %d") if days <= 7 else day.strftime("%d %b")


def sends_chart(series: list[DaySends]) -> bytes:
    days = len(series)
    style = Style(colors=tuple(OUTCOME_COLOURS[o] for o in OUTCOMES), **_BASE)
    chart = pygal.StackedBar(
        style=style,
        width=880,
        height=340,
        x_label_rotation=0 if days <= 7 else -45,
        show_minor_x_labels=days <= 7,
        **_config(),
    )
    chart.x_labels = [_day_label(d.day, days) for d in series]
    if days > 7:
        chart.x_labels_major = [_day_label(d.day, days) for d in series[::5]]
    for outcome in OUTCOMES:
        chart.add(OUTCOME_LABELS[outcome], [d.counts[outcome] for d in series])
    return chart.render()


def blocked_chart(reasons: list[tuple[str, int]]) -> bytes:
    style = Style(colors=("#d99a06",), **_BASE)
    top = reasons[:8]
    chart = pygal.HorizontalBar(
        style=style, width=880, height=max(180, 60 + 34 * len(top)), show_legend=False, **_config()
    )
    chart.x_labels = [code for code, _ in top]
    chart.add("Blocked", [n for _, n in top])
    return chart.render()


def inbound_chart(days: list[tuple[dt.date, int]]) -> bytes:
    style = Style(colors=("#0b5cad",), **_BASE)
    count = len(days)
    chart = pygal.Bar(
        style=style,
        width=880,
        height=260,
        show_legend=False,
        x_label_rotation=0 if count <= 7 else -45,
        show_minor_x_labels=count <= 7,
        **_config(),
    )
    chart.x_labels = [_day_label(day, count) for day, _ in days]
    if count > 7:
        chart.x_labels_major = [_day_label(day, count) for day, _ in days[::5]]
    chart.add("Inbound", [n for _, n in days])
    return chart.render()
