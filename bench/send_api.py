"""Benchmark POST /api/send-message against the floor every logged send must pay, on the same server in one run.

Starts the gateway the way production runs it (``whatsapp-gateway web``: gunicorn, gthread workers) on a fresh data
directory, with the floor endpoint enabled (``GATEWAY_BENCH_FLOOR=1``: ``POST /api/bench/floor`` authenticates the
API key like the send API, parses the same JSON body and durably writes one row as wide as a message-log row,
nothing else; it is never routed in production). It raises the demo account's plan limits (a custom plan),
spreads the load over many sandbox instances and recipients so the velocity guard does not throttle it, gives the
account a month of history (``--history``, 30,000 past messages; on PostgreSQL then ``ANALYZE``, as autovacuum
keeps a database in service: see ``seed_history``), then drives each endpoint with N concurrent keep-alive clients
and prints accepted requests/s, p50/p99 latency and the server's CPU per request (from /proc; with a PostgreSQL
server on this machine, its processes' CPU per request beside it), and last, per database:

    send/floor CPU: <ratio of CPU per request>  sends/s: N  p50: N ms  p99: N ms

    .venv/bin/python -m bench.send_api                                   # SQLite (embedded default)
    .venv/bin/python -m bench.send_api --database-url postgres://postgres@127.0.0.1:5432/bench \
        --redis-url redis://127.0.0.1:6379/0                             # a scratch DB
    .venv/bin/python -m bench.send_api --runs 3 --settle 180             # three runs from a settled machine, medians

``--mode send`` posts real sends (``dry_run: false``: guard, counting, message log row, queue wake-up);
``--mode dry_run`` posts dry runs (every guard and a log row, no counting); ``both`` (the default) measures each.
The background worker is not started: the figures are the web tier's.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing as mp
import os
import statistics
import threading
import time
import uuid

from bench.gateway_server import GatewayServer
from bench.proc_cpu import processes_cpu_seconds
from bench.scratch_db import scratch_postgres

INSTANCES = 1200  # × 20 sends/minute each (velocity guard): room for both send phases at ~600 sends/s
HISTORY = 30_000  # a month of an account's sends before the run (seed_history)


def _client_proc(index, port, method, path, body_factory, headers, seconds, threads, out):
    """``headers`` is one dict, or a list of dicts that the clients take in turn (one API key per account)."""
    stop_at = time.monotonic() + seconds
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    def worker(n: int) -> None:
        mine = headers[n % len(headers)] if isinstance(headers, list) else headers
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local_lat, local_status = [], {}
        i = 0
        while time.monotonic() < stop_at:
            body = body_factory(n, i) if body_factory else None
            i += 1
            start = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=mine)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = 0
            local_lat.append(time.perf_counter() - start)
            local_status[status] = local_status.get(status, 0) + 1
        with lock:
            latencies.extend(local_lat)
            for k, v in local_status.items():
                statuses[k] = statuses.get(k, 0) + v

    pool = [threading.Thread(target=worker, args=(index * 1000 + n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.put((latencies, statuses))


class SendBodies:
    """Distinct recipients and texts spread over the instances (picklable for the client processes)."""

    def __init__(self, names: list[str], dry_run: bool, tag: str) -> None:
        self.names, self.dry_run, self.tag = names, dry_run, tag

    def __call__(self, n: int, i: int) -> bytes:
        k = n * 100_003 + i
        return json.dumps(
            {
                "instance_id": self.names[k % len(self.names)],
                "phone": f"+96650{(k * 7919) % 10_000_000:07d}",
                "message": f"Ticket {self.tag}-{n}-{i} was updated; reply here with any question.",
                "message_purpose": "support",
                "dry_run": self.dry_run,
            }
        ).encode()


def drive(
    port: int,
    *,
    method: str,
    path: str,
    body_factory,
    headers: dict,
    clients: int,
    seconds: float,
    server: GatewayServer | None = None,
) -> dict:
    procs_n = min(4, clients)
    per = [clients // procs_n + (1 if i < clients % procs_n else 0) for i in range(procs_n)]
    out: mp.Queue = mp.Queue()
    procs = [
        mp.Process(target=_client_proc, args=(i, port, method, path, body_factory, headers, seconds, t, out))
        for i, t in enumerate(per)
    ]
    started = time.monotonic()
    cpu_before = server.cpu_seconds() if server else 0.0
    db_before = processes_cpu_seconds("postgres") if server and server.database_url else 0.0
    for p in procs:
        p.start()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    for _ in procs:
        lat, st = out.get()
        latencies.extend(lat)
        for k, v in st.items():
            statuses[k] = statuses.get(k, 0) + v
    for p in procs:
        p.join()
    elapsed = time.monotonic() - started
    server_cpu = server.cpu_seconds() - cpu_before if server else 0.0
    db_cpu = processes_cpu_seconds("postgres") - db_before if server and server.database_url else 0.0
    latencies.sort()
    ok = sum(v for k, v in statuses.items() if 200 <= k < 300)
    return {
        "requests": len(latencies),
        "accepted": ok,
        "statuses": dict(sorted(statuses.items())),
        "rps": ok / elapsed,
        "server_cpu_ms": server_cpu / len(latencies) * 1000 if latencies else 0,
        "db_cpu_ms": db_cpu / len(latencies) * 1000 if latencies else 0,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else 0,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else 0,
    }


def prepare(server: GatewayServer, instances: int, accounts: int = 1) -> tuple[list[str], list[str]]:
    """A custom plan with room for the run, and many connected sandbox instances (the velocity guard allows 20
    sends a minute per instance, which a benchmark would otherwise hit in a second). With ``accounts`` > 1, more
    accounts get the same instance names and an API key each; returns (instance names, API keys)."""
    code = f"""
import json
from whatsapp_gateway.accounts.models import Account, Plan, User
from whatsapp_gateway.accounts.services import account_create
from whatsapp_gateway.apikeys.services import api_key_create
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.providers.models import SandboxSession
demo = Account.objects.get(public_id={server.demo["account_id"]!r})
plan, _ = Plan.objects.get_or_create(code="bench", defaults=dict(name="Benchmark (custom)", daily_limit=10_000_000,
    monthly_limit=100_000_000, max_instances={instances + 10}, is_custom=True))
accounts, keys = [demo], []
for n in range(1, {accounts}):
    owner = User.objects.create_user(username=f"bench{{n}}@example.com", email=f"bench{{n}}@example.com",
        password="bench-password-123")
    accounts.append(account_create(name=f"Bench {{n}}", owner=owner, plan=plan, modules=list(demo.enabled_modules)))
    keys.append(api_key_create(account=accounts[-1], name="bench").full_key)
for account in accounts:
    account.plan = plan
    account.save()
    Instance.objects.bulk_create([Instance(account=account, name=f"bench-{{i:04d}}", state="connected",
        provider="sandbox", phone_number=f"+1415{{account.pk:03d}}{{i:04d}}") for i in range({instances})])
    for inst in Instance.objects.filter(account=account, name__startswith="bench-"):
        SandboxSession.objects.get_or_create(instance=inst, defaults=dict(status="open",
            phone_number=inst.phone_number))
print(json.dumps(keys))
"""
    extra_keys = json.loads(server.python(code).strip().splitlines()[-1])
    return [f"bench-{i:04d}" for i in range(instances)], [server.demo["api_key"], *extra_keys]


def seed_history(server: GatewayServer, rows: int) -> None:
    """A month of delivered history behind each benchmark account (``rows`` messages from 25 hours to 30 days ago,
    with their daily counts), then ``ANALYZE`` on PostgreSQL, where autovacuum does the same in a database in
    service. A gateway in use answers sends against such tables; an empty database that was never analysed measures
    the planner's guesses about tables it has not seen, which change as the run fills them."""
    code = f"""
import collections, datetime as dt, random
from django.db import connection, transaction
from django.db.models import F
from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.messaging.guard.checks import phone_hash
from whatsapp_gateway.messaging.guard.context import text_fingerprint
from whatsapp_gateway.messaging.models import AccountDailyUsage, DailyUsage, LogSequence, Message
rng = random.Random(7)
at = now()
for account in Account.objects.filter(plan__code="bench"):
    instances = list(Instance.objects.filter(account=account, name__startswith="bench-"))
    with transaction.atomic():
        seq, _ = LogSequence.objects.select_for_update().get_or_create(account=account)
        first = seq.last_log_id + 1
        LogSequence.objects.filter(pk=seq.pk).update(last_log_id=F("last_log_id") + {rows})
        batch, days, account_days = [], collections.Counter(), collections.Counter()
        for n in range({rows}):
            instance = instances[n % len(instances)]
            created = at - dt.timedelta(hours=25) - dt.timedelta(seconds=rng.randrange(29 * 86400))
            phone = f"+96655{{rng.randrange(10_000_000):07d}}"
            text = f"Your order {{rng.randrange(10**6)}} has shipped; track it in the app."
            status = rng.choice(["delivered", "delivered", "read", "read", "sent", "failed", "blocked"])
            counted = status != "blocked"
            batch.append(Message(account=account, log_id=first + n, instance=instance, instance_ref=instance.name,
                source="api", purpose="transactional", phone_e164=phone, phone_hash=phone_hash(phone), text=text,
                text_hash=text_fingerprint(text), status=status, decision="block" if not counted else "allow",
                counted=counted, provider="sandbox", created_at=created,
                history=[{{"status": "queued", "at": created.isoformat()}}]))
            if counted:
                days[(instance.pk, created.date())] += 1
                account_days[created.date()] += 1
            if len(batch) == 2000:
                Message.objects.bulk_create(batch)
                batch = []
        Message.objects.bulk_create(batch)
        DailyUsage.objects.bulk_create([DailyUsage(account=account, instance_id=i, day=d, count=c)
            for (i, d), c in days.items()])
        AccountDailyUsage.objects.bulk_create([AccountDailyUsage(account=account, day=d, count=c)
            for d, c in account_days.items()])
if connection.vendor == "postgresql":
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
"""
    server.python(code)


def fmt(name: str, r: dict) -> str:
    return (
        f"  {name:<28} {r['rps']:8.1f} accepted req/s   p50 {r['p50_ms']:7.1f} ms   p99 {r['p99_ms']:7.1f} ms"
        f"   server CPU {r['server_cpu_ms']:.2f} ms/request"
        + (f" (+ PostgreSQL {r['db_cpu_ms']:.2f} ms)" if r["db_cpu_ms"] else "")
        + f"   ({r['requests']} requests, statuses {r['statuses']})"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: SQLite in a temp dir)")
    parser.add_argument("--redis-url", default=None, help="Redis for the job queue and cache (optional)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--port", type=int, default=8350)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    parser.add_argument("--mode", choices=["send", "dry_run", "both"], default="both")
    parser.add_argument("--runs", type=int, default=1, help="repeat the whole run (a fresh server each time)")
    parser.add_argument(
        "--settle",
        type=float,
        default=0,
        help="before each run, wait up to this many seconds for the 1-minute load average to fall below 1",
    )
    parser.add_argument("--instances", type=int, default=INSTANCES)
    parser.add_argument(
        "--history",
        type=int,
        default=HISTORY,
        help="past messages seeded behind each account before measuring (0: an empty, never analysed database)",
    )
    parser.add_argument(
        "--accounts", type=int, default=1, help="spread the sends over this many accounts (one API key each)"
    )
    args = parser.parse_args(argv)

    extra = {"REDIS_URL": args.redis_url} if args.redis_url else {}
    extra["GATEWAY_BENCH_FLOOR"] = "1"
    summaries = []
    for n in range(args.runs):
        settle(args.settle)
        print(f"run {n + 1}/{args.runs}: load average before it {load_average()}", flush=True)
        scratch = scratch_postgres(args.database_url, "{database}") if args.database_url else contextlib.nullcontext()
        with scratch as database_url:
            summaries.append(run(args, database_url, extra))
    if args.runs > 1:
        print(f"medians of {args.runs} runs:")
        print(summary_line({k: statistics.median(s[k] for s in summaries) for k in summaries[0]}))


def settle(seconds: float) -> None:
    """Let the load of what ran before (an earlier run included) die down, so runs start from the same state."""
    deadline = time.monotonic() + seconds
    while os.getloadavg()[0] >= 1.0 and time.monotonic() < deadline:
        time.sleep(5)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def summary_line(s: dict[str, float]) -> str:
    return (
        f"send/floor CPU: {s['ratio']:.1f}×  sends/s: {s['sends']:.0f}  p50: {s['p50']:.0f} ms  p99: {s['p99']:.0f} ms"
    )


def run(args: argparse.Namespace, database_url: str | None, extra: dict[str, str]) -> dict[str, float]:
    server = GatewayServer(
        port=args.port, database_url=database_url, workers=args.workers, threads=args.threads, extra_env=extra
    )
    with server:
        names, keys = prepare(server, args.instances, args.accounts)
        if args.history:
            seed_history(server, args.history)
        send_headers = [{"Authorization": f"Bearer {key}", "Content-Type": "application/json"} for key in keys]
        common = {"clients": args.clients, "seconds": args.seconds, "server": server}
        drive(args.port, method="GET", path="/healthz", body_factory=None, headers={}, clients=4, seconds=2)  # warm up
        db = "PostgreSQL" if database_url else "SQLite"
        db += " + Redis" if args.redis_url else ""
        print(
            f"WhatsApp Gateway send benchmark: {db}, gunicorn {args.workers}×{args.threads} gthread, "
            f"{args.clients} clients, {args.seconds:.0f} s per measurement"
            + (f", {args.accounts} accounts" if args.accounts > 1 else "")
            + f", {args.history:,} past messages per account"
        )
        trivial = drive(args.port, method="GET", path="/healthz", body_factory=None, headers={}, **common)
        print(fmt("GET /healthz (trivial JSON)", trivial))
        floor_bodies = SendBodies(names, dry_run=False, tag="floor")
        floor = drive(
            args.port, method="POST", path="/api/bench/floor", body_factory=floor_bodies, headers=send_headers, **common
        )
        print(fmt("POST /api/bench/floor", floor))
        modes = ["send", "dry_run"] if args.mode == "both" else [args.mode]
        results = {}
        for mode in modes:
            bodies = SendBodies(names, dry_run=mode == "dry_run", tag=uuid.uuid4().hex[:6])
            result = results[mode] = drive(
                args.port, method="POST", path="/api/send-message", body_factory=bodies, headers=send_headers, **common
            )
            label = "POST /api/send-message" + (" (dry run)" if mode == "dry_run" else "")
            print(fmt(label, result))
            print(
                f"    → CPU {result['server_cpu_ms'] / floor['server_cpu_ms']:.1f}× the floor's; "
                f"p99 = {result['p99_ms'] / result['p50_ms']:.1f}× p50"
            )
        main = results[modes[0]]
        summary = {
            "ratio": main["server_cpu_ms"] / floor["server_cpu_ms"],
            "sends": main["rps"],
            "p50": main["p50_ms"],
            "p99": main["p99_ms"],
        }
        print(summary_line(summary), flush=True)
        return summary


if __name__ == "__main__":
    main()
