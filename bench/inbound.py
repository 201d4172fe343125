"""Inbound pipeline benchmark: push N signed provider callbacks (inbound text messages) through the callback route
of a gateway running the production way, and report callbacks/s accepted, callbacks/s processed, and the time until
every inbound log row exists.

    .venv/bin/python -m bench.inbound                                     # 2,000 callbacks, SQLite, 1 worker
    .venv/bin/python -m bench.inbound -n 5000 --clients 16 \\
        --database-url postgres://postgres@127.0.0.1:5432/scratch --redis-url redis://127.0.0.1:6379/5

Starts ``whatsapp-gateway web`` (gunicorn) and one ``whatsapp-gateway worker`` on a fresh data directory
(``bench/gateway_server.py``), uses the demo's connected sandbox instance, then posts from ``--clients`` threads,
each with a keep-alive connection. Every callback is a distinct message (``id``) from one of 500 senders; ``--dup``
re-sends that fraction of them (the provider's at-least-once delivery: they must not add rows). The route verifies
the signature, stores the callback and enqueues its processing; the worker writes the inbound row, the
conversation and the ``message.received`` event. Figures only, never pass/fail. The database at
``--database-url`` is used as is (give a scratch one: the demo account is created in it).
"""

from __future__ import annotations

import argparse
import http.client
import sqlite3
import statistics
import threading
import time

from bench.gateway_server import GatewayServer, signed_sandbox_callback


def _count_rows(server: GatewayServer, database_url: str | None) -> int:
    sql = "SELECT count(*) FROM inbound_inboundmessage WHERE provider_message_id LIKE 'BENCHIN%%'"
    if database_url:
        import psycopg

        with psycopg.connect(database_url) as conn:
            return conn.execute(sql).fetchone()[0]
    conn = sqlite3.connect(f"file:{server.data_dir / 'gateway.sqlite3'}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql.replace("%%", "%")).fetchone()[0]
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--callbacks", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--dup", type=float, default=0.05, help="fraction of callbacks delivered twice")
    parser.add_argument("--port", type=int, default=8590)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for every row")
    args = parser.parse_args()

    extra = {"GATEWAY_AUTH_FAILURES_PER_MINUTE": "100000"}
    if args.redis_url:
        extra["REDIS_URL"] = args.redis_url
    server = GatewayServer(
        port=args.port, database_url=args.database_url, workers=2, threads=4, with_worker=True, extra_env=extra
    )
    with server:
        token = server.python(
            "from whatsapp_gateway.instances.models import Instance\n"
            f"print(Instance.objects.get(public_id={server.demo['instance_id']!r}).callback_token)"
        ).strip()
        path = f"/providers/sandbox/callback/{token}"
        bodies = []
        for i in range(args.callbacks):
            data = {"id": f"BENCHIN{i:08d}", "from": f"1202555{i % 500:04d}@s.whatsapp.net", "from_name": "Bench",
                    "chat_id": "", "type": "text", "text": f"Order question number {i}"}  # fmt: skip
            bodies.append(signed_sandbox_callback(token, "message", data))
        dup_every = int(1 / args.dup) if args.dup > 0 else 0
        work = [b for i, b in enumerate(bodies) for _ in range(2 if dup_every and i % dup_every == 0 else 1)]
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        lock = threading.Lock()

        def client(part: list[tuple[bytes, dict[str, str]]]) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
            lat, st = [], {}
            for body, headers in part:
                started = time.perf_counter()
                try:
                    conn.request("POST", path, body=body, headers=headers)
                    response = conn.getresponse()
                    response.read()
                    status = response.status
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
                    status = 0
                lat.append(time.perf_counter() - started)
                st[status] = st.get(status, 0) + 1
            with lock:
                latencies.extend(lat)
                for k, v in st.items():
                    statuses[k] = statuses.get(k, 0) + v

        threads = [threading.Thread(target=client, args=(work[n :: args.clients],)) for n in range(args.clients)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        accepted_in = time.monotonic() - started
        rows = 0
        while time.monotonic() - started < args.timeout:
            rows = _count_rows(server, args.database_url)
            if rows >= args.callbacks:
                break
            time.sleep(0.25)
        all_rows_in = time.monotonic() - started
        time.sleep(2)  # late duplicates would show up here
        rows = _count_rows(server, args.database_url)
        latencies.sort()
        db = "PostgreSQL" if args.database_url else "SQLite"
        print(
            f"inbound pipeline: {db}, gunicorn 2 workers x 4 threads, 1 Huey worker, {args.clients} clients; "
            f"{args.callbacks} distinct messages + {len(work) - args.callbacks} duplicate deliveries"
        )
        print(
            f"  accepted: {len(work)} callbacks in {accepted_in:.1f} s = {len(work) / accepted_in:.0f} callbacks/s; "
            f"p50 {statistics.median(latencies) * 1000:.1f} ms, p95 {latencies[int(0.95 * (len(latencies) - 1))] * 1000:.1f} ms; "
            f"HTTP statuses {statuses}"
        )
        print(
            f"  processed: every inbound row exists {all_rows_in:.1f} s after the first callback "
            f"= {args.callbacks / all_rows_in:.0f} messages/s end to end; rows stored: {rows} "
            f"(expected {args.callbacks}: duplicates add none)"
        )


if __name__ == "__main__":
    main()
