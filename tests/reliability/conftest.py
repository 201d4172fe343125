"""Fixtures of the reliability suite (its tally is printed by ``tests/tallies.py``)."""

from __future__ import annotations

import pytest

from tests.messaging.conftest import alice_fake_instance  # noqa: F401  (fixture reused here)
from tests.reliability.cluster import Cluster


@pytest.fixture
def cluster():
    installation = Cluster()
    try:
        installation.migrate()
        yield installation
    finally:
        installation.close()
