"""Operator back office: 3CX integrations (settings only, never credentials) and the event log with real reasons."""

from __future__ import annotations

from django.contrib import admin

from whatsapp_gateway.threecx.models import DidMapping, Integration, IntegrationEvent


class DidMappingInline(admin.TabularInline):
    model = DidMapping
    extra = 0
    raw_id_fields = ["instance"]


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "public_id",
        "account",
        "status",
        "inbound_enabled",
        "outbound_enabled",
        "call_event_enabled",
        "last_request_at",
    ]
    list_filter = ["status", "inbound_enabled", "outbound_enabled", "call_event_enabled"]
    search_fields = ["name", "public_id", "account__name", "account__public_id"]
    # Credentials and the 3CX URL are never editable (or visible) here: the customer rotates them in the portal.
    exclude = ["secret_hash", "secret_encrypted", "api_key_hash"]
    readonly_fields = [
        "public_id",
        "account",
        "endpoint_url_hint",
        "secret_prefix",
        "secret_rotated_at",
        "api_key_prefix",
        "api_key_rotated_at",
        "last_request_at",
        "created_at",
        "updated_at",
    ]
    raw_id_fields = ["default_instance"]
    inlines = [DidMappingInline]


@admin.register(IntegrationEvent)
class IntegrationEventAdmin(admin.ModelAdmin):
    """Every request (including rejected ones for unknown ids) with the real reason of a pre-auth 401."""

    list_display = [
        "created_at",
        "integration_ref",
        "account",
        "direction",
        "request_form",
        "event_type",
        "decision",
        "code",
        "reason",
        "http_status",
        "phone_masked",
        "client_ip",
    ]
    list_filter = ["direction", "decision", "request_form", "event_type"]
    search_fields = ["integration_ref", "reason", "code", "message_id", "client_ip"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
