"""Start a real gateway the way production runs it (``whatsapp-gateway web``: gunicorn, gthread workers) on a
separate data directory, for benchmarks and live-server tests.

    with GatewayServer(port=8310) as server:
        server.demo["api_key"], server.url
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.proc_cpu import cpu_seconds

ROOT = Path(__file__).resolve().parents[1]


def signed_sandbox_callback(token: str, event_type: str, data: dict) -> tuple[bytes, dict[str, str]]:
    """A sandbox provider callback body and headers, signed the way ``providers/sandbox.py`` signs them (the
    benchmarks play the simulated phone from outside the server, so they cannot call its signing code)."""
    body = json.dumps(
        {"sandbox": "v1", "event_id": f"sbe_{secrets.token_hex(10)}", "type": event_type,
         "timestamp": int(time.time()), "data": data},
        separators=(",", ":"),
    ).encode()  # fmt: skip
    stamp = str(int(time.time()))
    signature = hmac.new(token.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Sandbox-Timestamp": stamp,
        "X-Sandbox-Signature": f"sha256={signature}",
    }
    return body, headers


class GatewayServer:
    def __init__(
        self,
        *,
        port: int,
        database_url: str | None = None,
        workers: int = 2,
        threads: int = 4,
        with_worker: bool = False,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.database_url = database_url
        self.workers = workers
        self.threads = threads
        self.with_worker = with_worker
        self.extra_env = extra_env or {}
        self.data_dir = Path(tempfile.mkdtemp(prefix="wg-live-"))
        self.demo: dict = {}
        self.procs: list[subprocess.Popen] = []

    def env(self) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "HUEY_IMMEDIATE")
        }
        env.update(
            {
                "GATEWAY_DATA_DIR": str(self.data_dir),
                "GATEWAY_BASE_URL": self.url,
                "LOG_LEVEL": "WARNING",
                "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")]),
            }
        )
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        env.update(self.extra_env)
        return env

    def manage(self, *args: str, capture: bool = False) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "whatsapp_gateway", *args],
            env=self.env(),
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout if capture else ""

    def python(self, code: str) -> str:
        """Run Django code against this server's database (e.g. to raise limits for a benchmark)."""
        prelude = "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'whatsapp_gateway.settings'); django.setup()\n"
        result = subprocess.run(
            [sys.executable, "-c", prelude + code], env=self.env(), cwd=ROOT, check=True, capture_output=True, text=True
        )
        return result.stdout

    def start(self) -> GatewayServer:
        self.manage("migrate", "--quiet")
        self.demo = json.loads(self.manage("demo", "--json", capture=True).strip().splitlines()[-1])
        web = [
            sys.executable,
            "-m",
            "whatsapp_gateway",
            "web",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--threads",
            str(self.threads),
        ]
        log = open(self.data_dir / "web.log", "w")  # noqa: SIM115 - closed with the process
        self.procs.append(subprocess.Popen(web, env=self.env(), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
        if self.with_worker:
            wlog = open(self.data_dir / "worker.log", "w")  # noqa: SIM115
            worker = [sys.executable, "-m", "whatsapp_gateway", "worker"]
            self.procs.append(subprocess.Popen(worker, env=self.env(), cwd=ROOT, stdout=wlog, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the gateway did not start; see {self.data_dir / 'web.log'}")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the server's processes and all their descendants, so a
        benchmark can report the server's cost per request apart from the client's."""
        return sum(cpu_seconds(proc.pid, descendants=True) or 0.0 for proc in self.procs)

    def cleanup(self) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> GatewayServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        self.cleanup()
