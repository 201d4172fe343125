"""Render dates in the signed-in account's time zone on every portal page."""

from __future__ import annotations

import zoneinfo

from django.db import DatabaseError
from django.utils import timezone


class AccountTimezoneMiddleware:
    """Activates the account's time zone for the request (templates then show local times; UTC stays on hover)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        get_membership = getattr(request, "get_membership", None)
        try:
            membership = get_membership() if get_membership and request.user.is_authenticated else None
        except DatabaseError:
            # An outage is answered by the view's 503 handling (pages.middleware), not from here.
            membership = None
        if membership is not None:
            try:
                timezone.activate(zoneinfo.ZoneInfo(membership.account.timezone))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
