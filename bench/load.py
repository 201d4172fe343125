"""Mixed-load benchmark: sends, inbound callbacks, status callbacks and the webhook fan-out they cause, for a fixed
duration, against the production process layout (2 gunicorn web workers, 2 Huey worker processes) on PostgreSQL
and Redis.

    .venv/bin/python -m bench.load                       # 30 s, 24 clients, postgres://postgres@127.0.0.1:5432, Redis db 8
    .venv/bin/python -m bench.load --seconds 60 --clients 32 --instances 120

Creates a scratch PostgreSQL database (dropped afterwards), starts ``whatsapp-gateway web`` and two
``whatsapp-gateway worker`` processes, gives one account a custom plan, N connected sandbox instances and a webhook
endpoint per instance pointing at a local receiver, then drives, from asyncio tasks with one httpx client each:

- ``POST /api/send-message`` (real sends: guard, log row, paced per-instance queue, sandbox provider, receipts)
- ``POST /providers/sandbox/callback/{token}`` with signed inbound messages (dedup, processing job, inbound log,
  ``message.received`` webhooks)
- the same route with status callbacks for messages the sandbox accepted (``delivered``/``read``)

It prints throughput and latency percentiles per request kind, error counts, then lets the workers drain and prints
queue lag (accepted → handed to the provider; event → received by the webhook receiver) and the backlog left, as
read from ``/metrics``. Prints figures only (never pass/fail).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from bench.gateway_server import ROOT, GatewayServer, signed_sandbox_callback
from bench.scratch_db import scratch_postgres

SETUP = """
import datetime as dt, json
from whatsapp_gateway.accounts.models import Account, Plan
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.webhooks.endpoints import endpoint_create
from tests.factories import make_instance
account = Account.objects.get(name="Demo Business")
plan, _ = Plan.objects.update_or_create(code="load", defaults=dict(name="Load", daily_limit=10**7,
    monthly_limit=10**8, max_instances=100000, is_custom=True))
account.plan = plan
account.save()
out = []
for n in range({instances}):
    inst = make_instance(account, name=f"load-{{n}}", connected=True)
    Instance.objects.filter(pk=inst.pk).update(paired_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    endpoint_create(account=account, instance=inst, url="{receiver}", events=["message.received", "message.sent",
        "message.delivered", "message.read"])
    inst = Instance.objects.get(pk=inst.pk)
    out.append(dict(id=inst.public_id, name=inst.name, token=inst.callback_token, state=inst.state))
print(json.dumps(out))
"""


# --- webhook receiver -----------------------------------------------------------------------------------------------
class Receiver:
    def __init__(self, port: int = 0) -> None:
        self.lags: list[float] = []
        self.count = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    occurred = dt.datetime.fromisoformat(json.loads(body)["occurred_at"].replace("Z", "+00:00"))
                    receiver.lags.append(time.time() - occurred.timestamp())
                except (ValueError, KeyError):
                    pass
                receiver.count += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


# --- the driver -----------------------------------------------------------------------------------------------------
class Stats:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = {}
        self.status: dict[str, dict[int | str, int]] = {}

    def add(self, kind: str, seconds: float, status: int | str) -> None:
        self.latency.setdefault(kind, []).append(seconds)
        bucket = self.status.setdefault(kind, {})
        bucket[status] = bucket.get(status, 0) + 1


async def _client(n, url, key, instances, provider_ids, stats, stop_at, weights, rng):
    counter = 0
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        while time.monotonic() < stop_at:
            counter += 1
            kind = rng.choices(list(weights), weights=list(weights.values()))[0]
            instance = rng.choice(instances)
            if kind == "status" and not provider_ids:
                kind = "inbound"
            if kind == "send":
                request = client.post(
                    "/api/send-message",
                    headers={"Authorization": f"Bearer {key}"},
                    json={"instance_id": instance["name"], "phone": f"+1202555{rng.randrange(2000, 9999):04d}",
                          "message": f"Order {n}-{counter} has shipped.", "message_purpose": "transactional"},
                )  # fmt: skip
            elif kind == "inbound":
                body, headers = signed_sandbox_callback(
                    instance["token"], "message",
                    {"id": f"SBXIN{secrets.token_hex(8).upper()}", "from": f"1202556{rng.randrange(1000, 9999)}@s.whatsapp.net",
                     "from_name": "Load", "chat_id": "", "type": "text", "text": f"Hello {counter}"},
                )  # fmt: skip
                request = client.post(f"/providers/sandbox/callback/{instance['token']}", content=body, headers=headers)
            else:
                target = rng.choice(provider_ids)
                body, headers = signed_sandbox_callback(
                    target["token"], "status",
                    {"message_id": target["pid"], "status": rng.choice(["delivered", "read"]), "to": target["to"]},
                )  # fmt: skip
                request = client.post(f"/providers/sandbox/callback/{target['token']}", content=body, headers=headers)
            started = time.perf_counter()
            try:
                response = await request
                status: int | str = response.status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            stats.add(kind, time.perf_counter() - started, status)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(int(q * len(values)), len(values) - 1)]


def _sql(database_url: str, query: str, params: tuple = ()) -> list[tuple]:
    import psycopg

    with psycopg.connect(database_url) as conn:
        return conn.execute(query, params).fetchall()


def _refresh_provider_ids(database_url, tokens, provider_ids, stop):
    while not stop.is_set():
        try:
            rows = _sql(
                database_url,
                "SELECT m.provider_message_id, m.to_phone, i.public_id FROM providers_sandboxmessage m "
                "JOIN instances_instance i ON i.id = m.instance_id ORDER BY m.id DESC LIMIT 500",
            )
            provider_ids[:] = [{"pid": r[0], "to": r[1], "token": tokens[r[2]]} for r in rows]
        except Exception as exc:  # the run goes on with the previous list
            print(f"  (could not read provider ids: {type(exc).__name__})", file=sys.stderr)
        stop.wait(2)


def _metric(url: str, token: str, name: str) -> dict[str, float]:
    text = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30).text
    values = {}
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            labels, _, value = line.rpartition(" ")
            values[labels[len(name) :].strip("{}") or "_"] = float(value)
    return values


def _loadavg() -> str:
    return "/".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=24)
    parser.add_argument("--instances", type=int, default=60)
    parser.add_argument("--port", type=int, default=8860)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/8")
    parser.add_argument("--drain-seconds", type=float, default=90)
    parser.add_argument("--mix", default="send=40,inbound=35,status=25")
    parser.add_argument("--receiver-port", type=int, default=0, help="webhook receiver port (default: any free one)")
    args = parser.parse_args()
    weights = {k: float(v) for k, v in (part.split("=") for part in args.mix.split(","))}
    with scratch_postgres(args.database_url, "bench_load") as database_url:
        run(args, weights, database_url)


def run(args: argparse.Namespace, weights: dict[str, float], database_url: str) -> None:
    metrics_token = secrets.token_urlsafe(16)
    receiver = Receiver(args.receiver_port)
    load_before = _loadavg()
    server = GatewayServer(
        port=args.port,
        database_url=database_url,
        workers=2,
        threads=4,
        extra_env={
            "REDIS_URL": args.redis_url,
            "GATEWAY_ALLOW_PRIVATE_WEBHOOKS": "1",
            "METRICS_TOKEN": metrics_token,
            "GATEWAY_SANDBOX_STATUS_DELAYS": "1,2,3",
            "GATEWAY_AUTH_FAILURES_PER_MINUTE": "100000",
        },
    )
    workers: list[subprocess.Popen] = []
    stop = threading.Event()
    try:
        server.start()
        env = server.env() | {"HUEY_IMMEDIATE": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])}
        prelude = (
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'whatsapp_gateway.settings'; django.setup()\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", prelude + SETUP.format(instances=args.instances, receiver=receiver.url)],
            env=env, cwd=ROOT, check=True, capture_output=True, text=True,
        )  # fmt: skip
        instances = json.loads(out.stdout.strip().splitlines()[-1])
        assert all(i["state"] == "connected" for i in instances), instances[:3]
        tokens = {i["id"]: i["token"] for i in instances}
        for _ in range(2):
            log = open(server.data_dir / f"worker{len(workers)}.log", "w")  # noqa: SIM115
            workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "whatsapp_gateway", "worker"],
                    env=server.env(),
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        provider_ids: list[dict] = []
        threading.Thread(
            target=_refresh_provider_ids, args=(database_url, tokens, provider_ids, stop), daemon=True
        ).start()
        stats = Stats()
        rng = random.Random(8)
        started_wall = dt.datetime.now(dt.UTC)
        stop_at = time.monotonic() + args.seconds

        async def drive() -> None:
            await asyncio.gather(
                *(
                    _client(
                        n,
                        server.url,
                        server.demo["api_key"],
                        instances,
                        provider_ids,
                        stats,
                        stop_at,
                        weights,
                        random.Random(rng.random()),
                    )
                    for n in range(args.clients)
                )
            )

        asyncio.run(drive())
        load_after = _loadavg()
        elapsed = args.seconds
        drain_started = time.monotonic()
        backlog = {}
        while time.monotonic() - drain_started < args.drain_seconds:
            backlog = _metric(server.url, metrics_token, "gateway_queue_depth")
            if sum(backlog.values()) == 0:
                break
            time.sleep(2)
        drained_in = time.monotonic() - drain_started
        stop.set()

        lag_rows = _sql(
            database_url,
            "SELECT EXTRACT(EPOCH FROM (sent_at - created_at)) FROM messaging_message "
            "WHERE sent_at IS NOT NULL AND created_at >= %s",
            (started_wall,),
        )
        send_lag = [float(r[0]) for r in lag_rows]
        counts = dict(_sql(database_url, "SELECT status, count(*) FROM messaging_message GROUP BY status"))
        inbound = _sql(database_url, "SELECT count(*) FROM inbound_inboundmessage")[0][0]
        deliveries = dict(_sql(database_url, "SELECT state, count(*) FROM webhooks_delivery GROUP BY state"))

        total = sum(len(v) for v in stats.latency.values())
        print(
            f"WhatsApp Gateway mixed load: PostgreSQL + Redis, gunicorn 2 workers × 4 threads, 2 Huey workers, "
            f"{args.clients} clients, {args.instances} sandbox instances, {args.seconds:.0f} s"
        )
        # The machine's other load changes every figure below: say how busy it was.
        print(
            f"  machine: {os.cpu_count()} CPUs, load average (1/5/15 min) before {load_before}, "
            f"after the load {load_after}, after draining {_loadavg()}"
        )
        print(f"  all requests: {total} in {elapsed:.0f} s = {total / elapsed:.1f} req/s")
        for kind in ("send", "inbound", "status"):
            lat = stats.latency.get(kind, [])
            statuses = stats.status.get(kind, {})
            ok = sum(n for s, n in statuses.items() if isinstance(s, int) and s < 400)
            print(
                f"  {kind:<8} {len(lat) / elapsed:7.1f} req/s  p50 {_pct(lat, 0.5) * 1000:7.1f} ms  "
                f"p95 {_pct(lat, 0.95) * 1000:7.1f} ms  p99 {_pct(lat, 0.99) * 1000:7.1f} ms  "
                f"ok {ok}  errors {len(lat) - ok}  {dict(sorted(statuses.items(), key=str))}"
            )
        print(
            f"  queue lag, accepted → handed to the provider (paced ≥2 s per instance): p50 {_pct(send_lag, 0.5):.1f} s  "
            f"p99 {_pct(send_lag, 0.99):.1f} s  ({len(send_lag)} messages)"
        )
        print(
            f"  webhook lag, event → received: p50 {_pct(receiver.lags, 0.5):.2f} s  p99 {_pct(receiver.lags, 0.99):.2f} s"
            f"  ({receiver.count} deliveries received)"
        )
        print(f"  messages by status: {counts}; inbound messages stored: {inbound}; deliveries by state: {deliveries}")
        print(
            f"  backlog after {drained_in:.0f} s of draining: {backlog or 'none'}"
            f"  (mean send latency {statistics.fmean(stats.latency.get('send', [0])) * 1000:.0f} ms)"
        )
    finally:
        stop.set()
        for proc in workers:
            proc.terminate()
        for proc in workers:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        server.stop()
        server.cleanup()
        receiver.server.shutdown()


if __name__ == "__main__":
    main()
