"""Operator actions for the instance admin (``instances/admin.py`` lists them): pause, resume, force-disconnect."""

from __future__ import annotations

from django.contrib import admin, messages

from whatsapp_gateway.instances.services import InstanceError
from whatsapp_gateway.operations.services import instance_force_disconnect, instance_set_paused


@admin.action(description="Pause sending from the selected instances (operator)")
def pause_instances(modeladmin, request, queryset) -> None:
    count = 0
    for instance in queryset.filter(deleted_at__isnull=True, is_paused=False):
        instance_set_paused(instance=instance, paused=True, actor=request.user, request=request)
        count += 1
    modeladmin.message_user(request, f"Paused {count} instance(s); their queued messages wait.", messages.WARNING)


@admin.action(description="Resume sending from the selected instances")
def resume_instances(modeladmin, request, queryset) -> None:
    count = 0
    for instance in queryset.filter(deleted_at__isnull=True, is_paused=True):
        instance_set_paused(instance=instance, paused=False, actor=request.user, request=request)
        count += 1
    modeladmin.message_user(request, f"Resumed {count} instance(s).", messages.SUCCESS)


@admin.action(description="Force-disconnect the selected instances (log the WhatsApp session out)")
def force_disconnect_instances(modeladmin, request, queryset) -> None:
    done, refused = 0, []
    for instance in queryset.filter(deleted_at__isnull=True):
        try:
            instance_force_disconnect(instance=instance, actor=request.user, request=request)
            done += 1
        except InstanceError as exc:  # includes InstanceActionFailed (provider unreachable)
            refused.append(f"{instance.name}: {exc}")
    modeladmin.message_user(request, f"Disconnected {done} instance(s).", messages.SUCCESS)
    for line in refused:
        modeladmin.message_user(request, line, messages.ERROR)


OPERATOR_INSTANCE_ACTIONS = [pause_instances, resume_instances, force_disconnect_instances]
