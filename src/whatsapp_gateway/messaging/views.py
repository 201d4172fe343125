"""Portal pages: the message log (filters, detail) and the manage page's test-send and logs tabs."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from whatsapp_gateway.accounts.decorators import portal_view
from whatsapp_gateway.accounts.models import Role
from whatsapp_gateway.accounts.services import audit_record
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.instances.tabs import render_tab
from whatsapp_gateway.lib import errors
from whatsapp_gateway.lib.client_ip import client_ip, request_origin
from whatsapp_gateway.lib.csv_export import csv_stream
from whatsapp_gateway.lib.phone import InvalidPhoneNumber, mask, normalize_e164
from whatsapp_gateway.messaging import policy
from whatsapp_gateway.messaging.forms import MessageFilterForm, TestNumberAddForm, TestNumberVerifyForm, TestSendForm
from whatsapp_gateway.messaging.guard.checks import phone_hash
from whatsapp_gateway.messaging.guard.content import assess_text, highlight_segments
from whatsapp_gateway.messaging.guard.usage import account_tz
from whatsapp_gateway.messaging.models import MessageStatus, TestNumber
from whatsapp_gateway.messaging.portal_test_send import (
    PortalTestSendError,
    portal_test_number_add,
    portal_test_number_remove,
    portal_test_number_verify,
    portal_test_send,
    portal_tests_today,
)
from whatsapp_gateway.messaging.selectors import (
    account_usage,
    instance_queue_status,
    message_get_for_account,
    message_list,
    message_wait_reason,
)
from whatsapp_gateway.ui.exports import record_when_done
from whatsapp_gateway.ui.reveal import reveal_active

PAGE_SIZE = 50
LIVE_STATUSES = {MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.SENT, MessageStatus.DELIVERED}


def _filtered(account, form: MessageFilterForm):
    qs = message_list(account=account)
    if not form.is_bound:
        return qs
    if not form.is_valid():
        return qs.none()  # e.g. an instance that is not the account's: nothing matches
    data = form.cleaned_data
    if data.get("instance"):
        qs = qs.filter(instance__public_id=data["instance"])
    for field, column in (("status", "status"), ("purpose", "purpose"), ("code", "block_code"), ("source", "source")):
        if data.get(field):
            qs = qs.filter(**{column: data[field]})
    if data.get("decision"):
        qs = qs.filter(decision=data["decision"])
    if data.get("q"):
        qs = qs.filter(text__icontains=data["q"])
    tz = account_tz(account)
    if data.get("date_from"):
        qs = qs.filter(created_at__gte=dt.datetime.combine(data["date_from"], dt.time.min, tzinfo=tz))
    if data.get("date_to"):
        qs = qs.filter(
            created_at__lt=dt.datetime.combine(data["date_to"] + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
        )
    if data.get("phone"):
        try:
            qs = qs.filter(phone_hash=phone_hash(normalize_e164(data["phone"], account.default_country)))
        except InvalidPhoneNumber:
            qs = qs.none()
    return qs


def _reveal(request: HttpRequest) -> bool:
    """Admins see full numbers after asking with a POST (ui.reveal: recorded once, never on a GET)."""
    return reveal_active(request, "message_log")


@portal_view()
@require_GET
def log_view(request: HttpRequest) -> HttpResponse:
    account = request.account
    instances = Instance.objects.filter(account=account).order_by("name")
    form = MessageFilterForm(request.GET or None, instances=instances)
    page = Paginator(_filtered(account, form), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "messaging/log.html",
        {
            "active_nav": "messages",
            "form": form,
            "page": page,
            "reveal": _reveal(request),
            "can_admin": request.membership.has_role(Role.ADMIN),
            "usage": account_usage(account=account),
            "plan": account.plan,
        },
    )


EXPORT_HEADER = [
    "log_id", "message_id", "created_at", "instance", "to", "purpose", "source", "status", "block_code",
    "risk_score", "template", "text",
]  # fmt: skip


def _export_rows(rows, *, reveal: bool):
    for m in rows:
        yield [
            m.log_id,
            m.public_id,
            timezone.localtime(m.created_at).isoformat(timespec="seconds"),
            m.instance.name if m.instance else m.instance_ref,
            m.phone_e164 if reveal else mask(m.phone_e164) if m.phone_e164 else "",
            m.purpose,
            m.source,
            m.status,
            m.block_code,
            m.risk_score,
            m.template.name if m.template_id else "",
            m.text,
        ]


@portal_view()
@require_GET
def export_view(request: HttpRequest) -> StreamingHttpResponse:
    """The log as CSV with the page's filters, streamed, formula-safe; recorded once the file was sent in full."""
    account = request.account
    instances = Instance.objects.filter(account=account).order_by("name")
    form = MessageFilterForm(request.GET or None, instances=instances)
    reveal = _reveal(request)
    rows = _filtered(account, form).select_related("instance", "template").iterator(chunk_size=1000)
    filters = {k: v for k, v in request.GET.items() if k not in ("page", "reveal")}

    def record(count: int) -> None:
        audit_record(
            account=account,
            action="message_log.exported",
            actor=request.user,
            **request_origin(request),
            target_type="message_log",
            metadata={"filters": filters, "full_numbers": reveal, "rows": count},
        )

    response = StreamingHttpResponse(
        record_when_done(csv_stream(EXPORT_HEADER, _export_rows(rows, reveal=reveal)), record),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="messages-{timezone.now():%Y%m%d-%H%M%S}.csv"'
    response["Cache-Control"] = "no-store"
    return response


@portal_view()
@require_GET
def detail_view(request: HttpRequest, message_id: str) -> HttpResponse:
    message = message_get_for_account(account=request.account, public_id=message_id)
    return render(
        request,
        "messaging/detail.html",
        {
            "active_nav": "messages",
            "message": message,
            "reveal": _reveal(request),
            "can_admin": request.membership.has_role(Role.ADMIN),
            "policy_events": message.policy_events.all(),
            "wait_reason": message_wait_reason(message=message),
            # read, failed, blocked and dry runs do not change any more: the page stops polling.
            "message_is_live": message.status in LIVE_STATUSES,
        },
    )


def queue_notice(instance: Instance) -> str:
    """The send queue's state above the manage page's tabs: shown while messages wait or the queue is paused."""
    queue = instance_queue_status(instance=instance)
    if not queue["paused"] and not queue["queued"]:
        return ""
    return render_to_string("messaging/_queue_notice.html", {"queue": queue, "instance": instance})


# --- Manage-page tabs ------------------------------------------------------------------------------------------------


def _tab_url(instance: Instance, tab: str) -> str:
    return f"{reverse('instances:manage', args=[instance.public_id])}?tab={tab}"


def _flash_block(request: HttpRequest, exc: errors.GatewayError) -> None:
    reasons = exc.details.get("reasons") or []
    extra = f" ({'; '.join(reasons)})" if reasons else ""
    messages.error(request, f"Blocked by the guard: {exc.code} — {exc.message}{extra}")


def _test_send_verdict(text: str, purpose: str) -> dict:
    """The content policy's verdict on a test text before it is sent (the same as the message checker's)."""
    assessment = assess_text(text, purpose)
    return {
        "assessment": assessment,
        "decision": assessment.decision,
        "segments": highlight_segments(text, assessment.highlights),
    }


def test_send_tab(request: HttpRequest, instance: Instance) -> HttpResponse:
    account = request.account
    verdict = None
    add_form = TestNumberAddForm()
    send_form = TestSendForm(account=account, instance=instance)
    verify_form = TestNumberVerifyForm()
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "add":
                add_form = TestNumberAddForm(request.POST)
                if add_form.is_valid():
                    sent = portal_test_number_add(
                        account=account,
                        instance=instance,
                        phone=add_form.cleaned_data["phone"],
                        label=add_form.cleaned_data["label"],
                        actor=request.user,
                        client_ip=client_ip(request),
                    )
                    note = f" Sandbox: the code is {sent.code}." if instance.is_sandbox else ""
                    messages.success(request, f"A 6-digit code was sent to {sent.test_number.phone_e164}.{note}")
                    return redirect(_tab_url(instance, "test-send"))
            elif action == "verify":
                verify_form = TestNumberVerifyForm(request.POST)
                if verify_form.is_valid():
                    number = TestNumber.objects.filter(
                        account=account, public_id=verify_form.cleaned_data["number"]
                    ).first()
                    if number is None:
                        raise PortalTestSendError("No such test number.")
                    portal_test_number_verify(
                        test_number=number, code=verify_form.cleaned_data["code"], actor=request.user
                    )
                    messages.success(request, f"{number.phone_e164} is verified; you can send test messages to it.")
                    return redirect(_tab_url(instance, "test-send"))
            elif action == "remove":
                number = TestNumber.objects.filter(account=account, public_id=request.POST.get("number", "")).first()
                if number is not None:
                    portal_test_number_remove(test_number=number, actor=request.user)
                    messages.success(request, f"{number.phone_e164} was removed from your test numbers.")
                return redirect(_tab_url(instance, "test-send"))
            elif action == "check":
                send_form = TestSendForm(request.POST, account=account)
                if send_form.is_valid():
                    verdict = _test_send_verdict(send_form.cleaned_data["message"], send_form.cleaned_data["purpose"])
            elif action == "send":
                send_form = TestSendForm(request.POST, account=account, instance=instance)
                if send_form.is_valid():
                    outcome = portal_test_send(
                        account=account,
                        instance=instance,
                        test_number=send_form.cleaned_data["number"],
                        text=send_form.cleaned_data["message"],
                        template=send_form.cleaned_data["template_ref"],
                        purpose=send_form.cleaned_data["purpose"],
                        actor=request.user,
                        client_ip=client_ip(request),
                    )
                    messages.success(request, f"Queued as message #{outcome.log_id}; its status follows below.")
                    return redirect(_tab_url(instance, "test-send") + f"&sent={outcome.message_id}")
        except PortalTestSendError as exc:
            messages.error(request, exc.message)
            return redirect(_tab_url(instance, "test-send"))
        except errors.GatewayError as exc:
            _flash_block(request, exc)
            return redirect(_tab_url(instance, "test-send"))
    sent_id = request.GET.get("sent")
    return render_tab(
        request,
        instance,
        "messaging/tab_test_send.html",
        {
            "numbers": TestNumber.objects.filter(account=account),
            "add_form": add_form,
            "send_form": send_form,
            "verify_form": verify_form,
            "cap": policy.PORTAL_TEST_DAILY_CAP,
            "used_today": portal_tests_today(account=account),
            "last_sent": (
                last_sent := message_list(account=account).filter(public_id=sent_id).first() if sent_id else None
            ),
            "last_sent_is_live": last_sent is not None and last_sent.status in LIVE_STATUSES,
            "verdict": verdict,
        },
        status=200 if verdict is not None else 400 if request.method == "POST" else 200,
    )


def logs_tab(request: HttpRequest, instance: Instance) -> HttpResponse:
    recent = message_list(account=request.account).filter(instance=instance)[:50]
    return render_tab(
        request,
        instance,
        "messaging/tab_logs.html",
        {"recent": recent, "log_url": f"{reverse('messaging:log')}?instance={instance.public_id}"},
    )
