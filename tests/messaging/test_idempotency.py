"""Idempotency-Key on POST /api/send-message: replay, different body, still running, expiry."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
import time_machine

from tests.messaging.conftest import ApiClient, body
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.messaging.models import IdempotencyRecord, Message

pytestmark = pytest.mark.django_db


def test_same_key_and_body_replays_the_first_response(alice_api, alice_fake_instance):
    first = alice_api.send(body(), headers={"Idempotency-Key": "order-1042"})
    # Same object, different key order and spacing: still the same body.
    raw = json.dumps(dict(reversed(list(body().items()))), indent=2)
    second = alice_api.send(raw=raw, headers={"Idempotency-Key": "order-1042"})
    assert first.status_code == second.status_code == 202
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Message.objects.count() == 1


def test_same_key_with_a_different_body_is_idempotency_key_reused(alice_api, alice_fake_instance):
    alice_api.send(body(), headers={"Idempotency-Key": "k1"})
    response = alice_api.send(body(message="Something else"), headers={"Idempotency-Key": "k1"})
    assert response.status_code == 422 and response.json()["error"] == "idempotency_key_reused"
    assert Message.objects.count() == 1


def test_a_request_still_running_answers_idempotency_in_progress(owner_alice, alice_api, alice_fake_instance):
    from whatsapp_gateway.messaging.idempotency import request_fingerprint

    IdempotencyRecord.objects.create(account=owner_alice.account, key="k2", request_hash=request_fingerprint(body()))
    response = alice_api.send(body(), headers={"Idempotency-Key": "k2"})
    assert response.status_code == 409 and response.json()["error"] == "idempotency_in_progress"
    assert not Message.objects.exists()


def test_blocked_answers_are_replayed_too(alice_api, alice_fake_instance):
    first = alice_api.send(body(message_purpose="marketing"), headers={"Idempotency-Key": "k3"})
    second = alice_api.send(body(message_purpose="marketing"), headers={"Idempotency-Key": "k3"})
    assert first.status_code == second.status_code == 422
    assert second.json() == first.json() and second["Idempotent-Replayed"] == "true"


def test_retryable_answers_release_the_key(alice_api, alice_fake_instance):
    alice_fake_instance.state = "disconnected"
    alice_fake_instance.save()
    assert alice_api.send(body(), headers={"Idempotency-Key": "k4"}).status_code == 409
    alice_fake_instance.state = "connected"
    alice_fake_instance.save()
    response = alice_api.send(body(), headers={"Idempotency-Key": "k4"})
    assert response.status_code == 202 and "Idempotent-Replayed" not in response


def test_keys_expire_after_24_hours(alice_api, alice_fake_instance):
    alice_api.send(body(), headers={"Idempotency-Key": "k5"})
    with time_machine.travel(now() + dt.timedelta(hours=24, minutes=1), tick=False):
        response = alice_api.send(body(message="A new day"), headers={"Idempotency-Key": "k5"})
    assert response.status_code == 202 and "Idempotent-Replayed" not in response


def test_keys_are_scoped_per_account(alice_api, alice_fake_instance, outsider_charlie, charlie_fake_instance):
    from whatsapp_gateway.apikeys.services import api_key_create

    charlie = ApiClient(api_key_create(account=outsider_charlie.account, name="k").full_key)
    alice_api.send(body(), headers={"Idempotency-Key": "shared"})
    response = charlie.send(body(instance_id="charlie-line"), headers={"Idempotency-Key": "shared"})
    assert response.status_code == 202 and "Idempotent-Replayed" not in response


def test_an_overlong_key_is_a_validation_error(alice_api, alice_fake_instance):
    response = alice_api.send(body(), headers={"Idempotency-Key": "x" * 256})
    assert response.status_code == 422 and response.json()["details"] == {"field": "Idempotency-Key"}


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_send_once(seeded_plans, alice_key, alice_fake_instance, monkeypatch):
    """Two requests with one key at the same moment: one runs, the other answers 409; a retry replays."""
    from whatsapp_gateway.messaging import services

    entered, release = threading.Event(), threading.Event()
    original = services.send_risk_assess

    def slow_risk(ctx, template_request):
        entered.set()
        release.wait(10)
        return original(ctx, template_request)

    monkeypatch.setattr(services, "send_risk_assess", slow_risk)
    results = {}

    def first():
        results["first"] = ApiClient(alice_key).send(body(), headers={"Idempotency-Key": "race"})

    thread = threading.Thread(target=first)
    thread.start()
    assert entered.wait(10)
    results["second"] = ApiClient(alice_key).send(body(), headers={"Idempotency-Key": "race"})
    release.set()
    thread.join(10)
    assert results["first"].status_code == 202
    assert results["second"].status_code == 409
    assert results["second"].json()["error"] == "idempotency_in_progress"
    replay = ApiClient(alice_key).send(body(), headers={"Idempotency-Key": "race"})
    assert replay.status_code == 202 and replay.json() == results["first"].json()
    assert Message.objects.count() == 1
