"""Errors raised before an API view runs still use the contract's envelope.

Django answers an unknown path under ``/api/`` with an HTML 404 and a wrong method with a bare 405; this rewrites
those (and any other non-JSON error) into ``{"success": false, "error": ..., "message": ..., "details": {}}``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from whatsapp_gateway.lib import errors

_BY_STATUS: dict[int, type[errors.GatewayError]] = {
    400: errors.InvalidJson,
    404: errors.NotFound,
    405: errors.MethodNotAllowed,
    413: errors.PayloadTooLarge,
    415: errors.UnsupportedMediaType,
}
_SKIP = ("/api/docs",)


class ApiErrorEnvelopeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        path = request.path
        if not path.startswith("/api/") or path.startswith(_SKIP) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        error_class = _BY_STATUS.get(response.status_code)
        if error_class is None:
            exc = errors.GatewayError()
            body = {**exc.as_body(), "error": "http_error", "message": f"HTTP {response.status_code}."}
        else:
            exc = error_class()
            if response.status_code == 404:
                exc = errors.NotFound(f"There is no API endpoint {request.method} {path}.")
            body = exc.as_body()
        rewritten = JsonResponse(body, status=response.status_code)
        if response.has_header("Allow"):
            rewritten["Allow"] = response["Allow"]
        return rewritten
