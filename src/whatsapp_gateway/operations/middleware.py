"""Request-scoped operations middleware: request id, log context, access log and request metrics, and CSP."""

from __future__ import annotations

import logging
import re
import time
import uuid

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from whatsapp_gateway.lib import logs, metrics

access_logger = logging.getLogger("whatsapp_gateway.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def _route_of(request: HttpRequest) -> str:
    """The resolved URL pattern (``instances/<str:public_id>/manage``), never the raw path with its ids."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "<unmatched>"
    route = match.route or match.view_name or "<unnamed>"
    return "/" + route.lstrip("^").rstrip("$")


class RequestContextMiddleware:
    """Accept or create ``X-Request-ID``, bind the request to the log context, log and count each request.

    Place first in MIDDLEWARE so every other layer's log lines carry the request id.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = logs.bind_request(request)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request.request_id
            self._finished(request, response.status_code, time.perf_counter() - started)
            return response
        except Exception:
            self._finished(request, 500, time.perf_counter() - started)
            raise
        finally:
            logs.unbind_request(token)

    def _finished(self, request: HttpRequest, status: int, seconds: float) -> None:

        route = _route_of(request)
        metrics.http_request_recorded(route=route, method=request.method or "", status=status, seconds=seconds)
        if route in ("/healthz", "/readyz", "/metrics") and status < 400:
            return  # probes and scrapes every few seconds would drown the access log
        access_logger.info(
            "%s %s %s %.1fms",
            request.method,
            route,
            status,
            seconds * 1000,
            extra={"method": request.method, "route": route, "status": status, "duration_ms": round(seconds * 1000, 1)},
        )


class ContentSecurityPolicyMiddleware:
    """Send ``Content-Security-Policy`` on every response (it only matters for HTML, but costs nothing elsewhere).

    The portal needs no inline script or style, so the default policy allows only same-origin resources. The Django
    admin and the Swagger UI at ``/api/docs`` set some inline ``style`` attributes, so those paths also get
    ``style-src 'unsafe-inline'`` (scripts stay same-origin only).
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = settings.GATEWAY_CSP
        self.relaxed = settings.GATEWAY_CSP_RELAXED
        self.relaxed_prefixes = tuple(settings.GATEWAY_CSP_RELAXED_PATHS)
        self.header = (
            "Content-Security-Policy-Report-Only" if settings.GATEWAY_CSP_REPORT_ONLY else "Content-Security-Policy"
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not self.policy or self.header in response:
            return response
        relaxed = request.path.startswith(self.relaxed_prefixes)
        response[self.header] = self.relaxed if relaxed else self.policy
        return response
