"""The kill switch, read: whether outbound sending is on for the whole gateway (the ``OperatorSettings`` row).

Low on purpose: the guard, the send queue and the metrics collector read it, and it depends only on its model.
Turning it on or off is an operator action in ``operations.services``.
"""

from __future__ import annotations

from django.db import connection

from whatsapp_gateway.lib import errors
from whatsapp_gateway.operations.models import OperatorSettings


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
