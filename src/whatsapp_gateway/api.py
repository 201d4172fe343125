"""The public JSON API (Django Ninja): one NinjaAPI, routers from the apps, the contract's error envelope."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from whatsapp_gateway import __version__
from whatsapp_gateway.lib import errors
from whatsapp_gateway.messaging.api import router as messaging_router
from whatsapp_gateway.messaging.floor import router as floor_router
from whatsapp_gateway.threecx.api import threecx_api
from whatsapp_gateway.webhooks.openapi import add_webhooks

logger = logging.getLogger(__name__)


class GatewayAPI(NinjaAPI):
    """The public API. Public routes that cannot live under ``/api/`` (the 3CX webhook at ``/integrations/3cx/…``)
    run on their own NinjaAPI, registered with ``include_external``; their paths and schemas join this API's
    OpenAPI document, so ``/openapi.json`` and ``/api/docs`` describe every public route."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.external_apis: list[tuple[NinjaAPI, str]] = []
        self.schema_extenders: list = []  # fn(schema) -> None, e.g. the webhooks app adds its event schemas

    def add_schema_extender(self, extender) -> None:
        if extender not in self.schema_extenders:
            self.schema_extenders.append(extender)

    def include_external(self, other: NinjaAPI, *, path_prefix: str) -> None:
        if all(existing is not other for existing, _ in self.external_apis):
            self.external_apis.append((other, path_prefix))

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: dict | None = None):
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        for other, prefix in self.external_apis:
            extra = other.get_openapi_schema(path_prefix=prefix)
            schema["paths"].update(extra["paths"])
            components = schema.setdefault("components", {})
            for section, entries in extra.get("components", {}).items():
                components.setdefault(section, {}).update(entries)
        for extender in self.schema_extenders:
            extender(schema)
        return schema


api = GatewayAPI(
    title="WhatsApp Gateway API",
    version=__version__,
    description=(
        "Guarded WhatsApp sending for support, transactional and operational messages. "
        "Authenticate with `Authorization: Bearer wg_live_…`. Every error has the shape "
        '`{"success": false, "error": "<code>", "message": "…", "details": {…}}`.'
    ),
    docs_url="/docs",
    openapi_url="/openapi.json",
    urls_namespace="api",
)


def error_response(exc: errors.GatewayError) -> JsonResponse:
    response = JsonResponse(exc.as_body(), status=exc.status, json_dumps_params={"ensure_ascii": False})
    for name, value in exc.headers.items():
        response[name] = value
    return response


@api.exception_handler(errors.GatewayError)
def _gateway_error(request: HttpRequest, exc: errors.GatewayError) -> HttpResponse:
    return error_response(exc)


def _field_from_loc(loc) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "payload", "query", "path", "header")]
    return ".".join(parts) or None


@api.exception_handler(NinjaValidationError)
def _validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    # Never let raw pydantic text reach a client: name the field, say what is expected in our own words.
    first = exc.errors[0] if exc.errors else {}
    field = _field_from_loc(first.get("loc", ()))
    message = f"The field '{field}' is missing or malformed." if field else "The request is malformed."
    return error_response(errors.ValidationFailed(message, details={"field": field}))


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(errors.InvalidApiKey())


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(errors.NotFound())


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    by_status = {
        400: errors.InvalidJson,
        404: errors.NotFound,
        405: errors.MethodNotAllowed,
        413: errors.PayloadTooLarge,
    }
    cls = by_status.get(exc.status_code)
    if cls is None:
        body = {"success": False, "error": "http_error", "message": str(exc), "details": {}}
        return JsonResponse(body, status=exc.status_code)
    return error_response(cls())


@api.exception_handler(DatabaseError)
def _database_unavailable(request: HttpRequest, exc: DatabaseError) -> HttpResponse:
    # An outage, not a bug in this request: 503 + Retry-After (pages get the same from pages.middleware).
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return _unexpected(request, exc)
    logger.warning("database unavailable (%s) on %s %s", type(exc).__name__, request.method, request.path)
    return error_response(errors.ServiceUnavailable(headers={"Retry-After": "30"}))


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("unhandled API error on %s %s", request.method, request.path)
    return error_response(errors.InternalError())


def _add_routers() -> None:
    api.add_router("/", messaging_router)
    if settings.GATEWAY_BENCH_FLOOR:  # the benchmark's floor endpoint; never routed in production
        api.add_router("/", floor_router)
    api.include_external(threecx_api, path_prefix="/integrations/3cx")  # the 3CX webhook, outside /api/
    api.add_schema_extender(add_webhooks)  # the webhook event payloads


_add_routers()


def openapi_json(request: HttpRequest) -> JsonResponse:
    """The public API's OpenAPI document at /openapi.json (docs/api.md "Routes")."""
    return JsonResponse(api.get_openapi_schema(path_prefix="/api"), json_dumps_params={"ensure_ascii": False})
