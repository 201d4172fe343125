"""Fixtures of the security suite (its tally is printed by ``tests/tallies.py``)."""

from __future__ import annotations

import pytest

from tests.security.world import build_world


@pytest.fixture
def alice_world(owner_alice, django_capture_on_commit_callbacks, settings):
    settings.GATEWAY_ALLOW_PRIVATE_WEBHOOKS = True  # the world's endpoint points at 127.0.0.1 (no DNS here)
    return build_world(owner_alice, django_capture_on_commit_callbacks)
