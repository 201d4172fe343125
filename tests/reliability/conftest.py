"""The reliability suite prints its tally at the end of the run: cases tried, faults injected, items lost."""

from __future__ import annotations

import pytest

from tests.messaging.conftest import alice_instance, fake_provider  # noqa: F401  (fixtures reused here)
from tests.reliability.cluster import TALLY, Cluster


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not TALLY:
        return
    keys = ["cases tried", "faults injected", "items checked", "items lost", "sent twice"]
    parts = [f"{key}={TALLY.get(key, 0)}" for key in keys] + [
        f"{key}={value}" for key, value in sorted(TALLY.items()) if key not in keys
    ]
    terminalreporter.write_sep("=", "reliability: " + ", ".join(parts))


@pytest.fixture
def cluster():
    installation = Cluster()
    try:
        installation.migrate()
        yield installation
    finally:
        installation.close()
