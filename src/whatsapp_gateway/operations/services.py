"""Operator controls: the global kill switch and encryption-key rotation."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.apps import apps
from django.db import connection, transaction
from django.http import HttpRequest

from whatsapp_gateway.accounts.models import User
from whatsapp_gateway.accounts.services import audit_record
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib import errors
from whatsapp_gateway.lib.crypto import EncryptedTextField
from whatsapp_gateway.operations.models import OperatorSettings

logger = logging.getLogger(__name__)


def operator_settings_get() -> OperatorSettings:
    """The singleton row, created with defaults (sending enabled) on first use."""
    row, _ = OperatorSettings.objects.get_or_create(pk=OperatorSettings.SINGLETON_ID)
    return row


_SENDING_SQL = f"SELECT sending_enabled FROM {OperatorSettings._meta.db_table} WHERE id = %s"  # noqa: S608 - the table name comes from the model


def sending_is_enabled() -> bool:
    """True unless the operator turned the kill switch off. One primary-key lookup; no cache, so it acts at once
    (raw SQL: this runs on every send, and building the ORM query cost more than running it)."""
    with connection.cursor() as cursor:
        cursor.execute(_SENDING_SQL, [OperatorSettings.SINGLETON_ID])
        row = cursor.fetchone()
    return True if row is None else bool(row[0])


def sending_check() -> None:
    """Guard step (first after authentication): raise ``SendingDisabled`` (503) while the kill switch is off."""
    if not sending_is_enabled():
        raise errors.SendingDisabled(headers={"Retry-After": "300"})


@transaction.atomic
def sending_set_enabled(
    *, enabled: bool, actor: User | None = None, reason: str = "", request: HttpRequest | None = None
) -> OperatorSettings:
    """Turn all outbound sending on or off for the whole gateway. Audit-logged (account-less entry)."""
    row = OperatorSettings.objects.select_for_update().get_or_create(pk=OperatorSettings.SINGLETON_ID)[0]
    changed = row.sending_enabled != enabled
    row.sending_enabled = enabled
    row.sending_disabled_reason = "" if enabled else (reason.strip()[:200] or "Disabled by operator")
    row.updated_by = actor
    row.save()
    if changed:
        audit_record(
            account=None,
            action="operator.sending_enabled" if enabled else "operator.sending_disabled",
            request=request,
            actor=actor,
            target_type="gateway",
            target_id="kill_switch",
            metadata={"reason": row.sending_disabled_reason},
        )
        logger.warning("operator kill switch: sending %s", "enabled" if enabled else "DISABLED")
        if enabled:
            transaction.on_commit(_wake_all_lanes, robust=True)
    return row


def _wake_all_lanes(account_id: int | None = None) -> None:
    """After sending is re-enabled (for everyone, or for one account): wake every instance that has queued
    messages, in order, right away instead of at the next sweep."""
    from whatsapp_gateway.messaging.models import Message, MessageStatus
    from whatsapp_gateway.messaging.queue import lane_wake

    queued = Message.objects.filter(status=MessageStatus.QUEUED, instance__isnull=False)
    if account_id is not None:
        queued = queued.filter(account_id=account_id)
    for instance_id in queued.values_list("instance_id", flat=True).distinct():
        lane_wake(instance_id=instance_id)


def account_lanes_wake_on_commit(*, account_id: int) -> None:
    """An operator resumed a paused account: its queued messages go out once the change is committed."""
    transaction.on_commit(lambda: _wake_all_lanes(account_id), robust=True)


@transaction.atomic
def instance_set_paused(
    *, instance: Instance, paused: bool, actor: User | None = None, request: HttpRequest | None = None
) -> Instance:
    """Operator pause/resume of one instance: a paused instance sends nothing (queued messages wait; new sends are
    refused with ``account_paused``). Resuming wakes its queue. Audit-logged in the instance's account."""
    changed = Instance.objects.filter(pk=instance.pk, is_paused=not paused).update(is_paused=paused)
    instance.refresh_from_db()
    if changed:
        audit_record(
            account=instance.account,
            action="operator.instance_paused" if paused else "operator.instance_resumed",
            request=request,
            actor=actor,
            target_type="instance",
            target_id=instance.public_id,
        )
        if not paused:
            from whatsapp_gateway.messaging.queue import lane_wake

            instance_id = instance.pk
            transaction.on_commit(lambda: lane_wake(instance_id=instance_id), robust=True)
    return instance


def instance_force_disconnect(*, instance: Instance, actor: User | None = None, request: HttpRequest | None = None):
    """Operator force-disconnect: log the WhatsApp session out at the provider (pairing is needed again).

    Uses the same service as the portal's logout; audit-logged (``instance.logged_out``) plus an operator entry."""
    from whatsapp_gateway.instances.services import instance_logout

    instance = instance_logout(instance=instance, actor=actor, request=request)
    audit_record(
        account=instance.account,
        action="operator.instance_disconnected",
        request=request,
        actor=actor,
        target_type="instance",
        target_id=instance.public_id,
    )
    return instance


@dataclass
class RotationReport:
    fields: list[str] = field(default_factory=list)
    values: int = 0
    rows: int = 0


def encrypted_fields() -> list[tuple[type, EncryptedTextField]]:
    """Every (model, field) pair that stores an ``EncryptedTextField``, across all installed apps."""
    found = []
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for model_field in model._meta.concrete_fields:
            if isinstance(model_field, EncryptedTextField):
                found.append((model, model_field))
    return found


def encryption_keys_rotate(*, batch_size: int = 500) -> RotationReport:
    """Re-encrypt every ``EncryptedTextField`` value with the first key of ``GATEWAY_ENCRYPTION_KEYS``.

    Values are decrypted with any configured key (MultiFernet) and written back encrypted with the first. Run after
    prepending a new key; afterwards the old keys can be removed. Idempotent; one transaction per batch of rows.
    """
    report = RotationReport()
    by_model: dict[type, list[str]] = {}
    for model, model_field in encrypted_fields():
        by_model.setdefault(model, []).append(model_field.attname)
        report.fields.append(f"{model._meta.label}.{model_field.name}")
    for model, names in by_model.items():
        manager = model._base_manager
        pks = list(manager.order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(pks), batch_size):
            chunk = pks[start : start + batch_size]
            with transaction.atomic():
                for row in manager.filter(pk__in=chunk).select_for_update().only("pk", *names):
                    updates = {name: getattr(row, name) for name in names if getattr(row, name)}
                    if updates:
                        manager.filter(pk=row.pk).update(**updates)
                        report.values += len(updates)
                        report.rows += 1
    logger.info("re-encrypted %d values in %d rows (%d fields)", report.values, report.rows, len(report.fields))
    return report
