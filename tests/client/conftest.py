"""A live gateway for the client tests: ``whatsapp-gateway run`` (web + worker, SQLite, sandbox provider) in a fresh
data directory on a free loopback port, a webhook receiver that records every delivery, and a fault-injecting
proxy in front of the gateway. One gateway serves the whole module-scoped session of tests that ask for it."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.cli.test_run_process import cli, embedded_env, free_port, stop, wait_for

CTL = Path(__file__).with_name("gateway_ctl.py")
WAIT_SECONDS = 60  # how long a test polls for something asynchronous (a receipt, a delivery) before failing
STARTUP_SECONDS = 240  # migrate + demo + gunicorn + worker; polled, so only a crowded machine waits this long


@dataclass
class Delivery:
    body: bytes
    headers: dict[str, str]

    @property
    def event(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """A webhook receiver on loopback that answers 204 and keeps every request."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.deliveries.append(Delivery(body, dict(self.headers.items())))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, predicate: Callable[[Delivery], bool], count: int = 1) -> list[Delivery]:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            with self._lock:
                found = [d for d in self.deliveries if predicate(d)]
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"fewer than {count} matching deliveries in {WAIT_SECONDS}s: {len(found)}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class FaultProxy:
    """A loopback proxy to the gateway that answers the next requests with canned faults (a status with headers
    and body, or a dropped connection) before it forwards again. ``seen`` keeps each request's method, path and
    Idempotency-Key, faults included."""

    upstream: str
    faults: list[tuple[int, dict[str, str], dict] | None] = field(default_factory=list)
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                proxy.seen.append((self.command, self.path, self.headers.get("Idempotency-Key")))
                if proxy.faults:
                    fault = proxy.faults.pop(0)
                    if fault is None:  # drop the connection without an answer
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    status, headers, payload = fault
                    raw = json.dumps(payload).encode()
                    self.send_response(status)
                    for name, value in {**headers, "Content-Type": "application/json"}.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                    return
                forwarded = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                upstream = httpx.request(
                    self.command, proxy.upstream + self.path, headers=forwarded, content=body, timeout=30
                )
                self.send_response(upstream.status_code)
                for name, value in upstream.headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(upstream.content)))
                self.end_headers()
                self.wfile.write(upstream.content)

            do_GET = do_POST = _handle

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class LiveGateway:
    url: str
    env: dict[str, str]
    receiver: Receiver
    setup: dict

    def ctl(self, *args: str) -> dict:
        result = subprocess.run(
            [sys.executable, str(CTL), *args], env=self.env, capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def live_gateway(tmp_path_factory) -> Iterator[LiveGateway]:
    if os.environ.get("DATABASE_URL"):
        # The gateway process always runs on the embedded default (SQLite), whatever this run's database is:
        # the run without DATABASE_URL (make test) already covers it, so the PostgreSQL run does not repeat it.
        pytest.skip("the live-gateway client tests run in the SQLite run (make test)")
    data_dir = tmp_path_factory.mktemp("client-gateway")
    port = free_port()
    env = embedded_env(
        data_dir,
        GATEWAY_ALLOW_PRIVATE_WEBHOOKS="1",  # the receiver is on 127.0.0.1
        GATEWAY_SANDBOX_STATUS_DELAYS="0.2,0.2,0.2",  # sent, delivered, read within a second
        GATEWAY_BASE_URL=f"http://127.0.0.1:{port}",
    )
    log = (data_dir / "gateway.log").open("w")
    process = subprocess.Popen(
        [*cli(), "run", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=data_dir
    )
    receiver = Receiver()
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(url + "/healthz", process, STARTUP_SECONDS)
        gateway = LiveGateway(url=url, env=env, receiver=receiver, setup={})
        gateway.setup = gateway.ctl("setup", receiver.url)
        yield gateway
    finally:
        stop(process)
        receiver.close()
        log.close()


@pytest.fixture
def fault_proxy(live_gateway: LiveGateway) -> Iterator[FaultProxy]:
    proxy = FaultProxy(live_gateway.url)
    try:
        yield proxy
    finally:
        proxy.close()
