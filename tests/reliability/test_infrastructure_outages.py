"""Redis (the job broker) unavailable, and PostgreSQL restarted, under load with real worker processes.

The database is the ledger and the broker only a doorbell: while Redis is down, sends are still accepted (recorded
in the database) and wait; when it is back — empty, every queued job lost — the repair sweep rings again and every
message goes out once. A PostgreSQL restart breaks every open connection at once; connections are re-opened, and
what was committed is sent once.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time

import pytest

from tests.reliability.cluster import TALLY, Cluster, PrivatePostgres, settled

pytestmark = pytest.mark.slow


def _account(state: dict, total: int) -> None:
    by_status = state["by_status"]
    ok = sum(by_status.get(s, 0) for s in ("sent", "delivered", "read"))
    TALLY["items checked"] += total
    TALLY["items lost"] += total - ok
    TALLY["sent twice"] += len(state["duplicate_sends"])


def test_redis_down_sends_are_accepted_wait_and_go_out_once_it_is_back():
    cluster = Cluster(redis="private")
    try:
        cluster.migrate()
        cluster.run("setup", "3", immediate=True)
        cluster.start_worker("w1")
        TALLY["cases tried"] += 1
        total = cluster.run("enqueue", "12", "before")["queued"]
        cluster.wait_until(settled(total), timeout=90)

        cluster.stop_redis()
        TALLY["faults injected"] += 1
        total += cluster.run("enqueue", "12", "during")["queued"]  # accepted although the broker is down
        time.sleep(3)
        during = cluster.status()
        assert during["by_status"].get("queued", 0) + during["by_status"].get("sending", 0) >= 1, during

        cluster.start_redis()  # an empty Redis: every job that was queued or scheduled is gone
        state = cluster.wait_until(settled(total), timeout=120)
        state = cluster.wait_until(lambda s: set(s["deliveries"]) <= {"sent"}, timeout=30)
    finally:
        cluster.close()
    _account(state, total)
    assert state["by_status"].get("failed", 0) == 0, state
    assert state["duplicate_sends"] == [], state
    assert state["provider_calls"] == total


def _restart_during_load(cluster: Cluster, restart, after_restart=lambda: None) -> tuple[dict, int, list[str]]:
    """Two workers sending while a client keeps enqueueing; ``restart`` the server mid-load; wait until settled."""
    errors: list[str] = []
    cluster.migrate()
    cluster.run("setup", "8", immediate=True)
    # A backlog (some to the sandbox's slow number, 1 s a send) so sends are in flight when the server goes away;
    # 12 per instance stays under the 20-a-minute instance rate limit with the load below.
    cluster.run("enqueue", "96", "backlog")
    cluster.run("enqueue", "4", "slow")
    cluster.start_worker("w1")
    cluster.start_worker("w2")
    TALLY["cases tried"] += 1
    stop = threading.Event()

    def load() -> None:
        batch = 0
        while not stop.is_set():
            try:
                cluster.run("enqueue", "4", f"load{batch}", timeout=60)
            except Exception as exc:  # refused while the database restarts: the client would retry
                errors.append(type(exc).__name__)
            batch += 1

    thread = threading.Thread(target=load)
    thread.start()
    before = cluster.status()
    restart()
    TALLY["faults injected"] += 1
    after_restart()
    time.sleep(4)
    stop.set()
    thread.join(timeout=120)
    state: dict = {}
    for _ in range(60):
        try:
            state = cluster.status()
            break
        except RuntimeError:
            time.sleep(1)
    total = sum(n for status, n in state["by_status"].items() if status != "blocked")
    state = cluster.wait_until(settled(total), timeout=180)
    pending = before["by_status"].get("queued", 0) + before["by_status"].get("sending", 0)
    assert pending > 0, f"the restart came after the work was done: {before}"
    return state, total, errors


def _check_restart(state: dict, total: int, errors: list[str]) -> None:
    _account(state, total)
    TALLY["requests refused during the restart"] += len(errors)
    assert total > 0
    assert state["duplicate_sends"] == [], state
    assert state["by_status"].get("failed", 0) == 0, state


def test_a_postgresql_restart_during_load_on_a_private_server_loses_and_duplicates_nothing():
    """The same fault on a throw-away PostgreSQL server of the test's own, so it runs everywhere (CI, laptops, a
    shared machine) without touching the PostgreSQL the suite itself uses."""
    server = PrivatePostgres()
    cluster = None
    try:
        cluster = Cluster(postgres=server.url)
        state, total, errors = _restart_during_load(cluster, server.restart)
    finally:
        if cluster is not None:
            cluster.close()
        server.close()
    _check_restart(state, total, errors)


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres")
    or os.environ.get("GATEWAY_RELIABILITY_PG_RESTART") != "1",
    reason="restarts the PostgreSQL server: runs on PostgreSQL with GATEWAY_RELIABILITY_PG_RESTART=1 (CI)",
)
def test_a_postgresql_restart_during_load_loses_and_duplicates_nothing(django_db_blocker):
    version = os.environ.get("GATEWAY_PG_CLUSTER_VERSION") or sorted(os.listdir("/etc/postgresql"))[-1]

    def restart() -> None:
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True, timeout=120
        )

    def reconnect() -> None:
        # This test process's own connection to the test database was cut too: drop it so later tests reconnect.
        from django.db import connections

        with django_db_blocker.unblock():
            connections.close_all()

    cluster = Cluster()
    try:
        state, total, errors = _restart_during_load(cluster, restart, reconnect)
    finally:
        cluster.close()
    _check_restart(state, total, errors)
