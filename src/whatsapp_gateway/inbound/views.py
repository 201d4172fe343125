"""Portal pages for Inbound Logs: the list (filters, keyset pages), one message, and the CSV export."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from whatsapp_gateway.accounts.decorators import portal_view
from whatsapp_gateway.accounts.models import Role
from whatsapp_gateway.accounts.services import audit_record
from whatsapp_gateway.inbound import selectors
from whatsapp_gateway.inbound.forms import InboundFilterForm
from whatsapp_gateway.inbound.models import InboundMessage
from whatsapp_gateway.lib.client_ip import request_origin
from whatsapp_gateway.lib.csv_export import csv_stream
from whatsapp_gateway.lib.phone import mask_sender
from whatsapp_gateway.ui.exports import record_when_done
from whatsapp_gateway.ui.reveal import reveal_active

PAGING_PARAMS = ("after", "before")


def _can_reveal(request: HttpRequest) -> bool:
    return request.membership.has_role(Role.ADMIN)


def _reveal(request: HttpRequest, *, target_id: str = "", scope: str) -> bool:
    """Admins see full numbers after asking with a POST (ui.reveal: recorded once, never on a GET)."""
    return reveal_active(request, "inbound")


def _query(request: HttpRequest, **changes: str | None) -> str:
    params = {k: v for k, v in request.GET.items() if k not in PAGING_PARAMS}
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    return urlencode(params)


@portal_view()
@require_GET
def list_view(request: HttpRequest) -> HttpResponse:
    account = request.account
    instances = selectors.instances_for_filter(account=account)
    form = InboundFilterForm(request.GET or None, account=account, instances=instances)
    if form.is_bound:
        form.is_valid()
    filters = form.filters()
    page = selectors.inbound_page(
        account=account,
        filters=filters,
        after=selectors.Cursor.decode(request.GET.get("after")),
        before=selectors.Cursor.decode(request.GET.get("before")),
    )
    reveal = _reveal(request, scope="list")
    instance_names = {i.pk: i.name for i in instances}
    for row in page.rows:
        row.sender_shown = row.sender_display if reveal else mask_sender(row.sender_display)
        row.instance_name = instance_names.get(row.instance_id, "")
    return render(
        request,
        "inbound/list.html",
        {
            "active_nav": "inbound",
            "form": form,
            "page": page,
            "reveal": reveal,
            "can_reveal": _can_reveal(request),
            "account_timezone": account.timezone,
            "newer_url": f"?{_query(request, before=page.newer.encode())}" if page.newer else "",
            "older_url": f"?{_query(request, after=page.older.encode())}" if page.older else "",
            "first_url": f"?{_query(request)}",
            "reveal_url": f"?{_query(request, reveal='1')}",
            "hide_url": f"?{_query(request, reveal=None)}",
            "export_query": _query(request, reveal=None),
            "is_paged": bool(request.GET.get("after") or request.GET.get("before")),
        },
    )


@portal_view()
@require_GET
def detail_view(request: HttpRequest, message_id: str) -> HttpResponse:
    inbound = selectors.inbound_get_for_account(account=request.account, public_id=message_id)
    reveal = _reveal(request, target_id=inbound.public_id, scope="detail")
    identities = []
    conversation = None
    if inbound.contact is not None:
        identities = list(inbound.contact.identities.order_by("created_at").values_list("wa_id", flat=True))
        conversation = inbound.contact.conversations.filter(instance_id=inbound.instance_id).first()
    shown = (lambda v: v) if reveal else mask_sender
    return render(
        request,
        "inbound/detail.html",
        {
            "active_nav": "inbound",
            "m": inbound,
            "reveal": reveal,
            "can_reveal": _can_reveal(request),
            "sender_shown": shown(inbound.sender_display),
            "sender_id_shown": shown(inbound.sender_id),
            "identities_shown": [shown(i) for i in identities],
            "conversation": conversation,
            "account_timezone": request.account.timezone,
        },
    )


EXPORT_HEADER = [
    "received_at_utc",
    "message_id",
    "instance",
    "sender",
    "sender_name",
    "type",
    "text",
    "opt_out",
    "keyword",
    "forwarding_status",
    "external_message_id",
    "group_id",
    "group_name",
]


def _export_rows(rows: Iterator[InboundMessage], *, reveal: bool) -> Iterator[str]:
    return csv_stream(
        EXPORT_HEADER,
        (
            [
                m.received_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                m.public_id,
                m.instance.name,
                m.sender_display if reveal else mask_sender(m.sender_display),
                m.sender_name,
                m.message_type,
                m.text,
                "yes" if m.is_opt_out else "no",
                m.keyword,
                m.forwarding_status,
                m.provider_message_id,
                m.group_id,
                m.group_name,
            ]
            for m in rows
        ),
    )


@portal_view()
@require_GET
def export_view(request: HttpRequest) -> HttpResponse:
    """The filtered set as CSV, streamed in keyset batches. Admins get full numbers (audit-logged); members get
    masked numbers."""
    account = request.account
    instances = selectors.instances_for_filter(account=account)
    form = InboundFilterForm(request.GET or None, account=account, instances=instances)
    if form.is_bound:
        form.is_valid()
    filters = form.filters()
    reveal = _can_reveal(request)
    params = {k: v for k, v in request.GET.items() if k not in PAGING_PARAMS}

    def record(count: int) -> None:
        audit_record(
            account=account,
            action="inbound.exported",
            actor=request.user,
            **request_origin(request),
            target_type="inbound_log",
            metadata={"full_numbers": reveal, "filters": params, "rows": count},
        )

    rows = selectors.inbound_iterate(account=account, filters=filters)
    response = StreamingHttpResponse(
        record_when_done(_export_rows(rows, reveal=reveal), record), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="inbound-messages-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response
