"""Where the time of one accepted ``POST /api/send-message`` goes, in-process (no server, no profiler overhead).

Sets up a scratch account with connected sandbox instances, then prints the SQL statements of one accepted send
(``CaptureQueriesContext``, grouped by round trip) and a split of N sends by phase, next to ``GET /healthz``, in
this process's CPU time (``time.process_time``: a busy machine slows it far less than the wall clock; PostgreSQL's
and Redis's own time is not in it, which is why the round trips are listed):

    GATEWAY_DATA_DIR=$(mktemp -d) .venv/bin/python -m bench.send_profile
    GATEWAY_DATA_DIR=$(mktemp -d) DATABASE_URL=postgres://postgres@127.0.0.1:5432/scratch \\
        REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python -m bench.send_profile      # an empty scratch database

The phases are timed by wrapping the send service's functions, so they add up to a little less than the request
(the rest is Django's request handling, Ninja, the middleware and the commit).
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import os
import sys
import time
import uuid

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatsapp_gateway.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")


def _setup(instances: int) -> tuple[list[str], str]:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from whatsapp_gateway.accounts.models import Plan, User
    from whatsapp_gateway.accounts.services import account_create
    from whatsapp_gateway.apikeys.services import api_key_create
    from whatsapp_gateway.instances.models import Instance

    tag = uuid.uuid4().hex[:8]
    plan = Plan.objects.create(
        code=f"profile-{tag}",
        name="Profile",
        daily_limit=10**7,
        monthly_limit=10**8,
        max_instances=10**4,
        is_custom=True,
    )
    owner = User.objects.create_user(username=f"p{tag}@example.com", email=f"p{tag}@example.com", password=tag * 2)
    account = account_create(name=f"Profile {tag}", owner=owner, plan=plan, timezone="UTC")
    Instance.objects.bulk_create(
        [
            Instance(
                account=account, name=f"p-{i:04d}", state="connected", provider="sandbox", phone_number=f"+1415{i:07d}"
            )
            for i in range(instances)
        ]
    )
    return [f"p-{i:04d}" for i in range(instances)], api_key_create(account=account, name="profile").full_key


def round_trips(captured: list[dict]) -> list[list[str]]:
    """The statements of each round trip. One captured entry is one round trip, and may hold several statements
    (PostgreSQL's write turn sends its last ones in one pipeline). Django logs a COMMIT when it leaves the
    transaction even when the session is already idle (the turn committed inside its last pipeline): psycopg
    then sends nothing, so that entry is no round trip."""
    trips: list[list[str]] = []
    for query in captured:
        sql = query["sql"]
        statements = [part.strip() for part in sql.split(";") if part.strip()] if "; " in sql else [sql]
        if sql == "COMMIT" and trips and "COMMIT" in trips[-1]:
            continue
        trips.append(statements)
    return trips


def _wrap(totals: dict, module, name: str, label: str) -> None:
    original = getattr(module, name)

    @functools.wraps(original)
    def timed(*args, **kwargs):
        start = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            totals[label] += time.process_time() - start

    setattr(module, name, timed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=300, help="timed sends")
    parser.add_argument("--instances", type=int, default=50)
    args = parser.parse_args(argv)
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from whatsapp_gateway.apikeys import auth
    from whatsapp_gateway.messaging import api, queue, services
    from whatsapp_gateway.messaging.guard import checks

    names, key = _setup(args.instances)
    client = Client(HTTP_HOST="127.0.0.1")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    tag = uuid.uuid4().hex[:6]

    def send(i: int) -> None:
        body = {
            "instance_id": names[i % len(names)],
            "phone": f"+96650{i:07d}",
            "message": f"Ticket {tag}-{i} was updated.",
            "message_purpose": "support",
        }
        response = client.post("/api/send-message", data=json.dumps(body), content_type="application/json", **headers)
        if response.status_code != 202:
            sys.exit(f"send {i} answered {response.status_code}: {response.content[:300]!r}")

    for i in range(len(names) + 20):  # warm up: every lane exists, the key's last-used time is written
        send(i)
    with CaptureQueriesContext(connection) as captured:
        send(10**6)
    trips = round_trips(captured.captured_queries)
    print(
        f"{connection.vendor}: {len(trips)} round trips, {sum(len(t) for t in trips)} statements for one accepted send"
        " (incl. BEGIN/COMMIT)"
    )
    for trip in trips:
        print("  " + " ; ".join(" ".join(statement.split())[: 110 // len(trip)] for statement in trip))

    totals: dict[str, float] = collections.defaultdict(float)
    _wrap(totals, auth, "api_key_authenticate", "auth: key + account + plan")
    _wrap(totals, auth, "auth_attempt_start", "auth: failure throttle, take a slot")
    _wrap(totals, auth, "auth_attempt_passed", "auth: failure throttle, give it back")
    _wrap(totals, api, "read_json_object", "body: size, content type, JSON")
    _wrap(totals, services, "send_reads_load", "guard reads (one statement)")
    _wrap(totals, services, "send_risk_assess", "risk score (text + history)")
    _wrap(totals, services, "_lock_and_count", "locked: log number + every limit count")
    _wrap(totals, services, "_message_create", "locked: message row (build + INSERT [+ COMMIT + flush])")
    _wrap(totals, services, "_usage_increment", "locked: daily counter upsert")
    _wrap(totals, queue, "lane_job_enqueue", "after commit: the woken lane's job")
    timed_checks = []
    for check in checks.UNLOCKED_CHECKS:
        wrapper = type("Holder", (), {check.__name__: staticmethod(check)})
        _wrap(totals, wrapper, check.__name__, f"check: {check.__name__}")
        timed_checks.append(getattr(wrapper, check.__name__))
    checks.UNLOCKED_CHECKS = tuple(timed_checks)

    backend_before = _backend_cpu_seconds()
    start = time.process_time()
    for i in range(args.n):
        send(2 * 10**6 + i)
    per_send = (time.process_time() - start) / args.n * 1000
    backend_ms = (_backend_cpu_seconds() - backend_before) / args.n * 1000
    start = time.process_time()
    for _ in range(args.n):
        client.get("/healthz")
    per_health = (time.process_time() - start) / args.n * 1000
    print(f"\nCPU (this process) per request over {args.n} ({os.getloadavg()[0]:.1f} load average):")
    print(f"  {'POST /api/send-message (accepted)':<44} {per_send:6.2f} ms")
    for label, seconds in sorted(totals.items(), key=lambda kv: -kv[1]):
        if seconds / args.n * 1000 >= 0.01:
            print(f"    {label:<42} {seconds / args.n * 1000:6.2f} ms")
    if connection.vendor == "postgresql":
        print(f"  {'PostgreSQL: this connection backend':<44} {backend_ms:6.2f} ms")
    print(f"  {'GET /healthz':<44} {per_health:6.2f} ms")
    per_floor = _floor(args.n)
    print(f"  {'floor: one log row, written and committed':<44} {per_floor:6.2f} ms")
    print(
        "    (the least any logged request writes: a copy of the last message row, INSERT + COMMIT in the send's own"
        " write turn, no HTTP, no guard)"
    )


def _backend_cpu_seconds() -> float:
    """CPU time of this connection's PostgreSQL backend process (a server on this machine), 0 elsewhere."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _floor(n: int) -> float:
    """Per-iteration CPU time of the one write the contract requires of every request: its message-log row."""
    from whatsapp_gateway.lib.ids import public_id
    from whatsapp_gateway.lib.write_turn import write_turn
    from whatsapp_gateway.messaging import services
    from whatsapp_gateway.messaging.models import LogSequence, Message

    template = Message.objects.order_by("-pk").first()
    top = LogSequence.objects.get(account_id=template.account_id)
    top.last_log_id += 10 * n  # numbers no real send will take during this run
    top.save()
    start = time.process_time()
    for i in range(n):
        template.pk, template.public_id, template.log_id = None, public_id("msg"), top.last_log_id - i
        template._state.adding = True
        with write_turn():
            services._message_insert(template)
    return (time.process_time() - start) / n * 1000


if __name__ == "__main__":
    main()
