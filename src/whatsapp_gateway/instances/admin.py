"""Operator back office for instances. Credentials and the callback token are never displayed."""

from __future__ import annotations

from django.contrib import admin, messages

from whatsapp_gateway.instances import services
from whatsapp_gateway.instances.models import Instance, InstanceStateChange
from whatsapp_gateway.lib.client_ip import request_origin
from whatsapp_gateway.lib.phone import mask


# Operator actions: pause, resume, force-disconnect.
@admin.action(description="Pause sending from the selected instances (operator)")
def pause_instances(modeladmin, request, queryset) -> None:
    count = 0
    for instance in queryset.filter(deleted_at__isnull=True, is_paused=False):
        services.instance_set_paused(instance=instance, paused=True, actor=request.user, **request_origin(request))
        count += 1
    modeladmin.message_user(request, f"Paused {count} instance(s); their queued messages wait.", messages.WARNING)


@admin.action(description="Resume sending from the selected instances")
def resume_instances(modeladmin, request, queryset) -> None:
    count = 0
    for instance in queryset.filter(deleted_at__isnull=True, is_paused=True):
        services.instance_set_paused(instance=instance, paused=False, actor=request.user, **request_origin(request))
        count += 1
    modeladmin.message_user(request, f"Resumed {count} instance(s).", messages.SUCCESS)


@admin.action(description="Force-disconnect the selected instances (log the WhatsApp session out)")
def force_disconnect_instances(modeladmin, request, queryset) -> None:
    done, refused = 0, []
    for instance in queryset.filter(deleted_at__isnull=True):
        try:
            services.instance_force_disconnect(instance=instance, actor=request.user, **request_origin(request))
            done += 1
        except services.InstanceError as exc:  # includes InstanceActionFailed (provider unreachable)
            refused.append(f"{instance.name}: {exc}")
    modeladmin.message_user(request, f"Disconnected {done} instance(s).", messages.SUCCESS)
    for line in refused:
        modeladmin.message_user(request, line, messages.ERROR)


OPERATOR_INSTANCE_ACTIONS = [pause_instances, resume_instances, force_disconnect_instances]


class InstanceStateChangeInline(admin.TabularInline):
    model = InstanceStateChange
    extra = 0
    can_delete = False
    fields = ["created_at", "from_state", "to_state", "reason"]
    readonly_fields = fields
    ordering = ["-created_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Instance)
class InstanceAdmin(admin.ModelAdmin):
    list_display = ["name", "public_id", "account", "provider", "state", "masked_phone", "is_paused", "deleted_at"]
    list_filter = ["provider", "state", "is_paused"]
    search_fields = ["name", "public_id", "account__name", "account__public_id"]
    fields = [
        "public_id",
        "account",
        "name",
        "provider",
        "provider_ref",
        "state",
        "state_reason",
        "state_changed_at",
        "masked_phone",
        "profile_name",
        "paired_at",
        "last_seen_at",
        "qr_codes_issued",
        "reconnects",
        "qr_expires_at",
        "is_paused",
        "deleted_at",
        "created_at",
        "updated_at",
    ]
    readonly_fields = [f for f in fields if f != "is_paused"]
    inlines = [InstanceStateChangeInline]
    # Pause / resume / force-disconnect are the operator controls of the operations app.
    actions = ["reconcile", *OPERATOR_INSTANCE_ACTIONS]

    def has_add_permission(self, request) -> bool:
        return False  # instances are created by customers (portal) or the demo set-up, through the service

    @admin.display(description="Phone number")
    def masked_phone(self, obj: Instance) -> str:
        return mask(obj.phone_number)

    @admin.action(description="Reconcile the connection state with the provider now")
    def reconcile(self, request, queryset):
        for instance in queryset.filter(deleted_at__isnull=True):
            services.instance_reconcile(instance=instance, reason="Reconciled by an operator")
        messages.success(request, "Reconciled.")
