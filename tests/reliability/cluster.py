"""Test-process side of the reliability suite: a scratch gateway installation with real worker (and web)
processes that a test can kill, a local webhook receiver, and the suite's tally (cases, faults, items lost).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench.scratch_db import scratch_postgres

from tests.tallies import RELIABILITY as TALLY  # printed at the end of the run

ROOT = Path(__file__).resolve().parents[2]
HARNESS = str(ROOT / "tests" / "reliability" / "harness.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Receiver:
    """A webhook receiver on 127.0.0.1 that counts deliveries by ``webhook-id`` (the event id); can be down."""

    def __init__(self) -> None:
        self.received: Counter = Counter()
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                if receiver.status == 200:
                    receiver.received[self.headers.get("webhook-id", "")] += 1
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Cluster:
    """A scratch installation: its own data dir and database (SQLite file, or a fresh PostgreSQL database when the
    suite runs on PostgreSQL), optionally its own Redis server, and the processes the test starts."""

    def __init__(self, *, redis: str = "env", postgres: str | None = None) -> None:
        """``postgres``: the server URL to make the scratch database on (a private server); default DATABASE_URL's."""
        self.data_dir = Path(tempfile.mkdtemp(prefix="wg-reliability-"))
        self.procs: dict[str, subprocess.Popen] = {}
        self.redis_proc: subprocess.Popen | None = None
        self.redis_port: int | None = None
        self.scratch = contextlib.ExitStack()  # the scratch PostgreSQL database, dropped in close()
        self.database_url = self._scratch_database(postgres)
        self.redis_url = self._redis(redis)
        self.extra_env: dict[str, str] = {}

    # --- resources -------------------------------------------------------------------------------------------------
    def _scratch_database(self, server: str | None = None) -> str | None:
        base = server or os.environ.get("DATABASE_URL", "")
        if not base.startswith("postgres"):
            return None
        return self.scratch.enter_context(scratch_postgres(base, "wg_rel"))

    def _redis(self, mode: str) -> str | None:
        if mode == "none":
            return None
        if mode == "private":
            if shutil.which("redis-server") is None:
                import pytest

                pytest.skip("redis-server is not installed")
            self.redis_port = free_port()
            self.start_redis()
            return f"redis://127.0.0.1:{self.redis_port}/0"
        return os.environ.get("REDIS_URL") or None

    def start_redis(self) -> None:
        self.redis_proc = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.redis_port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop_redis(self) -> None:
        if self.redis_proc is not None:
            self.redis_proc.kill()
            self.redis_proc.wait()
            self.redis_proc = None

    def env(self) -> dict[str, str]:
        drop = ("DATABASE_URL", "REDIS_URL", "HUEY_IMMEDIATE", "DJANGO_SETTINGS_MODULE", "PROMETHEUS_MULTIPROC_DIR")
        env = {k: v for k, v in os.environ.items() if k not in drop}
        env.update(
            {
                "GATEWAY_DATA_DIR": str(self.data_dir),
                "DJANGO_SETTINGS_MODULE": "whatsapp_gateway.settings",
                "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")]),
                "LOG_LEVEL": "WARNING",
                "GATEWAY_ALLOW_PRIVATE_WEBHOOKS": "1",
                "GATEWAY_SANDBOX_STATUS_DELAYS": "0.2,0.4,0.6",
                "GATEWAY_SANDBOX_SLOW_SECONDS": "1",
                "GATEWAY_WEBHOOK_LEASE_SECONDS": "3",
                "GATEWAY_WEBHOOK_JOB_SECONDS": "2",
            }
        )
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        env.update(self.extra_env)
        return env

    # --- commands ----------------------------------------------------------------------------------------------------
    def run(self, *args: str, immediate: bool = False, timeout: float = 180) -> dict:
        env = self.env()
        if immediate:
            env["HUEY_IMMEDIATE"] = "1"
        result = subprocess.run(
            [sys.executable, HARNESS, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
        )
        if result.returncode != 0:
            raise RuntimeError(f"harness {args} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
        return json.loads(result.stdout.strip().splitlines()[-1])

    def migrate(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "whatsapp_gateway", "migrate", "--quiet"],
            env=self.env(),
            cwd=ROOT,
            check=True,
            timeout=300,
        )

    def start_worker(self, name: str) -> subprocess.Popen:
        log = open(self.data_dir / f"{name}.log", "a")  # noqa: SIM115 - lives as long as the process
        proc = subprocess.Popen(
            [sys.executable, HARNESS, "worker"], env=self.env(), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        self.procs[name] = proc
        return proc

    def kill(self, name: str) -> None:
        """SIGKILL: no cleanup, no graceful shutdown — whatever the process was doing is cut off."""
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        TALLY["faults injected"] += 1

    def status(self) -> dict:
        return self.run("status")

    def wait_until(self, predicate, *, timeout: float, every: float = 0.5) -> dict:
        deadline = time.monotonic() + timeout
        state = self.status()
        while not predicate(state):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"not settled within {timeout:.0f} s: {json.dumps(state)[:3000]}\nlogs: {self.logs()}"
                )
            time.sleep(every)
            state = self.status()
        return state

    def logs(self) -> str:
        out = []
        for path in sorted(self.data_dir.glob("*.log")):
            out.append(f"--- {path.name}\n{path.read_text()[-1500:]}")
        return "\n".join(out)

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.procs.clear()
        self.stop_redis()
        self.scratch.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def settled(expected: int):
    """Every accepted message reached a final state (sent, delivered, read or failed)."""

    def check(state: dict) -> bool:
        by_status = state["by_status"]
        done = sum(by_status.get(s, 0) for s in ("sent", "delivered", "read", "failed"))
        return done >= expected and not by_status.get("queued") and not by_status.get("sending")

    return check


def _postgres_bindir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return candidates[-1].parent if candidates else None


class PrivatePostgres:
    """A throw-away PostgreSQL server (initdb in a temp dir, trust auth on 127.0.0.1, a free port) that a test may
    restart — so the restart case runs on a machine whose shared PostgreSQL must not be touched. As root, the server
    runs as the ``postgres`` user (PostgreSQL refuses to run as root)."""

    def __init__(self) -> None:
        bindir = _postgres_bindir()
        if bindir is None:
            import pytest

            pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="wg-pg-"))
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            import pwd

            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        self.start()

    def _run(self, tool: str, *args: str, timeout: float = 120) -> None:
        subprocess.run(
            [*self.as_user, str(self.bindir / tool), *args],
            check=True,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def _ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"
        self._run(
            "pg_ctl",
            "-D",
            str(self.dir / "data"),
            "-l",
            str(self.dir / "server.log"),
            "-o",
            options,
            "-w",
            action,
            *extra,
        )

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        """A fast restart, as ``pg_ctlcluster … restart`` does: every open connection is cut."""
        self._ctl("restart", "-m", "fast")

    def close(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self._ctl("stop", "-m", "immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
