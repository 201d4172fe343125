"""Public pages: landing/health, readiness, policy and documentation pages."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from whatsapp_gateway.accounts.models import Plan
from whatsapp_gateway.messaging import policy
from whatsapp_gateway.pages.endpoints import ENDPOINT_MAP
from whatsapp_gateway.pages.sdk import sdk_error_rows, sdk_event_rows
from whatsapp_gateway.webhooks.catalogue import events_by_group


def _health_body() -> dict:
    return {"status": "ok", "service": "whatsapp-gateway", "version": settings.VERSION}


def _wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(_health_body())
    return render(request, "pages/landing.html", {"plans": Plan.objects.filter(is_custom=False)})


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. No dependencies are checked here."""
    return JsonResponse(_health_body())


def _check_database() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not ready"; the type is reported, never a traceback
        return False, type(exc).__name__
    return True, "ok"


def _check_queue() -> tuple[bool, str]:
    from huey.contrib.djhuey import HUEY

    try:
        HUEY.pending_count()
    except Exception as exc:  # broker unreachable
        return False, type(exc).__name__
    return True, "ok"


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: the database and the job queue answer. 503 when either does not."""
    db_ok, db_detail = _check_database()
    queue_ok, queue_detail = _check_queue()
    ready = db_ok and queue_ok
    body = {
        "status": "ok" if ready else "unavailable",
        "checks": {"database": db_detail, "queue": queue_detail},
    }
    return JsonResponse(body, status=200 if ready else 503)


@require_GET
def acceptable_use(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "pages/acceptable_use.html",
        {"allowed": policy.ALLOWED_PURPOSES, "disallowed": policy.DISALLOWED_PURPOSES},
    )


@require_GET
def responsible_messaging(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "pages/responsible_messaging.html",
        {
            "policy": policy,
            "allowed": policy.ALLOWED_PURPOSES,
            "disallowed": policy.DISALLOWED_PURPOSES,
            "plans": Plan.objects.all(),
            "errors": policy.ERROR_TABLE,
            "warmup": _warmup_rows(),
            "shorteners": sorted(policy.LINK_SHORTENERS),
            "active_nav": "docs",
        },
    )


def _warmup_rows() -> list[tuple[str, int]]:
    rows, first = [], 1
    for last, cap in policy.WARMUP_STEPS:
        rows.append((f"Days {first}–{last}", cap))
        first = last + 1
    return rows


@require_GET
def docs_index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "pages/docs.html",
        {
            "endpoints": ENDPOINT_MAP,
            "event_groups": events_by_group(),
            "base_url": settings.GATEWAY_BASE_URL,
            "active_nav": "docs",
        },
    )


@require_GET
def docs_sdk_python(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "pages/docs_sdk_python.html",
        {
            "base_url": settings.GATEWAY_BASE_URL,
            "error_rows": sdk_error_rows(),
            "event_rows": sdk_event_rows(),
            "active_nav": "docs",
        },
    )
