"""Operator back office: the kill switch (operator settings) and the policy-event review list."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from whatsapp_gateway.lib.client_ip import request_origin
from whatsapp_gateway.messaging.models import PolicyEvent
from whatsapp_gateway.operations.killswitch import operator_settings_get
from whatsapp_gateway.operations.models import OperatorSettings
from whatsapp_gateway.operations.services import sending_set_enabled


@admin.register(OperatorSettings)
class OperatorSettingsAdmin(admin.ModelAdmin):
    fields = ["sending_enabled", "sending_disabled_reason", "updated_by", "updated_at"]
    readonly_fields = ["updated_by", "updated_at"]

    def changelist_view(self, request: HttpRequest, extra_context=None):
        row = operator_settings_get()
        return HttpResponseRedirect(reverse("admin:operations_operatorsettings_change", args=[row.pk]))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        # Through the service, so the change is audit-logged and logged.
        sending_set_enabled(
            enabled=obj.sending_enabled,
            reason=obj.sending_disabled_reason,
            actor=request.user,
            **request_origin(request),
        )


# --- Policy events (risk-score reviews and blocks), read-only -------------------------------------------------------
@admin.register(PolicyEvent)
class PolicyEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "account", "instance", "action", "risk_score", "reasons_text", "message_link"]
    list_filter = ["action", ("created_at", admin.DateFieldListFilter), "account__plan"]
    search_fields = ["account__name", "account__public_id", "message__public_id"]
    date_hierarchy = "created_at"
    list_select_related = ["account", "instance", "message"]
    fields = ["created_at", "account", "instance", "action", "risk_score", "reasons_text", "message_link", "text"]
    readonly_fields = fields

    @admin.display(description="Reasons")
    def reasons_text(self, obj: PolicyEvent) -> str:
        return "; ".join(obj.reasons or [])

    @admin.display(description="Message")
    def message_link(self, obj: PolicyEvent) -> str:
        message = obj.message
        return f"{message.public_id} (log #{message.log_id}, {message.status}, {message.purpose or 'no purpose'})"

    @admin.display(description="Message text")
    def text(self, obj: PolicyEvent) -> str:
        return obj.message.text or "(redacted by retention)"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
