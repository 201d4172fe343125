"""The 60-requests-a-minute limit holds across processes: a real gateway (gunicorn, 2 worker processes of 4 threads,
its own SQLite file) gets 80 concurrent requests for one integration."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from bench.gateway_server import GatewayServer

pytestmark = pytest.mark.slow

SETUP = """
import json
from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.threecx.services import integration_create
account = Account.objects.get(name="Demo Business")
integration, creds = integration_create(account=account, name="3CX", default_instance=Instance.objects.get(account=account))
print(json.dumps({"id": integration.public_id, "secret": creds.secret}))
"""

COUNTS = """
import json
from whatsapp_gateway.threecx.models import RateWindow
print(json.dumps(list(RateWindow.objects.values_list("count", flat=True))))
"""


def test_at_most_60_requests_a_minute_get_through_across_processes():
    with GatewayServer(port=8791, workers=2, threads=4) as server:
        created = json.loads(server.python(SETUP).strip().splitlines()[-1])
        url = f"{server.url}/integrations/3cx/webhook/{created['id']}"
        headers = {"X-WhatsApp-Gateway-3CX-Secret": created["secret"]}

        def post(_: int) -> int:
            with httpx.Client(timeout=30) as client:
                return client.post(url, json={"event_type": "test"}, headers=headers).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(post, range(80)))
        windows = json.loads(server.python(COUNTS).strip().splitlines()[-1])

    assert set(statuses) <= {200, 429}
    assert sum(windows) == 80
    # Each clock minute lets 60 through; usually all 80 land in one minute (60 + 20), at worst in two.
    assert statuses.count(200) == sum(min(count, 60) for count in windows)
    assert statuses.count(429) == sum(max(count - 60, 0) for count in windows)
    if len(windows) == 1:
        assert statuses.count(200) == 60
