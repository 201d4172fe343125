"""The reliability and security suites' tallies, printed at the end of the run (also under pytest-xdist, where each
worker counts its own share and the controller adds them up)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

RELIABILITY: Counter = Counter()
SECURITY: Counter = Counter()
_FIRST = ["cases tried", "faults injected", "items checked", "items lost", "sent twice"]


def pytest_sessionfinish(session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand the counts to the controller
        workeroutput["tallies"] = json.dumps({"reliability": RELIABILITY, "security": SECURITY})


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    counts = json.loads(getattr(node, "workeroutput", {}).get("tallies", "{}"))
    RELIABILITY.update(counts.get("reliability", {}))
    SECURITY.update(counts.get("security", {}))


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if SECURITY:
        terminalreporter.write_sep("=", "security: " + ", ".join(f"{k}={v}" for k, v in sorted(SECURITY.items())))
    if RELIABILITY:
        parts = [f"{key}={RELIABILITY.get(key, 0)}" for key in _FIRST] + [
            f"{key}={value}" for key, value in sorted(RELIABILITY.items()) if key not in _FIRST
        ]
        terminalreporter.write_sep("=", "reliability: " + ", ".join(parts))
