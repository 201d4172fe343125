"""Time ``GET /inbound-logs`` on a large seeded log (``bench/seed_inbound.py``) through the real Django stack:
the test client, logged in as the bench account's owner (middleware, session, portal decorator, form, selector,
template), on whatever database the environment names.

    GATEWAY_DATA_DIR=/tmp/x .venv/bin/python -m bench.seed_inbound              # once
    GATEWAY_DATA_DIR=/tmp/x .venv/bin/python -m bench.inbound_logs
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/scratch .venv/bin/python -m bench.inbound_logs --repeat 30

For every case it prints the median and p95 wall time of the full request, the rows on the page and the SQL query
count; ``--explain`` also prints the database's plan for the page query. Figures only, never pass/fail.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import time

from bench.seed_inbound import ACCOUNT_NAME, OWNER_EMAIL, _setup


def _cases(account, instances) -> list[tuple[str, dict[str, str]]]:
    from whatsapp_gateway.inbound.models import InboundMessage
    from whatsapp_gateway.inbound.selectors import Cursor

    rows = InboundMessage.objects.filter(account=account).order_by("-received_at", "-pk")
    total = rows.count()
    deep = rows.values_list("received_at", "pk")[total // 2]  # once, to build the cursor a user reaches by paging
    near_end = rows.values_list("received_at", "pk")[max(total - 20, 0)]
    busy_sender = (
        rows.exclude(sender_phone="").values_list("sender_phone", flat=True).first()
    )  # the most recent sender (usually one of the very active ones)
    quiet = rows.filter(sender_phone__endswith="7").order_by("received_at").values_list("sender_phone", flat=True)[0]
    lid = rows.filter(sender_phone="").exclude(sender_lid="").values_list("sender_lid", flat=True).first() or ""
    newest = rows.values_list("received_at", flat=True).first()
    month_ago = newest - __import__("datetime").timedelta(days=40)
    return [
        ("first page (no filter)", {}),
        (f"deep page (cursor at row {total // 2:,})", {"after": Cursor(deep[0], deep[1]).encode()}),
        ("last page (cursor 20 rows from the end)", {"after": Cursor(near_end[0], near_end[1]).encode()}),
        ("instance", {"instance": instances[1].public_id}),
        ("instance + deep cursor", {"instance": instances[1].public_id, "after": Cursor(deep[0], deep[1]).encode()}),
        ("sender (busy number, E.164)", {"sender": busy_sender}),
        ("sender (rare number, E.164)", {"sender": quiet}),
        ("sender (@lid)", {"sender": lid}),
        ("sender (last 4 digits)", {"sender": quiet[-4:]}),
        ("type = location", {"type": "location"}),
        ("text contains common word 'refund'", {"q": "refund"}),
        ("text contains rare word 'zebracorn'", {"q": "zebracorn"}),
        ("text contains phrase 'card refund' (~0.2 %)", {"q": "card refund"}),
        ("text contains absent word 'xylophone'", {"q": "xylophone"}),
        ("text contains Arabic 'الفاتورة'", {"q": "الفاتورة"}),
        ("opt-outs only", {"opt_outs": "on"}),
        (
            "date range (one day, 40 days ago)",
            {"date_from": month_ago.date().isoformat(), "date_to": month_ago.date().isoformat()},
        ),
        (
            "instance + type + date range (3 months)",
            {
                "instance": instances[2].public_id,
                "type": "image",
                "date_from": (month_ago - __import__("datetime").timedelta(days=90)).date().isoformat(),
                "date_to": month_ago.date().isoformat(),
            },
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--only", default="", help="run only the cases whose name contains this")
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # no access-log line per request
    _setup()
    from django.conf import settings
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import setup_test_environment

    from whatsapp_gateway.accounts.models import Account, User
    from whatsapp_gateway.inbound.models import InboundMessage
    from whatsapp_gateway.instances.models import Instance

    setup_test_environment()  # the test client's response.context / template hooks; no test database
    settings.DEBUG = True  # record queries (counted per request)
    settings.ALLOWED_HOSTS = ["*"]
    account = Account.objects.get(name=ACCOUNT_NAME)
    instances = list(Instance.objects.filter(account=account).order_by("pk"))
    client = Client()
    client.force_login(User.objects.get(email=OWNER_EMAIL))
    total = InboundMessage.objects.filter(account=account).count()
    print(f"{connection.vendor}: {total:,} inbound rows for {account.name!r}; {args.repeat} requests per case")
    print(f"{'case':<48} {'median ms':>10} {'p95 ms':>8} {'rows':>5} {'queries':>7}")
    for name, params in _cases(account, instances):
        if args.only and args.only not in name:
            continue
        timings = []
        for _ in range(args.repeat):
            reset_queries()
            started = time.perf_counter()
            response = client.get("/inbound-logs", params)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (name, response.status_code)
        queries = len(connection.queries)
        shown = len(re.findall(rb'href="/inbound-logs/in_', response.content))
        timings.sort()
        p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
        print(f"{name:<48} {statistics.median(timings):>10.1f} {p95:>8.1f} {shown:>5} {queries:>7}")
        if args.explain:
            page_sql = max(
                connection.queries, key=lambda q: len(q["sql"]) if "inbound_inboundmessage" in q["sql"] else 0
            )
            with connection.cursor() as cursor:
                prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
                cursor.execute(prefix + page_sql["sql"])
                for line in cursor.fetchall():
                    print("      ", " ".join(str(c) for c in line))


if __name__ == "__main__":
    main()
