"""Authentication throttling: portal logins (allauth), API-key guessing per IP, 3CX secret guessing per IP."""

from __future__ import annotations

import json
import threading

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from tests.factories import PASSWORD
from tests.messaging.conftest import ApiClient, body
from tests.tallies import SECURITY as TALLY
from whatsapp_gateway.apikeys import auth
from whatsapp_gateway.lib import throttle

pytestmark = pytest.mark.django_db


def test_failed_logins_are_throttled_then_even_the_right_password_waits(owner_alice):
    client = Client()
    email = owner_alice.user.email
    for _ in range(5):
        response = client.post("/accounts/login/", {"login": email, "password": "wrong-password"})
        assert response.status_code == 200 and b"Too many failed login attempts" not in response.content
    response = client.post("/accounts/login/", {"login": email, "password": "wrong-password"})
    assert b"Too many failed login attempts" in response.content
    # While throttled, even the right password does not log in.
    response = client.post("/accounts/login/", {"login": email, "password": PASSWORD})
    assert response.status_code != 302 and b"Too many failed login attempts" in response.content
    assert "_auth_user_id" not in client.session
    TALLY["throttle: login attempts"] += 7


@pytest.fixture
def one_minute():
    """The throttle counts per clock minute: keep the test inside one."""
    with time_machine.travel(timezone.now().replace(second=5), tick=False):
        yield


def test_api_key_guessing_is_throttled_per_ip(settings, alice_world, one_minute):
    settings.GATEWAY_AUTH_FAILURES_PER_MINUTE = 10
    guesser = ApiClient("wg_live_guess-000")
    answers = []
    for attempt in range(12):
        guesser.key = f"wg_live_guess-{attempt:03d}"
        answers.append(guesser.send(body()).status_code)
    assert answers[:10] == [401] * 10
    assert answers[10:] == [429, 429]
    response = guesser.send(body())
    assert response.json()["error"] == "too_many_auth_failures" and int(response["Retry-After"]) <= 60
    # The right key from the same address waits too (the guesser may have found it); another address is unaffected.
    assert ApiClient(alice_world["api_key_plain"]).send(body(instance_id="world-line")).status_code == 429
    other = ApiClient(alice_world["api_key_plain"])
    other.client.defaults["REMOTE_ADDR"] = "192.0.2.7"
    assert other.send(body(instance_id="world-line")).status_code == 202
    TALLY["throttle: api key guesses"] += 15


def test_a_key_verified_seconds_ago_takes_no_slot_yet_waits_while_its_address_is_throttled(
    settings, alice_world, one_minute, monkeypatch
):
    settings.GATEWAY_AUTH_FAILURES_PER_MINUTE = 3
    right = ApiClient(alice_world["api_key_plain"])
    # the first request records the key's use (and drops its cached row); the second caches it again
    for n in range(2):
        sent = right.send(body(instance_id="world-line", phone=f"+96650127771{n}", message=f"Order #{n} is packed."))
        assert sent.status_code == 202, sent.content
    slots = []
    taking = auth.auth_attempt_start
    monkeypatch.setattr(auth, "auth_attempt_start", lambda **kw: slots.append(kw) or taking(**kw))
    for n in range(2, 5):
        sent = right.send(body(instance_id="world-line", phone=f"+96650127770{n}", message=f"Order #{n} has shipped."))
        assert sent.status_code == 202, sent.content
    assert slots == []  # no slot taken, none given back: one read per request
    guesser = ApiClient("wg_live_guess-x")
    assert [guesser.send(body()).status_code for _ in range(4)] == [401, 401, 401, 429]
    response = right.send(body(instance_id="world-line", phone="+966501277709"))
    assert response.status_code == 429 and response.json()["error"] == "too_many_auth_failures"
    TALLY["throttle: api key guesses"] += 4


def test_3cx_secret_guessing_is_throttled_per_ip(settings, alice_world, one_minute):
    settings.GATEWAY_AUTH_FAILURES_PER_MINUTE = 5
    client = Client()
    url = f"/integrations/3cx/webhook/{alice_world['integration']}"
    payload = json.dumps({"event_type": "test"})
    answers = [
        client.post(
            url, payload, content_type="application/json", HTTP_X_WHATSAPP_GATEWAY_3CX_SECRET=f"guess-{n}"
        ).status_code
        for n in range(7)
    ]
    assert answers == [401] * 5 + [429, 429]
    TALLY["throttle: 3cx guesses"] += 7


def _in_parallel(count: int, attempt) -> list:
    barrier = threading.Barrier(count)
    results: list = []

    def run():
        barrier.wait()
        results.append(attempt())

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_parallel_failures_cannot_overrun_the_limit(settings, one_minute):
    """100 simultaneous guesses from one IP: exactly the limit get to try a credential, whatever the interleaving."""
    settings.GATEWAY_AUTH_FAILURES_PER_MINUTE = 30

    def guess() -> bool:
        attempt = throttle.auth_attempt_start(scope="api", ip="198.51.100.1")
        return attempt.allowed  # a wrong credential: the slot is kept

    assert sum(_in_parallel(100, guess)) == 30
    # Successful authentications give their slot back, so right keys are never counted as failures.
    settings.GATEWAY_AUTH_FAILURES_PER_MINUTE = 5
    for _ in range(20):
        attempt = throttle.auth_attempt_start(scope="api", ip="198.51.100.2")
        assert attempt.allowed
        throttle.auth_attempt_passed(attempt)
    TALLY["throttle: parallel guesses"] += 100


@pytest.mark.django_db(transaction=True)
def test_parallel_bad_keys_over_http_get_at_most_the_limit_of_401s(settings, owner_alice, one_minute):
    settings.GATEWAY_AUTH_FAILURES_PER_MINUTE = 30

    def send() -> int:
        return ApiClient("wg_live_parallel-guess").send(body()).status_code

    answers = _in_parallel(60, send)
    assert sorted(answers) == [401] * 30 + [429] * 30
    TALLY["throttle: parallel guesses"] += 60
