"""Operator back office for templates: a queue of reviewed templates awaiting a decision, approve and reject (with
a reason the customer sees) as actions, and the full list of both sources (read-only)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from whatsapp_gateway.message_templates import services
from whatsapp_gateway.message_templates.models import PendingTemplate, Template, TemplateStatus
from whatsapp_gateway.messaging.guard.content import assess_text

READ_ONLY = [
    "public_id",
    "account",
    "source",
    "instance",
    "name",
    "language",
    "category",
    "status",
    "body",
    "use_case",
    "rejection_reason",
    "components",
    "meta_template_id",
    "submitted_by",
    "submitted_at",
    "reviewed_by",
    "reviewed_at",
    "synced_at",
    "created_at",
    "updated_at",
]


class RejectForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=1000,
        help_text="Shown to the customer on the templates page and in the email.",
    )


def _decide_each(request, queryset, decide, verb: str, **kwargs) -> None:
    done = 0
    for template in queryset:
        try:
            decide(template=template, operator=request.user, **kwargs)
            done += 1
        except services.TemplateError as exc:
            messages.warning(request, f"{template.name}: {exc.message}")
    if done:
        messages.success(request, f"{done} template(s) {verb}; the customers were emailed.")


@admin.action(description="Approve selected templates")
def approve(modeladmin, request: HttpRequest, queryset: QuerySet[Template]):
    _decide_each(request, queryset, services.template_approve, "approved")


def _with_reason(modeladmin, request: HttpRequest, queryset: QuerySet[Template], *, decide, verb: str, action: str):
    """Ask for the reason on an intermediate page, then decide (Django's confirmation-page pattern)."""
    if "apply" in request.POST:
        form = RejectForm(request.POST)
        if form.is_valid():
            _decide_each(request, queryset, decide, verb, reason=form.cleaned_data["reason"])
            return None
    else:
        form = RejectForm()
    return TemplateResponse(
        request,
        "admin/message_templates/reason.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": f"Templates to be {verb}",
            "templates": queryset,
            "form": form,
            "action": action,
            "verb": verb,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "opts": modeladmin.model._meta,
        },
    )


@admin.action(description="Reject selected templates (with a reason)…")
def reject(modeladmin, request: HttpRequest, queryset: QuerySet[Template]):
    return _with_reason(
        modeladmin, request, queryset, decide=services.template_reject, verb="rejected", action="reject"
    )


@admin.action(description="Disable selected templates (with a reason)…")
def disable(modeladmin, request: HttpRequest, queryset: QuerySet[Template]):
    return _with_reason(
        modeladmin, request, queryset, decide=services.template_disable, verb="disabled", action="disable"
    )


class _TemplateAdminBase(admin.ModelAdmin):
    list_select_related = ["account", "instance", "submitted_by"]
    search_fields = ["name", "public_id", "body", "account__name", "account__public_id"]
    fields = READ_ONLY
    readonly_fields = READ_ONLY

    def has_add_permission(self, request) -> bool:
        return False  # customers submit through the portal; Meta templates come from a sync

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # disable instead: the audit trail refers to the template

    @admin.display(description="Text")
    def short_body(self, obj: Template) -> str:
        return obj.body if len(obj.body) <= 160 else obj.body[:157] + "…"


@admin.register(PendingTemplate)
class PendingTemplateAdmin(_TemplateAdminBase):
    """The review queue: reviewed templates waiting for a decision, oldest first."""

    list_display = [
        "name",
        "account",
        "language",
        "category",
        "short_body",
        "content_verdict",
        "use_case",
        "submitted_at",
    ]
    list_filter = ["category", "language"]

    @admin.display(description="Content policy")
    def content_verdict(self, obj: Template) -> str:
        """What the classifier says of the fixed words, so a promotion filed as "utility" stands out."""
        assessment = assess_text(obj.body)
        reasons = "; ".join(assessment.reasons[:2])
        return f"{assessment.category}, {assessment.score}/100" + (f": {reasons}" if reasons else "")

    actions = [approve, reject]
    ordering = ["submitted_at", "id"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(source="reviewed", status=TemplateStatus.PENDING)


@admin.register(Template)
class TemplateAdmin(_TemplateAdminBase):
    list_display = ["name", "account", "source", "instance", "language", "category", "status", "reviewed_at"]
    list_filter = ["status", "source", "category", "language"]
    actions = [approve, reject, disable]
