"""Authentication throttling: portal logins (allauth), API-key guessing per IP, 3CX secret guessing per IP."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.factories import PASSWORD
from tests.messaging.conftest import ApiClient, body
from tests.security.conftest import TALLY

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


def test_api_key_guessing_is_throttled_per_ip(settings, alice_world):
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


def test_3cx_secret_guessing_is_throttled_per_ip(settings, alice_world):
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
