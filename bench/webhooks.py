"""Webhook delivery benchmark: one worker process against a bare httpx loop, same payloads, same local receiver.

    .venv/bin/python bench/webhooks.py [--events 2000] [--endpoints 4] [--threads 4] [--latency-events 400]
    .venv/bin/python bench/webhooks.py --postgres postgres://postgres@127.0.0.1:5432/bench --redis redis://127.0.0.1:6379/0

1. Throughput: N events are emitted with K subscribed endpoints (NxK deliveries, written in the events'
   transactions), then one ``whatsapp-gateway worker`` process is started and the time from its first to its last
   delivery at the receiver gives deliveries/s per worker process.
2. Baseline: a bare loop with one ``httpx.Client`` posts the same NxK bodies to the same receiver (no database,
   no signing, no queue), just before and just after step 1: posts/s, the mean of the two. The ratio is printed
   (goal ≥ 70 %).
3. Latency: with the worker running, events are emitted at a steady pace; p50/p99 from each event's commit to its
   receipt at the receiver.

Runs on a temporary SQLite database and Huey on SQLite by default. ``--redis URL`` uses RedisHuey; ``--postgres URL``
creates a scratch database ``<name>_bench_<hex>`` on that PostgreSQL server, runs on it and drops it afterwards.
Prints figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# --- The receiver: a small asyncio HTTP/1.1 server (keep-alive), run as its own process --------------------------


def serve(port_file: str) -> None:
    records: list[tuple[str, str, float]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                del body
                if method == "POST":
                    records.append((path, headers.get("webhook-id", ""), time.time()))
                    payload = b"ok"
                elif path == "/stats":
                    payload = json.dumps({"count": len(records)}).encode()
                elif path == "/dump":
                    payload = json.dumps(records).encode()
                elif path == "/reset":
                    records.clear()
                    payload = b"{}"
                else:
                    payload = b"{}"
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=512)
        Path(port_file).write_text(str(server.sockets[0].getsockname()[1]))
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# --- Django side -------------------------------------------------------------------------------------------------------


def django_setup(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "whatsapp_gateway.settings"
    import django

    django.setup()


def make_endpoints(base_url: str, count: int):
    from whatsapp_gateway.accounts.models import Plan, User
    from whatsapp_gateway.accounts.services import account_create
    from whatsapp_gateway.instances.models import Instance, InstanceState
    from whatsapp_gateway.webhooks.endpoints import endpoint_create

    user = User.objects.create_user(username="bench@example.com", email="bench@example.com", password="x" * 12)
    account = account_create(name="Bench", owner=user, plan=Plan.objects.get(code="scale"))
    instance = Instance.objects.create(account=account, name="bench-line", state=InstanceState.CONNECTED)
    for number in range(count):
        endpoint_create(
            account=account, instance=instance, url=f"{base_url}/hook/{number}", events=["message.received"]
        )
    return instance


def emit(instance, number: int) -> str:
    from django.db import transaction

    from whatsapp_gateway.webhooks.outbox import event_emit

    with transaction.atomic():
        event = event_emit(
            account=instance.account,
            instance=instance,
            event_type="message.received",
            data={
                "from": "+12025550142",
                "from_name": "Bench",
                "message_text": f"Benchmark message number {number}: where is my order?",
                "message_type": "text",
                "external_message_id": uuid.uuid4().hex.upper(),
                "message_id": f"in_{uuid.uuid4().hex[:20]}",
            },
        )
    return event.public_id


def http_json(client, base_url: str, path: str):
    return client.get(base_url + path).json()


def wait_for(client, base_url: str, count: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if http_json(client, base_url, "/stats")["count"] >= count:
            return True
        time.sleep(0.05)
    return False


def bare_loop(base_url: str, bodies: list[tuple[str, bytes]]) -> tuple[float, float]:
    """One sync httpx client posting ``bodies`` to the receiver (no database, no signing, no queue): posts/s and
    CPU milliseconds per post (this process; nothing else runs in it meanwhile)."""
    import httpx

    with httpx.Client(timeout=15) as client:
        started, cpu_started = time.perf_counter(), time.process_time()
        for path, body in bodies:
            client.post(base_url + path, content=body, headers={"Content-Type": "application/json"})
        rate = len(bodies) / (time.perf_counter() - started)
        return rate, (time.process_time() - cpu_started) * 1000 / len(bodies)


def loadavg() -> str:
    return "/".join(f"{value:.2f}" for value in os.getloadavg())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--endpoints", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4, help="worker threads in the one worker process")
    parser.add_argument("--latency-events", type=int, default=400)
    parser.add_argument("--latency-rate", type=float, default=50.0, help="events per second in the latency phase")
    parser.add_argument("--redis", default="", help="use RedisHuey at this URL instead of SqliteHuey")
    parser.add_argument("--postgres", default="", help="run on a scratch database on this PostgreSQL server")
    parser.add_argument("--serve", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    sys.path.insert(0, str(ROOT))  # run as a script (python bench/webhooks.py): make the bench package importable
    from bench.scratch_db import scratch_postgres

    with scratch_postgres(args.postgres, "{database}_bench") if args.postgres else nullcontext("") as database_url:
        run(args, database_url)


def run(args: argparse.Namespace, database_url: str) -> None:
    import httpx

    from bench.proc_cpu import cpu_seconds

    load_before = loadavg()
    data_dir = tempfile.mkdtemp(prefix="wg-bench-")
    env = {
        "GATEWAY_DATA_DIR": data_dir,
        "GATEWAY_ALLOW_PRIVATE_WEBHOOKS": "1",
        "GATEWAY_WORKER_THREADS": str(args.threads),
        "HUEY_IMMEDIATE": "0",
        "LOG_LEVEL": "WARNING",
        "GATEWAY_QUEUE_NAME": f"bench-{uuid.uuid4().hex[:8]}",
    }
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    if args.redis:
        env["REDIS_URL"] = args.redis
    if database_url:
        env["DATABASE_URL"] = database_url
    child_env = {**os.environ, **env}
    port_file = Path(data_dir) / "receiver.port"
    receiver = subprocess.Popen([sys.executable, __file__, "--serve", str(port_file)])
    worker = None
    try:
        subprocess.run([sys.executable, "-m", "whatsapp_gateway", "migrate", "--quiet"], env=child_env, check=True)
        while not port_file.exists():
            time.sleep(0.05)
        base_url = f"http://127.0.0.1:{port_file.read_text()}"
        django_setup(env)
        instance = make_endpoints(base_url, args.endpoints)
        total = args.events * args.endpoints
        control = httpx.Client(timeout=10)

        # 1. Throughput of one worker process over a backlog, bracketed by the bare loop (step 2) run just before
        # and just after it: on a shared machine the load drifts, and one baseline taken minutes apart skews the ratio.
        started = time.perf_counter()
        for number in range(args.events):
            emit(instance, number)
        emit_seconds = time.perf_counter() - started
        from whatsapp_gateway.webhooks.delivery import canonical_json
        from whatsapp_gateway.webhooks.models import Delivery

        deliveries = Delivery.objects.select_related("event").order_by("id")
        bodies = [(f"/hook/{n % args.endpoints}", canonical_json(d.event.payload)) for n, d in enumerate(deliveries)]
        bare_before, bare_cpu_before = bare_loop(base_url, bodies)
        control.get(base_url + "/reset")
        worker = subprocess.Popen([sys.executable, "-m", "whatsapp_gateway", "worker"], env=child_env)
        worker_started = time.time()
        wait_for(control, base_url, 1, timeout=120)
        cpu_at_first = cpu_seconds(worker.pid)  # start-up excluded
        count_at_first = http_json(control, base_url, "/stats")["count"]
        if not wait_for(control, base_url, total, timeout=600):
            raise SystemExit("the worker did not deliver everything within 10 minutes")
        cpu_at_last = cpu_seconds(worker.pid)
        load_throughput = loadavg()
        records = http_json(control, base_url, "/dump")
        times = sorted(t for _path, _wid, t in records)
        worker_rate = total / (times[-1] - times[0])
        wall_rate = total / (times[-1] - worker_started)

        # 2. The bare loop again, right after: the same bodies, one sync client, nothing else.
        control.get(base_url + "/reset")
        bare_after, bare_cpu_after = bare_loop(base_url, bodies)
        bare_rate = (bare_before + bare_after) / 2
        bare_cpu = (bare_cpu_before + bare_cpu_after) / 2
        worker_cpu = None
        if cpu_at_first is not None and cpu_at_last is not None and total > count_at_first:
            worker_cpu = (cpu_at_last - cpu_at_first) * 1000 / (total - count_at_first)

        # 3. Latency from commit to receipt, at a steady pace, with the worker idle-waiting for work.
        control.get(base_url + "/reset")
        committed: dict[str, float] = {}
        interval = 1.0 / args.latency_rate
        next_at = time.perf_counter()
        for number in range(args.latency_events):
            event_id = emit(instance, number)
            committed[event_id] = time.time()
            next_at += interval
            time.sleep(max(0.0, next_at - time.perf_counter()))
        wait_for(control, base_url, args.latency_events * args.endpoints, timeout=300)
        latencies = [
            (t - committed[wid]) * 1000 for _p, wid, t in http_json(control, base_url, "/dump") if wid in committed
        ]
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
        receiver.terminate()
        receiver.wait(timeout=10)

    broker = "RedisHuey" if args.redis else "SqliteHuey"
    database = "PostgreSQL (scratch database)" if database_url else "SQLite database"
    print(f"webhook delivery benchmark: {args.events} events x {args.endpoints} endpoints = {total} deliveries")
    print(
        f"  machine: {os.cpu_count()} CPUs, load average (1/5/15 min) before {load_before}, "
        f"after the throughput phase {load_throughput}, at the end {loadavg()}"
    )
    print(f"  setup: {database}, {broker}, 1 worker process with {args.threads} threads, receiver on 127.0.0.1")
    print(
        f"  emitting {args.events} events (outbox rows, in their transactions): {args.events / emit_seconds:,.0f} events/s"
    )
    print(f"  worker, first to last delivery:            {worker_rate:,.0f} deliveries/s")
    print(f"  worker, including process start-up:        {wall_rate:,.0f} deliveries/s")
    print(
        f"  bare httpx loop, same bodies and receiver: {bare_rate:,.0f} posts/s "
        f"(mean of {bare_before:,.0f} just before and {bare_after:,.0f} just after the worker)"
    )
    print(f"  ratio worker / bare loop:                  {worker_rate / bare_rate:.0%}  (goal >= 70%)")
    if worker_cpu is not None:
        # CPU time per delivery does not depend on what else the machine runs, unlike the rates above.
        print(
            f"  CPU per delivery: worker process {worker_cpu:.2f} ms, bare loop {bare_cpu:.2f} ms "
            f"(ratio of CPU costs bare / worker: {bare_cpu / worker_cpu:.0%})"
        )
    print(
        f"  commit -> receipt latency at {args.latency_rate:g} events/s ({len(latencies)} deliveries): "
        f"p50 {statistics.median(latencies):.0f} ms, p99 {percentile(latencies, 0.99):.0f} ms"
    )


if __name__ == "__main__":
    main()
