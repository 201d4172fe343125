"""Counts the limit checks need, read in one statement while the account's log row is locked."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from whatsapp_gateway.messaging import policy
from whatsapp_gateway.messaging.guard.context import GuardContext


@dataclass(frozen=True)
class Window:
    used: int
    oldest: dt.datetime | None


@dataclass(frozen=True)
class UsageSnapshot:
    local_today: dt.date
    next_local_midnight: dt.datetime
    next_month_start: dt.datetime
    account_day: int
    account_month: int
    instance_day: int
    instance_minute: Window
    instance_hour: Window
    recipient_10_minutes: Window
    recipient_day: Window
    duplicate: Window


def account_tz(account) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(account.timezone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def local_day_bounds(account, now: dt.datetime) -> tuple[dt.date, dt.datetime, dt.datetime]:
    """(today in the account's timezone, the next local midnight, the next 1st of the month), both as aware
    datetimes."""
    tz = account_tz(account)
    local = now.astimezone(tz)
    today = local.date()
    tomorrow = today + dt.timedelta(days=1)
    next_midnight = dt.datetime.combine(tomorrow, dt.time.min, tzinfo=tz)
    first_next = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    next_month = dt.datetime.combine(first_next, dt.time.min, tzinfo=tz)
    return today, next_midnight, next_month


# One row from four one-row aggregates, each one index range scan: the account's daily totals of the month (the
# month and today; at most 31 rows), the instance's row of today, the instance's counted messages of the last hour
# (and of its last minute), the recipient's of the last 24 hours (and of the last 10 minutes, and those with the
# same text in the duplicate window). FILTER keeps the narrower windows inside the same scan. Each window's oldest
# message tells the caller when a slot frees up (Retry-After).
_SNAPSHOT_SQL = """
SELECT a.month, a.today, d.today, iw.hour_n, iw.hour_first, iw.minute_n, iw.minute_first,
  rw.day_n, rw.day_first, rw.ten_n, rw.ten_first, rw.dup_n, rw.dup_first
FROM
  (SELECT COALESCE(SUM(count), 0) AS month, COALESCE(SUM(count) FILTER (WHERE day = %s), 0) AS today
     FROM messaging_accountdailyusage WHERE account_id = %s AND day >= %s AND day <= %s) a,
  (SELECT COALESCE(SUM(count), 0) AS today FROM messaging_dailyusage WHERE instance_id = %s AND day = %s) d,
  (SELECT COUNT(*) AS hour_n, MIN(created_at) AS hour_first,
          COUNT(*) FILTER (WHERE created_at >= %s) AS minute_n,
          MIN(created_at) FILTER (WHERE created_at >= %s) AS minute_first
     FROM messaging_message WHERE instance_id = %s AND counted AND created_at >= %s) iw,
  (SELECT COUNT(*) FILTER (WHERE created_at >= %s) AS day_n,
          MIN(created_at) FILTER (WHERE created_at >= %s) AS day_first,
          COUNT(*) FILTER (WHERE created_at >= %s) AS ten_n,
          MIN(created_at) FILTER (WHERE created_at >= %s) AS ten_first,
          COUNT(*) FILTER (WHERE created_at >= %s AND text_hash = %s) AS dup_n,
          MIN(created_at) FILTER (WHERE created_at >= %s AND text_hash = %s) AS dup_first
     FROM messaging_message WHERE account_id = %s AND phone_hash = %s AND counted AND created_at >= %s) rw
"""


def _as_datetime(value) -> dt.datetime | None:
    """SQLite returns datetimes as text (naive UTC); PostgreSQL as aware datetimes."""
    if value is None or isinstance(value, dt.datetime):
        return value
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def usage_snapshot_query(ctx: GuardContext) -> tuple[str, list]:
    """The statement and parameters of ``usage_snapshot``, for a caller that sends it together with the statement
    that takes the account's lock (``usage_snapshot_from_row`` reads its row)."""
    from django.db import connection

    now = ctx.now
    today, _, _ = local_day_bounds(ctx.account, now)
    adapt = connection.ops.adapt_datetimefield_value
    hour, minute = adapt(now - dt.timedelta(hours=1)), adapt(now - dt.timedelta(minutes=1))
    day_ago, ten_ago = adapt(now - dt.timedelta(hours=24)), adapt(now - dt.timedelta(minutes=10))
    dup_since = adapt(now - dt.timedelta(seconds=policy.DUPLICATE_WINDOW_SECONDS))
    account, instance, phone, text = ctx.account.pk, ctx.instance.pk, ctx.phone_hash, ctx.text_hash
    first, day = today.replace(day=1).isoformat(), today.isoformat()
    widest = now - max(
        dt.timedelta(hours=24), dt.timedelta(minutes=10), dt.timedelta(seconds=policy.DUPLICATE_WINDOW_SECONDS)
    )
    recipient_since = adapt(widest)  # the scan covers the widest recipient window; FILTER narrows the others
    params = [
        *(day, account, first, day),
        *(instance, day),
        *(minute, minute, instance, hour),
        *(day_ago, day_ago, ten_ago, ten_ago, dup_since, text, dup_since, text, account, phone, recipient_since),
    ]
    return _SNAPSHOT_SQL, params


def usage_snapshot_from_row(ctx: GuardContext, row: tuple) -> UsageSnapshot:
    today, next_midnight, next_month = local_day_bounds(ctx.account, ctx.now)
    (month, acct_day, inst_day, h, h_min, m, m_min, rd, rd_min, r10, r10_min, dup, dup_min) = row
    return UsageSnapshot(
        local_today=today,
        next_local_midnight=next_midnight,
        next_month_start=next_month,
        account_day=int(acct_day),
        account_month=int(month),
        instance_day=int(inst_day),
        instance_minute=Window(int(m), _as_datetime(m_min)),
        instance_hour=Window(int(h), _as_datetime(h_min)),
        recipient_10_minutes=Window(int(r10), _as_datetime(r10_min)),
        recipient_day=Window(int(rd), _as_datetime(rd_min)),
        duplicate=Window(int(dup), _as_datetime(dup_min)),
    )


def usage_snapshot(ctx: GuardContext) -> UsageSnapshot:
    """Every count the locked checks need, in one statement (this runs while the account's row is locked, so it is
    raw SQL: the ORM's query building would hold the lock several times longer)."""
    from django.db import connection

    sql, params = usage_snapshot_query(ctx)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return usage_snapshot_from_row(ctx, row)
