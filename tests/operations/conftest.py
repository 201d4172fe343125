from __future__ import annotations

import pytest

from tests.factories import make_operator
from tests.messaging.conftest import (  # noqa: F401  (fixtures reused here)
    alice_api,
    alice_fake_instance,
    alice_key,
)


@pytest.fixture
def operator(db):
    return make_operator("ops@example.com")


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client
