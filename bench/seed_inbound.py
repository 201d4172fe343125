"""Seed N inbound log rows (default 1,000,000) for one account across a few instances, fast, for the Inbound Logs
timing benchmark (``bench/inbound_logs.py``).

    GATEWAY_DATA_DIR=/tmp/x .venv/bin/python -m bench.seed_inbound                      # SQLite under the data dir
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/scratch .venv/bin/python -m bench.seed_inbound --rows 1000000

Migrates the database, creates (once) the account ``Inbound Bench`` with the owner ``inbound-bench@example.com``
(password ``correct-horse-battery-9``) and ``--instances`` sandbox instances, then inserts rows directly: COPY on
PostgreSQL, ``executemany`` in 50,000-row transactions on SQLite. Rows bypass the pipeline on purpose (the pipeline
has its own benchmark, ``bench/inbound.py``); their shape follows it: received in order over the last 300 days, 85 % text,
~40,000 distinct senders (some only known by ``@lid``), ~0.3 % opt-outs, texts drawn from a small vocabulary plus a
few rare words (so text search has both common and rare terms to find). Prints rows/s. Re-running adds more rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT_NAME = "Inbound Bench"
OWNER_EMAIL = "inbound-bench@example.com"
BATCH = 50_000
COLUMNS = (
    "public_id",
    "account_id",
    "instance_id",
    "contact_id",
    "provider_message_id",
    "chat_id",
    "sender_phone",
    "sender_id",
    "sender_lid",
    "sender_name",
    "is_group",
    "group_id",
    "group_name",
    "message_type",
    "text",
    "metadata",
    "keyword_action",
    "keyword",
    "is_opt_out",
    "forwarding_status",
    "forwarding_detail",
    "received_at",
    "created_at",
    "body_redacted_at",
)
_WORDS_TEXT = (
    "hello hi order delivery shipped where is my package thanks thank you please when will it arrive price "
    "invoice payment card refund return exchange size colour available branch riyadh jeddah dammam today "
    "tomorrow morning evening مرحبا شكرا طلب التوصيل متى السعر الفاتورة الدفع استرجاع الفرع اليوم بكرة"
)
WORDS = _WORDS_TEXT.split()
RARE_WORDS = ("zebracorn", "platypus", "kumquat")  # ~1 in 20,000 messages each: the "rare term" search case
TYPES = ("image", "video", "audio", "document", "sticker", "location", "contact", "reaction")
OPT_OUT_TEXTS = ("STOP", "stop", "Unsubscribe", "إيقاف", "الغاء الاشتراك")


def _setup() -> None:
    sys.path[:0] = [str(ROOT), str(ROOT / "src")]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatsapp_gateway.settings")
    import django

    django.setup()


def ensure_account(instances: int):
    """The bench account, its owner and ``instances`` sandbox instances (created once)."""
    from django.core.management import call_command

    from whatsapp_gateway.accounts.models import Account
    from whatsapp_gateway.instances.models import Instance

    call_command("migrate", verbosity=0)
    account = Account.objects.filter(name=ACCOUNT_NAME).first()
    if account is None:
        from tests.factories import make_account_with_user

        account = make_account_with_user(email=OWNER_EMAIL, account_name=ACCOUNT_NAME, plan_code="scale").account
    from tests.factories import make_instance

    existing = list(Instance.objects.filter(account=account).order_by("pk"))
    for n in range(len(existing), instances):
        existing.append(make_instance(account, name=f"bench-line-{n + 1}"))
    return account, existing[:instances]


def _rows(account_id: int, instance_ids: list[int], count: int, seed: int, start_index: int):
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    span = 300 * 86400
    senders = [f"+9665{n:08d}" for n in rng.sample(range(10**8), 40_000)]
    for i in range(start_index, start_index + count):
        # In arrival order, as production writes them (ids follow time), with late deliveries up to a minute.
        received = now - dt.timedelta(seconds=span * (1 - (i - start_index) / count) + rng.random() * 60)
        sender_n = int(rng.paretovariate(1.2)) % len(senders)  # a few very active senders, a long tail
        phone = senders[sender_n]
        lid_only = sender_n % 50 == 7
        lid = f"{1000000000 + sender_n * 7919}@lid" if sender_n % 5 == 0 else ""
        is_opt_out = rng.random() < 0.003
        if is_opt_out:
            mtype, text, keyword = "text", rng.choice(OPT_OUT_TEXTS), "stop"
        elif rng.random() < 0.85:
            words = rng.choices(WORDS, k=rng.randint(2, 14))
            if rng.random() < 1 / 20_000 * len(RARE_WORDS):
                words.insert(rng.randrange(len(words)), rng.choice(RARE_WORDS))
            mtype, text, keyword = "text", " ".join(words).capitalize(), ""
        else:
            mtype, text, keyword = rng.choice(TYPES), "", ""
        created = received + dt.timedelta(milliseconds=rng.randint(5, 900))
        yield (
            f"in_b{i:019d}",
            account_id,
            instance_ids[i % len(instance_ids)],
            None,
            f"BENCH{seed:04d}{i:012d}",
            lid if lid_only else f"{phone[1:]}@s.whatsapp.net",
            "" if lid_only else phone,
            lid if lid_only else f"{phone[1:]}@s.whatsapp.net",
            lid,
            f"Customer {sender_n}",
            False,
            "",
            "",
            mtype,
            text,
            "{}" if mtype == "text" else json.dumps({"mimetype": "image/jpeg"} if mtype == "image" else {}),
            "opt_out" if is_opt_out else "",
            keyword,
            is_opt_out,
            "none",
            "",
            received,
            created,
            None,
        )


def _insert_postgres(connection, rows) -> None:
    columns = ", ".join(COLUMNS)
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3
        with raw.copy(f"COPY inbound_inboundmessage ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _insert_sqlite(connection, rows) -> None:
    from django.db import transaction

    placeholders = ", ".join("?" for _ in COLUMNS)
    sql = f"INSERT INTO inbound_inboundmessage ({', '.join(COLUMNS)}) VALUES ({placeholders})"  # noqa: S608 - fixed column names
    batch: list[tuple] = []

    def flush() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.cursor.executemany(sql, batch)  # the raw sqlite3 cursor: no per-row Django overhead
        batch.clear()

    for row in rows:
        # sqlite3 stores datetimes as Django does: ISO text in UTC without the offset (USE_TZ).
        row = list(row)
        for k in (21, 22):
            row[k] = row[k].astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
        batch.append(tuple(row))
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--instances", type=int, default=4)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    _setup()
    from django.db import connection

    from whatsapp_gateway.inbound.models import InboundMessage

    account, instances = ensure_account(args.instances)
    already = InboundMessage.objects.filter(account=account).count()
    rows = _rows(account.pk, [i.pk for i in instances], args.rows, args.seed + already, already)
    started = time.perf_counter()
    if connection.vendor == "postgresql":
        _insert_postgres(connection, rows)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE inbound_inboundmessage")
    else:
        _insert_sqlite(connection, rows)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    seconds = time.perf_counter() - started
    total = InboundMessage.objects.filter(account=account).count()
    print(
        f"{connection.vendor}: inserted {args.rows:,} rows in {seconds:.1f} s ({args.rows / seconds:,.0f} rows/s); "
        f"account {account.name!r} now has {total:,} inbound rows over {len(instances)} instances; "
        f"log in as {OWNER_EMAIL}"
    )


if __name__ == "__main__":
    main()
