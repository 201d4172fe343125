"""Template context for the portal shell: navigation, current account and role."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

# (key matched against a view's ``active_nav``, sentence-case label, URL name)
NAV_ITEMS = [
    ("dashboard", "Dashboard", "dashboard:home"),
    ("instances", "Instances", "instances:list"),
    ("apikeys", "API keys", "apikeys:list"),
    ("messages", "Message log", "messaging:log"),
    ("checker", "Message checker", "messaging:checker"),
    ("templates", "Templates", "message_templates:list"),
    ("suppression", "Suppressed recipients", "suppression:list"),
    ("inbound", "Inbound logs", "inbound:list"),
    ("threecx", "3CX integration", "threecx:list"),
    ("docs", "Docs", "pages:docs"),
]


def portal(request: HttpRequest) -> dict:
    membership = None
    get_membership = getattr(request, "get_membership", None)
    if get_membership is not None and request.user.is_authenticated:
        membership = get_membership()
    return {
        "nav_items": NAV_ITEMS,
        "current_membership": membership,
        "current_account": membership.account if membership else None,
        "is_account_admin": bool(membership and membership.has_role("admin")),
        "gateway_version": settings.VERSION,
        "gateway_provider": settings.GATEWAY_PROVIDER,
        "signup_enabled": settings.GATEWAY_SIGNUP_ENABLED,
        # Without SMTP settings emails are written to files: the sign-up pages say where to find them.
        "mail_folder": getattr(settings, "EMAIL_FILE_PATH", "")
        if settings.EMAIL_BACKEND.endswith("filebased.EmailBackend")
        else "",
    }
