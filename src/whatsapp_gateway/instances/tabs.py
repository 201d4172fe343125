"""Tabs of the instance manage page (``/instances/{id}/manage?tab=…``).

Each app contributes its tab from its ``AppConfig.ready()``:

    register_tab("webhook", "Webhook", webhook_tab_view, order=20)

Apps can also put a short status above the tabs (``register_notice(fn)``, ``fn(instance) -> str``: rendered HTML,
empty when there is nothing to say), e.g. the send queue's pause.

A tab view is ``view(request, instance) -> HttpResponse``; it handles GET and POST (forms post back to
``?tab=<key>``) and renders a template that extends ``instances/manage_base.html`` through ``render_tab``.
The manage view has already checked login, account membership and that the instance belongs to the account.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@dataclass(frozen=True)
class ManageTab:
    key: str
    label: str
    view: Callable[..., HttpResponse]
    order: int = 100


_TABS: dict[str, ManageTab] = {}
_NOTICES: list[Callable[..., str]] = []


def register_tab(key: str, label: str, view: Callable[..., HttpResponse], *, order: int = 100) -> None:
    _TABS[key] = ManageTab(key=key, label=label, view=view, order=order)


def register_notice(notice: Callable[..., str]) -> None:
    if notice not in _NOTICES:
        _NOTICES.append(notice)


def tabs() -> list[ManageTab]:
    return sorted(_TABS.values(), key=lambda tab: (tab.order, tab.key))


def get_tab(key: str) -> ManageTab | None:
    return _TABS.get(key)


def render_tab(
    request: HttpRequest, instance, template: str, context: dict | None = None, *, status: int = 200
) -> HttpResponse:
    """Render a tab template with what ``manage_base.html`` needs (instance, tab list, active tab)."""
    requested = request.GET.get("tab") or "connection"
    active = requested if requested in _TABS else "connection"  # unknown tabs show the connection tab
    notices = [html for html in (notice(instance) for notice in _NOTICES) if html]
    base = {
        "instance": instance,
        "tabs": tabs(),
        "active_tab": active,
        "active_nav": "instances",
        "instance_notices": notices,
    }
    return render(request, template, {**base, **(context or {})}, status=status)
