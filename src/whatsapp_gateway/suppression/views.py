"""Portal pages for Suppressed Recipients: list + search + add, CSV import with a per-row report, remove with a
note, CSV export. Thin: parse a form, call one service, render."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from whatsapp_gateway.accounts.decorators import portal_view
from whatsapp_gateway.accounts.models import Role
from whatsapp_gateway.accounts.services import audit_record
from whatsapp_gateway.lib.client_ip import request_origin
from whatsapp_gateway.lib.csv_export import csv_stream
from whatsapp_gateway.lib.phone import mask, mask_sender
from whatsapp_gateway.suppression import selectors, services
from whatsapp_gateway.suppression.forms import (
    SuppressionAddForm,
    SuppressionImportForm,
    SuppressionRemoveForm,
    SuppressionSearchForm,
)
from whatsapp_gateway.suppression.models import Suppression
from whatsapp_gateway.ui.exports import record_when_done
from whatsapp_gateway.ui.reveal import reveal_active


def _is_admin(request: HttpRequest) -> bool:
    return request.membership.has_role(Role.ADMIN)


@portal_view()
@require_http_methods(["GET", "POST"])
def list_view(request: HttpRequest) -> HttpResponse:
    account = request.account
    add_form = SuppressionAddForm(request.POST or None, account=account)
    if request.method == "POST" and add_form.is_valid():
        try:
            suppression = services.suppression_add(
                account=account,
                phone_e164=add_form.cleaned_data["phone"],
                note=add_form.cleaned_data["note"],
                actor=request.user,
                **request_origin(request),
            )
        except services.SuppressionExists as exc:
            add_form.add_error("phone", str(exc))
        else:
            messages.success(request, f"{mask(suppression.phone_e164)} is blocked: the gateway will not message it.")
            return redirect("suppression:list")
    search = SuppressionSearchForm(request.GET or None)
    criteria = search.cleaned_data if search.is_valid() else {}
    rows = selectors.suppression_list(
        account=account,
        query=criteria.get("q", ""),
        include_removed=bool(criteria.get("removed")),
        reason=criteria.get("reason", ""),
    )
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    reveal = reveal_active(request, "suppression")  # asked for with a POST (ui.reveal), never recorded on a GET
    for s in page:
        s.recipient_shown = s.recipient if reveal else mask_sender(s.recipient)
    params = {k: v for k, v in request.GET.items() if k not in ("page", "reveal")}
    return render(
        request,
        "suppression/list.html",
        {
            "active_nav": "suppression",
            "account_timezone": request.account.timezone or "UTC",
            "page": page,
            "add_form": add_form,
            "search": search,
            "remove_form": SuppressionRemoveForm(),
            "is_admin": _is_admin(request),
            "reveal": reveal,
            "reveal_query": urlencode({**params, "reveal": "1"}),
            "hide_query": urlencode(params),
            "export_query": urlencode(params),
        },
        status=400 if request.method == "POST" else 200,
    )


@portal_view(minimum_role=Role.ADMIN)
@require_http_methods(["GET", "POST"])
def import_view(request: HttpRequest) -> HttpResponse:
    form = SuppressionImportForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        report = services.suppression_import(
            account=request.account,
            data=upload.read(),
            note=form.cleaned_data["note"],
            filename=upload.name,
            actor=request.user,
            **request_origin(request),
        )
        if report.imported:
            messages.success(request, f"Imported {report.imported} number(s) as blocked.")
    return render(
        request,
        "suppression/import.html",
        {"active_nav": "suppression", "form": form, "report": report},
        status=422 if report is not None and not report.ok else 200,
    )


@portal_view(minimum_role=Role.ADMIN)
@require_POST
def remove_view(request: HttpRequest, suppression_id: str) -> HttpResponse:
    suppression = selectors.suppression_get_for_account(account=request.account, public_id=suppression_id)
    form = SuppressionRemoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why the number may be messaged again (a note is required to remove it).")
        return redirect("suppression:list")
    try:
        services.suppression_remove(
            suppression=suppression, note=form.cleaned_data["note"], actor=request.user, **request_origin(request)
        )
    except services.SuppressionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{mask_sender(suppression.recipient)} was removed from the suppression list.")
    return redirect("suppression:list")


EXPORT_HEADER = [
    "phone",
    "whatsapp_id",
    "reason",
    "source",
    "keyword",
    "note",
    "created_at_utc",
    "removed_at_utc",
    "removed_note",
]


def _utc(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def _export_rows(rows: Iterable[Suppression]) -> Iterator[str]:
    return csv_stream(
        EXPORT_HEADER,
        (
            [
                s.phone_e164,
                s.wa_id,
                s.reason,
                s.source,
                s.keyword,
                s.note,
                _utc(s.created_at),
                _utc(s.removed_at),
                s.removed_note,
            ]
            for s in rows
        ),
    )


@portal_view(minimum_role=Role.ADMIN)
@require_GET
def export_view(request: HttpRequest) -> StreamingHttpResponse:
    """The (searched) list as CSV with full numbers, for admins; audit-logged. The file re-imports as is."""
    search = SuppressionSearchForm(request.GET or None)
    criteria = search.cleaned_data if search.is_valid() else {}
    rows = selectors.suppression_list(
        account=request.account,
        query=criteria.get("q", ""),
        include_removed=bool(criteria.get("removed")),
        reason=criteria.get("reason", ""),
    )

    def record(count: int) -> None:
        audit_record(
            account=request.account,
            action="suppression.exported",
            actor=request.user,
            **request_origin(request),
            target_type="suppression_list",
            metadata={"query": criteria.get("q", ""), "include_removed": bool(criteria.get("removed")), "rows": count},
        )

    response = StreamingHttpResponse(
        record_when_done(_export_rows(rows.iterator(chunk_size=1000)), record), content_type="text/csv"
    )
    response["Content-Disposition"] = f'attachment; filename="suppressed-recipients-{timezone.now():%Y%m%d-%H%M%S}.csv"'
    response["Cache-Control"] = "no-store"
    return response
