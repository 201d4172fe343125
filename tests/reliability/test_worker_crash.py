"""SIGKILL of real worker processes while they send messages and deliver webhooks: nothing is lost, nothing is
sent twice, every ``message.sent`` event reaches the receiver at least once.

Extends the lease test (``tests/webhooks/test_delivery.py``, a simulated crash inside one process) with real
processes killed at random moments: inside the claim, between the provider call and recording its answer,
during a webhook POST, or while idle.
"""

from __future__ import annotations

import os
import random
import time

import pytest

from tests.reliability.cluster import TALLY, Receiver, settled

pytestmark = pytest.mark.slow

# ``make soak`` sets GATEWAY_SOAK=N: N times the messages and the kills.
SOAK = max(int(os.environ.get("GATEWAY_SOAK", "1") or 1), 1)


def test_killing_workers_during_sends_and_deliveries_loses_and_duplicates_nothing(cluster):
    receiver = Receiver()
    try:
        instances = 6 * SOAK  # ~14 sends per instance per run: under the 20-a-minute instance limit
        setup = cluster.run("setup", str(instances), receiver.url, immediate=True)
        assert set(setup["states"]) == {"connected"}, setup
        total = 0
        for batch, size in enumerate([40, 40] * SOAK):
            total += cluster.run("enqueue", str(size), f"b{batch}")["queued"]
        total += cluster.run("enqueue", "4", "slow")["queued"]  # the sandbox's slow number: 1 s per send
        TALLY["cases tried"] += 1

        rng = random.Random(20261124)
        cluster.start_worker("w1")
        cluster.start_worker("w2")
        for _ in range(8 * SOAK):  # kill one worker at a random moment, restart it, repeat
            time.sleep(rng.uniform(0.3, 1.5))
            name = rng.choice(["w1", "w2"])
            cluster.kill(name)
            cluster.start_worker(name)
        state = cluster.wait_until(settled(total), timeout=150 * SOAK)
        state = cluster.wait_until(
            lambda s: len(s["sent_event_ids"]) >= total and set(s["deliveries"]) == {"sent"}, timeout=90
        )
    finally:
        receiver.close()

    by_status = state["by_status"]
    delivered_ok = sum(by_status.get(s, 0) for s in ("sent", "delivered", "read"))
    lost = total - delivered_ok
    missing_webhooks = [event for event in state["sent_event_ids"] if receiver.received[event] < 1]
    TALLY["items checked"] += total + len(state["sent_event_ids"])
    TALLY["items lost"] += lost + len(missing_webhooks)
    TALLY["sent twice"] += len(state["duplicate_sends"])
    TALLY["webhook redeliveries (at least once)"] += sum(n - 1 for n in receiver.received.values() if n > 1)
    assert lost == 0, state
    assert state["duplicate_sends"] == [], state
    assert state["provider_calls"] == total, state
    assert missing_webhooks == []
