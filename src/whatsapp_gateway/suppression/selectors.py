"""Suppression reads. The send guard asks ``suppression_blocking`` (or ``suppression_find``) before anything reaches a
provider."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.contacts.models import Contact, ContactIdentity
from whatsapp_gateway.contacts.selectors import identity_expand
from whatsapp_gateway.suppression.models import Suppression, SuppressionReason, SuppressionSource

AUTHENTICATION_PURPOSE = "authentication"


def suppressions_matching(
    *, account: Account, phone_e164: str = "", aliases: Iterable[str] = ()
) -> QuerySet[Suppression]:
    """Every active suppression of this person: by E.164 number, by any WhatsApp id seen for them, and by the ids
    and number of the contact they belong to. ``aliases`` may mix E.164 numbers and WhatsApp ids."""
    numbers = {phone_e164} if phone_e164 else set()
    wa_ids: set[str] = set()
    for alias in aliases:
        if not alias:
            continue
        (wa_ids if "@" in alias else numbers).add(alias)
    numbers, wa_ids = identity_expand(account=account, numbers=numbers, wa_ids=wa_ids)
    if not numbers and not wa_ids:
        return Suppression.objects.none()
    # Both columns are compared with every form: rows written by older code kept a ``…@lid`` in ``phone_e164``.
    every = numbers | wa_ids
    return Suppression.objects.filter(
        Q(phone_e164__in=every) | Q(wa_id__in=every), account=account, removed_at__isnull=True
    ).order_by("-created_at", "-id")


@cache
def suppression_number_sql() -> str:
    """One statement doing what ``identity_expand`` + ``suppressions_matching`` do for a single E.164 number: the
    number itself, and every WhatsApp id of the account's contacts with that number, in either column. Named
    parameters ``account``, ``phone`` and ``blocked`` (``SuppressionReason.BLOCKED``); the send guard also embeds
    it in its one read statement (``messaging.guard.reads``)."""
    ids = (
        f"SELECT ci.wa_id FROM {ContactIdentity._meta.db_table} ci JOIN {Contact._meta.db_table} c "  # noqa: S608
        "ON c.id = ci.contact_id WHERE ci.account_id = %(account)s AND c.account_id = %(account)s "
        "AND c.phone_e164 = %(phone)s"
    )
    return (
        f"SELECT * FROM {Suppression._meta.db_table} s WHERE s.account_id = %(account)s AND s.removed_at IS NULL "  # noqa: S608
        f"AND (s.phone_e164 = %(phone)s OR s.wa_id = %(phone)s OR s.phone_e164 IN ({ids}) OR s.wa_id IN ({ids})) "
        f"ORDER BY CASE WHEN s.reason = %(blocked)s THEN 0 ELSE 1 END, s.created_at DESC, s.id DESC LIMIT 1"
    )


def suppression_find(*, account: Account, phone_e164: str, aliases: Iterable[str] = ()) -> Suppression | None:
    """The active suppression for this number (see ``suppressions_matching``); ``None`` when it may be messaged.
    A manual block wins over a keyword opt-out when both exist."""
    if phone_e164 and not aliases:
        # The send guard's case (every send): one prepared statement instead of two ORM-built queries.
        params = {"account": account.pk, "phone": phone_e164, "blocked": SuppressionReason.BLOCKED.value}
        return next(iter(Suppression.objects.raw(suppression_number_sql(), params)), None)
    matches = list(suppressions_matching(account=account, phone_e164=phone_e164, aliases=aliases))
    if not matches:
        return None
    blocked = [s for s in matches if s.reason == SuppressionReason.BLOCKED]
    return blocked[0] if blocked else matches[0]


def suppression_blocking(
    *, account: Account, phone_e164: str, purpose: str, aliases: Iterable[str] = ()
) -> Suppression | None:
    """The suppression that blocks sending ``purpose`` to this number, or ``None`` (docs/api.md "Opt-outs and suppression").

    Every purpose is blocked, except ``authentication`` (one-time codes the person asked for), which may reach a
    number that opted out *by keyword* when the account allows it (``allow_authentication_to_opted_out``, default
    on). A manually blocked number (``reason=blocked``), or an opt-out recorded any other way, blocks every purpose.
    """
    suppression = suppression_find(account=account, phone_e164=phone_e164, aliases=aliases)
    if suppression is None:
        return None
    if (
        purpose == AUTHENTICATION_PURPOSE
        and account.allow_authentication_to_opted_out
        and suppression.reason == SuppressionReason.OPTED_OUT
        and suppression.source == SuppressionSource.KEYWORD
    ):
        return None
    return suppression


def suppression_get_for_account(*, account: Account, public_id: str) -> Suppression:
    """One suppression of this account by its public id; 404 for anyone else's."""
    return get_object_or_404(Suppression, account=account, public_id=public_id)


def suppression_list(
    *, account: Account, query: str = "", include_removed: bool = False, reason: str = ""
) -> QuerySet[Suppression]:
    """The account's suppression list, newest first. ``query`` matches digits of the number, the WhatsApp id, the
    keyword or the note."""
    rows = Suppression.objects.filter(account=account).select_related("created_by", "removed_by", "instance")
    if not include_removed:
        rows = rows.filter(removed_at__isnull=True)
    if reason:
        rows = rows.filter(reason=reason)
    query = query.strip()
    if query:
        digits = re.sub(r"\D", "", query)
        condition = Q(note__icontains=query) | Q(keyword__icontains=query) | Q(wa_id__icontains=query)
        if digits and len(digits) >= 3:
            condition |= Q(phone_e164__contains=digits)
        rows = rows.filter(condition)
    return rows.order_by("-created_at", "-id")
