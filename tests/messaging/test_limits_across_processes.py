"""Limits hold when several processes send at once: counting happens under the account's lock in the database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bench.scratch_db import scratch_postgres

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "HUEY_IMMEDIATE", "DJANGO_SETTINGS_MODULE")}
    env.update(
        {
            "GATEWAY_DATA_DIR": str(data_dir),
            "DJANGO_SETTINGS_MODULE": "whatsapp_gateway.settings",
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")]),
            "LOG_LEVEL": "ERROR",
        }
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


@pytest.fixture
def scratch_database(tmp_path):
    """A fresh SQLite file, or a fresh PostgreSQL database when the suite runs on PostgreSQL."""
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        yield None
        return
    with scratch_postgres(base, "h3procs") as database_url:
        yield database_url


def test_daily_limit_holds_across_two_processes(tmp_path, scratch_database):
    env = _env(tmp_path, scratch_database)
    python = sys.executable
    subprocess.run([python, "-m", "whatsapp_gateway", "migrate", "--quiet"], env=env, check=True, cwd=ROOT)
    helper = str(ROOT / "tests" / "messaging" / "procs_send.py")
    subprocess.run([python, helper, "setup", "30"], env=env, check=True, cwd=ROOT, capture_output=True)
    go_file = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [python, helper, "send", "25", tag, str(go_file)], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for tag in ("50", "55")
    ]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    go_file.touch()
    results = [json.loads(p.communicate(timeout=240)[0].strip().splitlines()[-1]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    # Each process sends 25 through its own instance (at most 20 a minute each), so both must get some of the
    # account's 30 a day, and together exactly 30: the daily count is shared and exact across processes.
    assert sum(r.get("queued", 0) for r in results) == 30, results
    assert all(r.get("queued", 0) >= 10 for r in results), results
    assert (
        sum(r.get("daily_limit_reached", 0) for r in results) + sum(r.get("sending_throttled", 0) for r in results)
        == 20
    ), results
