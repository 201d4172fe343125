"""A database outage answers 503 with ``Retry-After``, never a 500: machines get the API envelope, people a page."""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from whatsapp_gateway.lib.errors import ServiceUnavailable

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30
_MACHINE_PREFIXES = ("/api/", "/integrations/3cx/webhook/", "/providers/", "/openapi.json", "/metrics")


class DatabaseUnavailableMiddleware:
    """Turn "cannot reach the database" into 503 for every route (``/readyz`` reports it without raising)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        # The driver's message can name hosts and users: log the type only, at warning level (it is an outage,
        # not a bug in this request).
        logger.warning("database unavailable (%s) on %s", type(exception).__name__, request.path)
        error = ServiceUnavailable()
        if request.path.startswith(_MACHINE_PREFIXES) or "application/json" in request.headers.get("Accept", ""):
            response: HttpResponse = JsonResponse(error.as_body(), status=error.status)
        else:
            response = HttpResponse(render_to_string("pages/unavailable.html"), status=error.status)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
