"""Crash test: a real Huey consumer is killed with SIGKILL several times during a burst of 2,000 events and
restarted; every delivery still arrives at least once, and duplicates carry the same webhook-id.

Runs on a temporary SQLite database with SqliteHuey; also with RedisHuey when REDIS_URL is set; and on PostgreSQL
with RedisHuey (the production set-up) when DATABASE_URL names a PostgreSQL server too: the test then creates a
scratch database ``<name>_crash_<hex>`` next to the one in DATABASE_URL and drops it afterwards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from bench.scratch_db import scratch_postgres

from tests.webhooks.harness import Receiver

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 2000
ENDPOINTS = 2
KILLS = 4


def setups() -> list[str]:
    """database+broker combinations this environment can run."""
    result = ["sqlite+sqlite"]
    if os.environ.get("REDIS_URL"):
        result.append("sqlite+redis")
        if os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
            result.append("postgres+redis")
    return result


def process_env(tmp_path: Path, broker: str, database_url: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(
        {
            "GATEWAY_DATA_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "whatsapp_gateway.settings",
            "GATEWAY_ALLOW_PRIVATE_WEBHOOKS": "1",
            "GATEWAY_WEBHOOK_LEASE_SECONDS": "5",
            "GATEWAY_WEBHOOK_JOB_SECONDS": "2",
            "GATEWAY_WORKER_THREADS": "4",
            "HUEY_IMMEDIATE": "0",
            "LOG_LEVEL": "ERROR",
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}",
        }
    )
    if broker == "redis":
        env["REDIS_URL"] = os.environ["REDIS_URL"]
        env["GATEWAY_QUEUE_NAME"] = f"crash-test-{uuid.uuid4().hex[:8]}"
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def start_worker(env: dict[str, str], log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "whatsapp_gateway", "worker"], env=env, cwd=ROOT, stdout=log, stderr=log
    )


@pytest.mark.parametrize("setup", setups())
def test_every_delivery_arrives_at_least_once_despite_sigkill(tmp_path, setup):
    database, broker = setup.split("+")
    if database == "postgres":
        # The processes under test migrate it themselves, outside pytest-django's test database.
        with scratch_postgres(os.environ["DATABASE_URL"], "{database}_crash") as database_url:
            run_crash_test(tmp_path, label=setup, env=process_env(tmp_path, broker, database_url))
    else:
        run_crash_test(tmp_path, label=setup, env=process_env(tmp_path, broker))


def run_crash_test(tmp_path: Path, *, label: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "whatsapp_gateway", "migrate", "--quiet"], env=env, cwd=ROOT, check=True)
    log = open(tmp_path / "worker.log", "ab")  # noqa: SIM115 - closed in finally
    with Receiver() as receiver:
        setup = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.webhooks.harness",
                "setup",
                f"http://127.0.0.1:{receiver.port}",
                str(ENDPOINTS),
            ],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        info = json.loads(setup.stdout.strip().splitlines()[-1])
        worker = start_worker(env, log)
        burst = subprocess.Popen(
            [sys.executable, "-m", "tests.webhooks.harness", "burst", str(info["instance_id"]), str(EVENTS)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        kills = 0
        started = time.monotonic()
        try:
            # Kill the consumer whenever it has delivered a little more, while the burst is still being emitted.
            while burst.poll() is None or kills < KILLS:
                seen = len(receiver.snapshot())
                deadline = time.monotonic() + 20
                while len(receiver.snapshot()) < seen + 150 and time.monotonic() < deadline:
                    time.sleep(0.05)
                if kills < KILLS:
                    worker.send_signal(signal.SIGKILL)
                    worker.wait()
                    kills += 1
                    worker = start_worker(env, log)
                elif burst.poll() is None:
                    time.sleep(0.2)
            emitted = json.loads(burst.communicate(timeout=120)[0].strip().splitlines()[-1])
            print(f"burst done after {time.monotonic() - started:.1f}s, {len(receiver.snapshot())} received")
            assert len(emitted) == EVENTS
            expected = {(path, event_id) for path in info["paths"] for event_id in emitted}
            # Generous: a killed worker's batch waits out its lease, then the once-a-minute sweep; on a loaded CI
            # machine that plus draining the backlog can pass 100 s. The loop ends as soon as everything arrived.
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                received = {(path, webhook_id) for path, webhook_id, _eid, _t in receiver.snapshot()}
                if expected <= received:
                    print(f"all arrived after {time.monotonic() - started:.1f}s")
                    break
                time.sleep(0.25)
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            if burst.poll() is None:
                burst.kill()
            log.close()
        records = receiver.snapshot()
    received = {(path, webhook_id) for path, webhook_id, _eid, _t in records}
    missing = expected - received
    assert kills == KILLS
    assert not missing, f"{len(missing)} of {len(expected)} deliveries never arrived"
    # Every request's webhook-id is its event's id, so duplicates (re-sent after a kill) carry the same webhook-id.
    assert all(webhook_id == event_id for _p, webhook_id, event_id, _t in records)
    duplicates = sum(n - 1 for n in Counter((p, w) for p, w, _e, _t in records).values() if n > 1)
    print(f"{label}: {len(expected)} deliveries, {len(records)} requests, {duplicates} duplicates, {kills} SIGKILLs")
