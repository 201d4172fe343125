"""Inbound reads used by other apps (the send guard's risk score, the 3CX conversation window)."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, StrIndex, Upper
from django.shortcuts import get_object_or_404

from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.inbound.models import InboundMessage
from whatsapp_gateway.inbound.text_search import filter_text
from whatsapp_gateway.instances.models import Instance

# --- Inbound Logs ----------------------------------------------------------------------------------------------------

PAGE_SIZE = 50
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class InboundFilters:
    """The Inbound Logs filters. ``sender`` is an E.164 number (exact), a WhatsApp id (exact) or, as a slower
    fallback, trailing digits of a number; ``text`` is a case-insensitive substring of the message text."""

    instance_id: int | None = None
    received_from: dt.datetime | None = None  # inclusive
    received_to: dt.datetime | None = None  # exclusive
    sender_phone: str = ""
    sender_wa_id: str = ""
    sender_digits: str = ""
    message_type: str = ""
    text: str = ""
    opt_outs_only: bool = False


@dataclass(frozen=True)
class Cursor:
    """A position in the (received_at, id) order. Opaque in URLs; never used to look an object up."""

    received_at: dt.datetime
    pk: int

    def encode(self) -> str:
        micros = (self.received_at - _EPOCH) // dt.timedelta(microseconds=1)
        return base64.urlsafe_b64encode(f"{micros}.{self.pk}".encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str | None) -> Cursor | None:
        if not value or len(value) > 64:
            return None
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
            micros, pk = raw.split(".")
            return cls(received_at=_EPOCH + dt.timedelta(microseconds=int(micros)), pk=int(pk))
        except (ValueError, OverflowError, UnicodeDecodeError):
            return None

    @classmethod
    def of(cls, row: InboundMessage) -> Cursor:
        return cls(received_at=row.received_at, pk=row.pk)


@dataclass(frozen=True)
class KeysetPage:
    rows: list[InboundMessage]
    newer: Cursor | None  # pass as ?before= to see the page of newer rows
    older: Cursor | None  # pass as ?after= to see the page of older rows


def inbound_filtered(*, account: Account, filters: InboundFilters, with_text: bool = True) -> QuerySet[InboundMessage]:
    """The account's inbound messages matching ``filters`` (unordered); ``with_text=False`` leaves out the text
    search (``inbound_page`` applies it itself)."""
    rows = InboundMessage.objects.filter(account=account)
    if filters.instance_id:
        rows = rows.filter(instance_id=filters.instance_id)
    if filters.received_from:
        rows = rows.filter(received_at__gte=filters.received_from)
    if filters.received_to:
        rows = rows.filter(received_at__lt=filters.received_to)
    if filters.sender_phone:
        rows = rows.filter(sender_phone=filters.sender_phone)
    elif filters.sender_wa_id:
        rows = rows.filter(Q(sender_lid=filters.sender_wa_id) | Q(sender_id=filters.sender_wa_id))
    elif filters.sender_digits:
        rows = rows.filter(sender_phone__endswith=filters.sender_digits)
    if filters.message_type:
        rows = rows.filter(message_type=filters.message_type)
    if filters.text and with_text:
        rows = filter_text(rows, filters.text)
    if filters.opt_outs_only:
        rows = rows.filter(is_opt_out=True)
    return rows


# A text search first looks for a page among this many newest rows (in the keyset order, other filters applied);
# when that window held some matches but not a page, once more in a window sized from their density, up to the max.
TEXT_PROBE_ROWS = 20_000
TEXT_PROBE_MAX_ROWS = 100_000
TEXT_PROBE_MIN_HITS = 10
_FAR_PAST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_FAR_FUTURE = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)


def _probe(
    rows: QuerySet[InboundMessage], *, text: str, order: tuple[str, str], window_rows: int, limit: int
) -> list[InboundMessage]:
    """The first ``limit`` matches among the first ``window_rows`` rows of ``rows`` in ``order`` (one query).

    The window is "``received_at`` from the window_rows-th row on", a prefix of the order. The match is
    ``STRPOS(UPPER(text), UPPER(word)) > 0``: ``icontains``'s very semantics, in a form no trigram index serves, so
    the database walks the bounded window instead of collecting every match of the word.
    """
    edge = Subquery(rows.order_by(*order).values("received_at")[window_rows - 1 : window_rows])
    if order[0] == "received_at":
        window = rows.filter(received_at__lte=Coalesce(edge, Value(_FAR_FUTURE)))
    else:
        window = rows.filter(received_at__gte=Coalesce(edge, Value(_FAR_PAST)))
    return list(
        window.alias(_at=StrIndex(Upper("text"), Upper(Value(text))))
        .filter(_at__gt=0)
        .select_related("instance")
        .order_by(*order)[:limit]
    )


def _fetch(rows: QuerySet[InboundMessage], *, text: str, ascending: bool, limit: int) -> list[InboundMessage]:
    """The first ``limit`` rows of ``rows`` in keyset order that contain ``text`` (when given).

    A text search has two cheap plans and a database cannot tell which one applies: a common word is found at once
    by walking the (received_at, id) index, a rare one only through the trigram index (walking reads the whole
    log: 4.4 s at 1,000,000 rows on SQLite), while the trigram index on a common word collects and sorts every
    match (0.7 s on PostgreSQL, whose estimate for ``LIKE '%word%'`` is blind to how common the word is). So:
    look among the newest ``TEXT_PROBE_ROWS`` rows first; a full page there is exactly the page, as those rows are
    a prefix of the order. A word seen at least ``TEXT_PROBE_MIN_HITS`` times there is common enough to fill a page
    within a window sized from its density (twice the estimate, at most ``TEXT_PROBE_MAX_ROWS``): walk that one
    (a 1-in-400 phrase at 1M rows on PostgreSQL: 0.19 s, against 0.55 s through the index). Otherwise the word is
    rare (under ~1 in 2,000 rows) and the trigram index is cheap. At most three queries at any log size.
    """
    order = ("received_at", "pk") if ascending else ("-received_at", "-pk")
    if not text:
        return list(rows.select_related("instance").order_by(*order)[:limit])
    chunk = _probe(rows, text=text, order=order, window_rows=TEXT_PROBE_ROWS, limit=limit)
    if len(chunk) == limit:
        return chunk
    if len(chunk) >= TEXT_PROBE_MIN_HITS:
        wider = min(TEXT_PROBE_MAX_ROWS, 2 * TEXT_PROBE_ROWS * limit // len(chunk))
        chunk = _probe(rows, text=text, order=order, window_rows=wider, limit=limit)
        if len(chunk) == limit:
            return chunk
    return list(filter_text(rows, text).select_related("instance").order_by(*order)[:limit])


def inbound_page(
    *,
    account: Account,
    filters: InboundFilters,
    after: Cursor | None = None,
    before: Cursor | None = None,
    size: int = PAGE_SIZE,
) -> KeysetPage:
    """One page of Inbound Logs, newest first, by keyset on (received_at, id): the cost of a page does not grow with
    how deep it is or how many rows the account has (the ``inbound_acct_*`` indexes serve the filters; the text
    search is ``_fetch``'s).

    ``after`` gives the rows older than the cursor, ``before`` the rows newer than it. The bound is written as
    ``received_at <= t AND NOT (received_at = t AND id >= pk)`` so the database can range-scan the index on
    ``received_at`` and only tie-break on ``id``; equal timestamps never cause gaps or repeats.
    """
    rows = inbound_filtered(account=account, filters=filters, with_text=False)
    if before is not None:
        rows = rows.filter(received_at__gte=before.received_at).exclude(
            received_at=before.received_at, pk__lte=before.pk
        )
        chunk = _fetch(rows, text=filters.text, ascending=True, limit=size + 1)
        has_newer = len(chunk) > size
        chunk = list(reversed(chunk[:size]))
        return KeysetPage(
            rows=chunk,
            newer=Cursor.of(chunk[0]) if chunk and has_newer else None,
            older=Cursor.of(chunk[-1]) if chunk else None,
        )
    if after is not None:
        rows = rows.filter(received_at__lte=after.received_at).exclude(received_at=after.received_at, pk__gte=after.pk)
    chunk = _fetch(rows, text=filters.text, ascending=False, limit=size + 1)
    has_older = len(chunk) > size
    chunk = chunk[:size]
    return KeysetPage(
        rows=chunk,
        newer=Cursor.of(chunk[0]) if chunk and after is not None else None,
        older=Cursor.of(chunk[-1]) if chunk and has_older else None,
    )


def inbound_iterate(*, account: Account, filters: InboundFilters, batch: int = 2000) -> Iterator[InboundMessage]:
    """Every matching row, newest first, fetched in keyset batches (for the CSV export: constant memory, no
    long-lived server-side cursor)."""
    after = None
    while True:
        page = inbound_page(account=account, filters=filters, after=after, size=batch)
        yield from page.rows
        if page.older is None:
            return
        after = page.older


def inbound_get_for_account(*, account: Account, public_id: str) -> InboundMessage:
    """One inbound message of this account by its ``in_…`` id; 404 for anyone else's."""
    return get_object_or_404(
        InboundMessage.objects.select_related("instance", "contact"), account=account, public_id=public_id
    )


def instances_for_filter(*, account: Account) -> list[Instance]:
    """The account's instances (including deleted ones, whose messages stay in the log) for the filter menu."""
    return list(Instance.objects.filter(account=account).order_by("name").only("pk", "public_id", "name"))
