"""Behind a proxy the client is the X-Forwarded-For entry GATEWAY_TRUSTED_PROXY_COUNT hops from the right: what a
client writes to the left of it changes neither allow-lists, throttles, audit rows nor allauth's login limits."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.factories import PASSWORD
from tests.messaging.conftest import ApiClient, body
from tests.tallies import SECURITY as TALLY
from whatsapp_gateway.messaging.models import Message
from whatsapp_gateway.threecx.models import Integration
from whatsapp_gateway.threecx.services import integration_rotate_secret, integration_update

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.2"  # the reverse proxy's own address (REMOTE_ADDR of every request)


@pytest.fixture
def behind_proxy(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.GATEWAY_TRUSTED_PROXY_COUNT = 1


def test_a_forged_leftmost_entry_does_not_pass_the_3cx_allow_list(behind_proxy, alice_world):
    integration = Integration.objects.get(public_id=alice_world["integration"])
    integration_update(integration=integration, allowed_ips=["203.0.113.10"])
    secret = integration_rotate_secret(integration=integration).secret
    url = f"/integrations/3cx/webhook/{integration.public_id}"

    def post(forwarded_for: str) -> int:
        return (
            Client()
            .post(
                url,
                json.dumps({"event_type": "test"}),
                content_type="application/json",
                HTTP_X_WHATSAPP_GATEWAY_3CX_SECRET=secret,
                HTTP_X_FORWARDED_FOR=forwarded_for,
                REMOTE_ADDR=PROXY,
            )
            .status_code
        )

    assert post("203.0.113.10, 198.51.100.99") == 401
    assert post("198.51.100.99, 203.0.113.10") == 200  # the proxy appended the allowed address
    TALLY["client ip: forged entries refused"] += 1


def test_rotating_the_leftmost_entry_does_not_escape_the_key_guessing_throttle(behind_proxy, settings, alice_world):
    settings.GATEWAY_AUTH_FAILURES_PER_MINUTE = 30
    guesser = ApiClient("wg_live_guess")
    answers = []
    for n in range(60):
        guesser.key = f"wg_live_guess-{n:03d}"
        headers = {"X-Forwarded-For": f"198.18.0.{n}, 198.51.100.7"}
        answers.append(guesser.send(body(), headers=headers).status_code)
    assert answers == [401] * 30 + [429] * 30
    TALLY["client ip: rotated guesses throttled"] += 30


def test_message_and_audit_rows_record_the_address_the_proxy_saw(behind_proxy, alice_world):
    sender = ApiClient(alice_world["api_key_plain"])
    for n, forged in enumerate(("6.6.6.6", "not-an-ip")):
        response = sender.send(
            body(instance_id="world-line", phone=f"+96650123450{n}", message=f"Your order #{n} has shipped."),
            headers={"X-Forwarded-For": f"{forged}, 198.51.100.7"},
        )
        assert response.status_code == 202
        assert Message.objects.latest("id").client_ip == "198.51.100.7"
        TALLY["client ip: forged entries refused"] += 1


def test_failed_logins_through_the_proxy_lock_out_only_their_own_address(behind_proxy, owner_alice, outsider_charlie):
    for n in range(6):
        Client().post(
            "/accounts/login/",
            {"login": owner_alice.user.email, "password": "wrong-password"},
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n % 2}",
            REMOTE_ADDR=PROXY,
        )
    client = Client()
    response = client.post(
        "/accounts/login/",
        {"login": outsider_charlie.user.email, "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="198.51.100.200",
        REMOTE_ADDR=PROXY,
    )
    assert response.status_code == 302 and "_auth_user_id" in client.session
    # The guessing address itself is locked out (allauth's 5 failures a minute per IP).
    response = Client().post(
        "/accounts/login/",
        {"login": owner_alice.user.email, "password": "wrong-password"},
        HTTP_X_FORWARDED_FOR="203.0.113.1, 198.51.100.0",
        REMOTE_ADDR=PROXY,
    )
    assert b"Too many failed login attempts" not in response.content  # 3 failures from .0 so far
    TALLY["client ip: login lock-outs kept per client"] += 8
