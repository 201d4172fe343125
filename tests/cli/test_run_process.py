"""Real processes: ``whatsapp-gateway run`` serves, answers its probes and stops cleanly on SIGTERM; with the
database unreachable the web process stays up and ``/readyz`` answers 503 (and nothing answers 500)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

STARTUP_SECONDS = 90  # migrate + demo + gunicorn on a busy CI machine; the test polls, it never sleeps this long


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli() -> list[str]:
    script = shutil.which("whatsapp-gateway", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "whatsapp_gateway"]


# Set for the test run itself (tests/settings.py, tests/browser/conftest.py), never for a real gateway process.
_TEST_ONLY_ENV = {"DATABASE_URL", "REDIS_URL", "HUEY_IMMEDIATE", "DJANGO_ALLOW_ASYNC_UNSAFE"}


def embedded_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The laptop default in a fresh data directory, whatever database the test run itself uses."""
    env = {k: v for k, v in os.environ.items() if k not in _TEST_ONLY_ENV}
    env.update(
        GATEWAY_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="whatsapp_gateway.settings",
        WEB_CONCURRENCY="1",
        WEB_THREADS="2",
        GATEWAY_WORKER_THREADS="1",
        **extra,
    )
    return env


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def get(url: str, *, accept: str = "application/json") -> tuple[int, str, dict]:
    """One GET, redirects not followed (a 302 is an answer too)."""
    request = urllib.request.Request(url, headers={"Accept": accept})
    try:
        with _opener.open(request, timeout=10) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


def wait_for(url: str, process: subprocess.Popen, deadline_seconds: float = STARTUP_SECONDS) -> None:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the process exited early with {process.returncode}")
        try:
            if get(url)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"{url} did not answer within {deadline_seconds}s")


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (gunicorn master and workers, the Huey consumer), from /proc."""
    found: set[int] = set()
    pending = [pid]
    while pending:
        parent = pending.pop()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == parent and int(entry.name) not in found:
                found.add(int(entry.name))
                pending.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_run_serves_answers_probes_and_stops_both_children_on_sigterm(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "run.log").open("w+")
    process = subprocess.Popen(
        [*cli(), "run", "--port", str(port)],
        env={k: v for k, v in embedded_env(tmp_path / "var").items() if k != "GATEWAY_BASE_URL"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(f"{base}/healthz", process)
        status, body, _ = get(f"{base}/")
        assert status == 200
        assert json.loads(body)["status"] == "ok" and json.loads(body)["service"] == "whatsapp-gateway"
        status, body, _ = get(f"{base}/readyz")
        assert status == 200, body
        assert json.loads(body)["checks"] == {"database": "ok", "queue": "ok"}
        status, body, _ = get(f"{base}/accounts/login/", accept="text/html")
        assert status == 200 and 'name="login"' in body

        children = descendants(process.pid)
        assert len(children) >= 3, f"expected gunicorn master + worker and the Huey consumer, got {children}"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=40) == 0
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in children if alive(pid)], "children left running after SIGTERM"
    finally:
        stop(process)
        log.seek(0)
        output = log.read()
        log.close()
    assert "Login:    demo@example.com" in output, output
    assert f"Portal:   http://127.0.0.1:{port}/accounts/login/" in output, "links follow --port"
    assert f"WhatsApp Gateway is running on http://127.0.0.1:{port}" in output


def test_readyz_answers_503_when_the_database_is_unreachable_and_nothing_answers_500(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "web.log").open("w+")
    process = subprocess.Popen(
        [*cli(), "web", "--port", str(port), "--workers", "1", "--threads", "2"],
        env=embedded_env(tmp_path / "var", DATABASE_URL="postgres://postgres@127.0.0.1:1/nope"),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(f"{base}/healthz", process)  # liveness does not depend on the database
        status, body, headers = get(f"{base}/readyz")
        assert status == 503, body
        assert json.loads(body) == {
            "status": "unavailable",
            "checks": {"database": "OperationalError", "queue": "ok"},
        }
        answers = {
            "/": get(f"{base}/")[0],
            "/ (browser)": get(f"{base}/", accept="text/html")[0],
            "/accounts/login/": get(f"{base}/accounts/login/", accept="text/html")[0],
            "/docs": get(f"{base}/docs", accept="text/html")[0],
        }
        assert answers["/"] == 200, "the JSON health answer needs no database"
        assert 500 not in answers.values(), answers
        assert {answers["/ (browser)"], answers["/accounts/login/"]} <= {200, 503}
        status, _body, headers = get(f"{base}/instances", accept="text/html")
        assert status == 302 and headers["Location"].startswith("/accounts/login/")
    finally:
        stop(process)
        log.seek(0)
        output = log.read()
        log.close()
    assert "Traceback" not in output, output
    assert "postgres@127.0.0.1" not in output, "connection details leaked into the log"
