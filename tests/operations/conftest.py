from __future__ import annotations

import pytest

from tests.factories import make_user
from tests.messaging.conftest import (  # noqa: F401  (fixtures reused here)
    alice_api,
    alice_instance,
    alice_key,
    fake_provider,
)


@pytest.fixture
def operator(db):
    user = make_user("ops@example.com")
    user.is_staff = True
    user.is_superuser = True
    user.save()
    return user


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client
