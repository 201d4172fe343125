"""Operator controls: turning the global kill switch on and off, and encryption-key rotation."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.apps import apps
from django.db import transaction

from whatsapp_gateway.accounts.models import User
from whatsapp_gateway.accounts.services import audit_record
from whatsapp_gateway.lib.crypto import EncryptedTextField
from whatsapp_gateway.messaging import queue
from whatsapp_gateway.operations.models import OperatorSettings

logger = logging.getLogger(__name__)


@transaction.atomic
def sending_set_enabled(
    *, enabled: bool, actor: User | None = None, reason: str = "", client_ip: str | None = None, user_agent: str = ""
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
            client_ip=client_ip,
            user_agent=user_agent,
            actor=actor,
            target_type="gateway",
            target_id="kill_switch",
            metadata={"reason": row.sending_disabled_reason},
        )
        logger.warning("operator kill switch: sending %s", "enabled" if enabled else "DISABLED")
        if enabled:
            transaction.on_commit(queue.lanes_wake_queued, robust=True)
    return row


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
