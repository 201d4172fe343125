"""Suppression writes: add, remove, keyword opt-out and re-subscribe, CSV import. Every change is audit-logged."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from whatsapp_gateway.accounts.models import Account, User
from whatsapp_gateway.accounts.services import audit_record
from whatsapp_gateway.contacts.models import Contact
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.lib.errors import PortalError
from whatsapp_gateway.lib.phone import mask
from whatsapp_gateway.suppression.csv_import import ImportReport, build_report
from whatsapp_gateway.suppression.models import Suppression, SuppressionReason, SuppressionSource
from whatsapp_gateway.suppression.selectors import suppression_find, suppressions_matching
from whatsapp_gateway.webhooks.outbox import event_emit

RESUBSCRIBE_NOTE = "Re-subscribed by replying {keyword}"


class SuppressionError(PortalError):
    """A change the rules refuse; the message is shown to the user."""


class SuppressionExists(SuppressionError):
    def __init__(self, existing: Suppression) -> None:
        self.existing = existing
        super().__init__(
            f"{mask(existing.phone_e164) or existing.wa_id} is already suppressed "
            f"({existing.get_reason_display().lower()}, {existing.get_source_display().lower()}, "
            f"since {existing.created_at:%Y-%m-%d})."
        )


def _masked(suppression: Suppression) -> str:
    return mask(suppression.phone_e164) if suppression.phone_e164 else suppression.wa_id


@transaction.atomic
def suppression_add(
    *,
    account: Account,
    phone_e164: str,
    reason: str = SuppressionReason.BLOCKED,
    source: str = SuppressionSource.MANUAL,
    note: str = "",
    actor: User | None = None,
    client_ip: str | None = None,
    user_agent: str = "",
    actor_label: str = "",
    instance=None,
) -> Suppression:
    """Suppress one E.164 number (the portal's "add", the 3CX bridge). Raises ``SuppressionExists`` when the number
    (or an id of the same contact) is already suppressed. Runs in a transaction; audit-logged."""
    existing = suppression_find(account=account, phone_e164=phone_e164)
    if existing is not None:
        raise SuppressionExists(existing)
    try:
        with transaction.atomic():
            suppression = Suppression.objects.create(
                account=account,
                phone_e164=phone_e164,
                reason=reason,
                source=source,
                note=note.strip()[:500],
                instance=instance,
                created_by=actor,
            )
    except IntegrityError as exc:  # a concurrent add of the same number won the race
        raise SuppressionExists(suppression_find(account=account, phone_e164=phone_e164)) from exc
    audit_record(
        account=account,
        action="suppression.added",
        client_ip=client_ip,
        user_agent=user_agent,
        actor=actor,
        actor_label=actor_label,
        target_type="suppression",
        target_id=suppression.public_id,
        metadata={"phone": mask(phone_e164), "reason": reason, "source": source},
    )
    return suppression


@transaction.atomic
def suppression_remove(
    *,
    suppression: Suppression,
    note: str,
    actor: User | None = None,
    client_ip: str | None = None,
    user_agent: str = "",
    actor_label: str = "",
) -> Suppression:
    """Lift a suppression. The row is kept (``removed_at``, note, who) for the audit trail. Audit-logged."""
    note = note.strip()
    if not note:
        raise SuppressionError("Say why the number may be messaged again.")
    locked = Suppression.objects.select_for_update().get(pk=suppression.pk)
    if locked.removed_at is not None:
        raise SuppressionError("This suppression was already removed.")
    locked.removed_at = now()
    locked.removed_note = note[:500]
    locked.removed_by = actor
    locked.save(update_fields=["removed_at", "removed_note", "removed_by"])
    audit_record(
        account=locked.account,
        action="suppression.removed",
        client_ip=client_ip,
        user_agent=user_agent,
        actor=actor,
        actor_label=actor_label,
        target_type="suppression",
        target_id=locked.public_id,
        metadata={"phone": _masked(locked), "reason": locked.reason, "source": locked.source, "note": note[:200]},
    )
    return locked


@dataclass(frozen=True)
class OptOutOutcome:
    suppression: Suppression
    created: bool


def suppression_opt_out(
    *, account: Account, instance, phone_e164: str, wa_ids: Iterable[str], keyword: str
) -> OptOutOutcome:
    """Record a keyword opt-out (``reason=opted_out``, ``source=keyword``) and emit ``recipient.opted_out``.

    Must run inside the caller's transaction (the inbound callback's). Idempotent: a person who is already
    suppressed (by number or by any WhatsApp id of the same contact) gets no second row and no second event.
    ``wa_ids`` are the sender's WhatsApp ids; when ``phone_e164`` is unknown the row is keyed by the ``…@lid`` id.
    """
    wa_ids = [w for w in wa_ids if w]
    existing = suppressions_matching(account=account, phone_e164=phone_e164, aliases=wa_ids).first()
    if existing is not None:
        return OptOutOutcome(suppression=existing, created=False)
    wa_id = "" if phone_e164 else next((w for w in wa_ids if w.endswith("@lid")), wa_ids[0] if wa_ids else "")
    try:
        with transaction.atomic():
            suppression = Suppression.objects.create(
                account=account,
                phone_e164=phone_e164,
                wa_id=wa_id,
                reason=SuppressionReason.OPTED_OUT,
                source=SuppressionSource.KEYWORD,
                keyword=keyword[:60],
                note=f"Replied “{keyword}” to {instance.name}"[:500],
                instance=instance,
            )
    except IntegrityError:  # the same person's concurrent STOP won the race
        existing = suppressions_matching(account=account, phone_e164=phone_e164, aliases=wa_ids).first()
        return OptOutOutcome(suppression=existing, created=False)
    audit_record(
        account=account,
        action="suppression.opted_out",
        actor_label="customer (opt-out keyword)",
        target_type="suppression",
        target_id=suppression.public_id,
        metadata={"phone": _masked(suppression), "keyword": keyword, "instance": instance.public_id},
    )
    event_emit(
        account=account,
        instance=instance,
        event_type="recipient.opted_out",
        data={"phone": phone_e164 or wa_id, "keyword": keyword, "suppression_id": suppression.public_id},
    )
    return OptOutOutcome(suppression=suppression, created=True)


def suppression_resubscribe(
    *, account: Account, phone_e164: str, wa_ids: Iterable[str], keyword: str
) -> list[Suppression]:
    """``START`` / ``UNSTOP``: lift this person's *keyword* opt-outs. Manual blocks, imports and 3CX suppressions stay.
    Returns the lifted rows (empty when nothing was lifted). Runs inside the caller's transaction; audit-logged."""
    lifted = []
    matches = suppressions_matching(account=account, phone_e164=phone_e164, aliases=wa_ids).select_for_update()
    for suppression in matches:
        if suppression.reason != SuppressionReason.OPTED_OUT or suppression.source != SuppressionSource.KEYWORD:
            continue
        suppression.removed_at = now()
        suppression.removed_note = RESUBSCRIBE_NOTE.format(keyword=keyword.upper())
        suppression.save(update_fields=["removed_at", "removed_note"])
        audit_record(
            account=account,
            action="suppression.resubscribed",
            actor_label="customer (re-subscribe keyword)",
            target_type="suppression",
            target_id=suppression.public_id,
            metadata={"phone": _masked(suppression), "keyword": keyword},
        )
        lifted.append(suppression)
    return lifted


def suppression_import(
    *,
    account: Account,
    data: bytes,
    note: str = "",
    filename: str = "",
    actor: User | None = None,
    client_ip: str | None = None,
    user_agent: str = "",
) -> ImportReport:
    """Import a CSV of numbers as manual blocks (``reason=blocked``, ``source=import``). All or nothing.

    Every row is validated first (see ``csv_import``); if any row is invalid nothing is imported and the report says
    which rows to fix. Otherwise the new numbers are inserted in one transaction (duplicates within the file and
    numbers already suppressed are skipped and reported). Audit-logged with the counts, never the numbers.
    """
    with transaction.atomic():
        report = build_report(account=account, data=data)
        if not report.ok:
            return report
        created_by = actor
        rows = [
            Suppression(
                account=account,
                phone_e164=row.phone_e164,
                reason=SuppressionReason.BLOCKED,
                source=SuppressionSource.IMPORT,
                note=(row.note or note).strip()[:500],
                created_by=created_by,
            )
            for row in report.to_import
        ]
        try:
            with transaction.atomic():
                Suppression.objects.bulk_create(rows, batch_size=500)
        except IntegrityError:
            # Someone added one of these numbers between validation and insert: report it, import nothing.
            report = build_report(account=account, data=data)
            report.fatal = report.fatal or "The list changed while importing; nothing was imported. Try again."
            return report
        report.imported = len(rows)
        audit_record(
            account=account,
            action="suppression.imported",
            client_ip=client_ip,
            user_agent=user_agent,
            actor=actor,
            target_type="suppression",
            target_id=filename[:80],
            metadata={
                "imported": report.imported,
                "skipped_duplicates": report.count("duplicate"),
                "skipped_existing": report.count("exists"),
                "rows": len(report.rows),
            },
        )
        return report


def suppressions_attach_phone_of_lid(sender, *, contact: Contact, **kwargs) -> None:
    """(``contacts.signals.lid_resolved``) A keyword opt-out recorded for a ``…@lid`` before its number was known gets the number now (so the list shows
    it and the unique-per-number rule holds). Matching already works through the contact's ids either way."""
    lid_only = Suppression.objects.filter(
        account_id=contact.account_id,
        removed_at__isnull=True,
        phone_e164="",
        wa_id__in=contact.identities.values("wa_id"),
    )
    if not lid_only.exists():
        return
    if Suppression.objects.filter(
        account_id=contact.account_id, removed_at__isnull=True, phone_e164=contact.phone_e164
    ).exists():
        return  # the number has its own suppression; the lid row keeps matching through the identity
    first = lid_only.order_by("created_at", "id").first()
    Suppression.objects.filter(pk=first.pk).update(phone_e164=contact.phone_e164)
