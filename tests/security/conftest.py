"""The security suite prints its tally at the end of the run (routes checked, requests, fuzz cases ...)."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.security.world import build_world

TALLY: Counter = Counter()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if TALLY:
        terminalreporter.write_sep("=", "security: " + ", ".join(f"{k}={v}" for k, v in sorted(TALLY.items())))


@pytest.fixture
def alice_world(owner_alice, django_capture_on_commit_callbacks, settings):
    settings.GATEWAY_ALLOW_PRIVATE_WEBHOOKS = True  # the world's endpoint points at 127.0.0.1 (no DNS here)
    return build_world(owner_alice, django_capture_on_commit_callbacks)
