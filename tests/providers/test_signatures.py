"""Callback authentication per provider: valid, invalid, missing and replayed signatures.

- Evolution: ``Authorization: Bearer <HS256 JWT>`` from the instance's ``jwt_key``; a replay is an expired token.
- WAHA: ``X-Webhook-Hmac`` (HMAC-SHA512 of the body); a replay is a correctly signed but old event.
- Cloud: ``X-Hub-Signature-256``; Meta retries for days, so an identical replay verifies and is then dropped by
  deduplication (same ``dedup_key``s), while a signature moved onto another body does not verify.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.providers.fakes.cloud import FakeCloud
from whatsapp_gateway.providers.base import CallbackRejected
from whatsapp_gateway.providers.registry import get_provider
from whatsapp_gateway.providers.signing import sign_hs256_jwt

pytestmark = pytest.mark.django_db
evolution, waha, cloud = get_provider("evolution"), get_provider("waha"), get_provider("cloud")


def rejected(provider, instance, headers, body) -> str:
    with pytest.raises(CallbackRejected) as caught:
        provider.verify_callback(instance, headers=headers, body=body)
    assert caught.value.status == 401
    return caught.value.reason


# --- Evolution -------------------------------------------------------------------------------------------------


@pytest.fixture
def evo_callback(evolution_instance, fake_evolution):
    return fake_evolution.qr_callback(evolution_instance.provider_ref)


def test_evolution_accepts_its_signed_bearer_token(evolution_instance, evo_callback):
    assert evo_callback.headers["Authorization"].startswith("Bearer ")
    evolution.verify_callback(evolution_instance, headers=evo_callback.headers, body=evo_callback.body)


def test_evolution_headers_are_matched_case_insensitively(evolution_instance, evo_callback):
    headers = {"authorization": evo_callback.headers["Authorization"]}
    evolution.verify_callback(evolution_instance, headers=headers, body=evo_callback.body)


def test_evolution_refuses_a_token_signed_with_another_secret(evolution_instance, evo_callback):
    now = int(time.time())
    forged = sign_hs256_jwt({"iat": now, "exp": now + 600, "app": "evolution", "action": "webhook"}, secret="guess")
    headers = {"Authorization": f"Bearer {forged}"}
    assert rejected(evolution, evolution_instance, headers, evo_callback.body) == "invalid signature"


def test_evolution_refuses_a_tampered_token(evolution_instance, evo_callback):
    token = evo_callback.headers["Authorization"].removeprefix("Bearer ")
    head, _, sig = token.split(".")
    claims = sign_hs256_jwt({"iat": 0, "exp": 2**40, "app": "evolution", "action": "webhook"}, secret="x").split(".")[1]
    headers = {"Authorization": f"Bearer {head}.{claims}.{sig}"}
    assert rejected(evolution, evolution_instance, headers, evo_callback.body) == "invalid signature"


def test_evolution_refuses_an_unsigned_alg_none_token(evolution_instance, evo_callback):
    from whatsapp_gateway.providers.signing import b64url

    head = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    claims = b64url(json.dumps({"exp": int(time.time()) + 600, "app": "evolution", "action": "webhook"}).encode())
    headers = {"Authorization": f"Bearer {head}.{claims}."}
    assert rejected(evolution, evolution_instance, headers, evo_callback.body) == "unsupported token"


def test_evolution_refuses_a_token_of_another_instance(owner_alice, evolution_instance, fake_evolution):
    from tests.factories import make_instance
    from tests.providers.conftest import store_created

    other = make_instance(owner_alice.account, provider="evolution", name="other")
    other = store_created(other, evolution.create_instance(other))
    callback = fake_evolution.qr_callback(other.provider_ref)
    assert rejected(evolution, evolution_instance, callback.headers, callback.body) == "invalid signature"


def test_evolution_refuses_a_missing_token(evolution_instance, evo_callback):
    assert rejected(evolution, evolution_instance, {}, evo_callback.body) == "missing Authorization bearer token"


def test_evolution_refuses_a_malformed_authorization_header(evolution_instance, evo_callback):
    assert rejected(evolution, evolution_instance, {"Authorization": "Basic abc"}, evo_callback.body) == (
        "malformed Authorization header"
    )


def test_evolution_without_webhook_headers_can_be_allowed_by_the_operator(evolution_instance, evo_callback, settings):
    settings.EVOLUTION_WEBHOOK_JWT_REQUIRED = False
    evolution.verify_callback(evolution_instance, headers={}, body=evo_callback.body)


@pytest.mark.parametrize("seconds_after_the_first_try", [615, 915, 1215])
def test_evolution_accepts_its_late_retries_which_reuse_the_first_token(
    evolution_instance, fake_evolution, seconds_after_the_first_try
):
    """Evolution signs once (exp +600 s) and retries with the same token after about 5, 15, 35 … 615, 915 and
    1,215 s; a 401 would make it drop the event for good."""
    issued = int(time.time()) - seconds_after_the_first_try
    headers = fake_evolution.webhook_headers(evolution_instance.provider_ref, issued_at=issued)
    callback = fake_evolution.qr_callback(evolution_instance.provider_ref)
    evolution.verify_callback(evolution_instance, headers=headers, body=callback.body)


def test_evolution_refuses_a_replayed_callback_whose_token_expired(evolution_instance, fake_evolution):
    an_hour_ago = int(time.time()) - 60 * 60  # past any retry Evolution makes
    headers = fake_evolution.webhook_headers(evolution_instance.provider_ref, issued_at=an_hour_ago)
    callback = fake_evolution.qr_callback(evolution_instance.provider_ref)
    assert rejected(evolution, evolution_instance, headers, callback.body) == "token expired (replayed callback?)"


def test_evolution_refuses_a_token_without_expiry(evolution_instance, evo_callback):
    secret = json.loads(evolution_instance.provider_credentials)["webhook_secret"]
    token = sign_hs256_jwt({"iat": int(time.time()), "app": "evolution", "action": "webhook"}, secret=secret)
    assert rejected(evolution, evolution_instance, {"Authorization": f"Bearer {token}"}, evo_callback.body) == (
        "token has no expiry"
    )


def test_evolution_refuses_a_token_for_another_purpose(evolution_instance, evo_callback):
    secret = json.loads(evolution_instance.provider_credentials)["webhook_secret"]
    now = int(time.time())
    token = sign_hs256_jwt({"iat": now, "exp": now + 600, "app": "evolution", "action": "login"}, secret=secret)
    assert rejected(evolution, evolution_instance, {"Authorization": f"Bearer {token}"}, evo_callback.body) == (
        "token is not an Evolution webhook token"
    )


# --- WAHA ------------------------------------------------------------------------------------------------------


@pytest.fixture
def waha_callback(waha_instance, fake_waha):
    fake_waha.sessions[waha_instance.provider_ref].me = {"id": "5511900001111@c.us", "pushName": "Acme"}
    return fake_waha.inbound(waha_instance.provider_ref, phone="+5511988887777", text="hi")


def test_waha_accepts_its_hmac_sha512_signature(waha_instance, waha_callback):
    assert waha_callback.headers["X-Webhook-Hmac-Algorithm"] == "sha512"
    waha.verify_callback(waha_instance, headers=waha_callback.headers, body=waha_callback.body)


def test_waha_accepts_an_upper_case_hex_signature(waha_instance, waha_callback):
    headers = {**waha_callback.headers, "X-Webhook-Hmac": waha_callback.headers["X-Webhook-Hmac"].upper()}
    waha.verify_callback(waha_instance, headers=headers, body=waha_callback.body)


def test_waha_refuses_a_signature_of_another_body(waha_instance, waha_callback):
    tampered = waha_callback.body.replace(b'"hi"', b'"STOP"')
    assert rejected(waha, waha_instance, waha_callback.headers, tampered) == "invalid signature"


def test_waha_refuses_a_signature_made_with_another_key(waha_instance, fake_waha, waha_callback):
    import hashlib
    import hmac

    forged = hmac.new(b"other-key", waha_callback.body, hashlib.sha512).hexdigest()
    headers = {**waha_callback.headers, "X-Webhook-Hmac": forged}
    assert rejected(waha, waha_instance, headers, waha_callback.body) == "invalid signature"


def test_waha_refuses_a_missing_signature(waha_instance, waha_callback):
    headers = {k: v for k, v in waha_callback.headers.items() if not k.startswith("X-Webhook-Hmac")}
    assert rejected(waha, waha_instance, headers, waha_callback.body) == "missing signature"


def test_waha_refuses_another_algorithm(waha_instance, waha_callback):
    headers = {**waha_callback.headers, "X-Webhook-Hmac-Algorithm": "sha1"}
    assert rejected(waha, waha_instance, headers, waha_callback.body) == "unsupported signature algorithm"


def test_waha_refuses_a_replayed_old_event_even_when_correctly_signed(waha_instance, fake_waha, settings):
    two_hours_ago_ms = int((time.time() - 2 * 3600) * 1000)
    fake_waha.sessions[waha_instance.provider_ref].me = {"id": "5511900001111@c.us"}
    old = fake_waha.callback(
        waha_instance.provider_ref, "session.status", {"status": "WORKING"}, timestamp_ms=two_hours_ago_ms
    )
    assert rejected(waha, waha_instance, old.headers, old.body) == "event is too old (replayed callback?)"


def test_waha_accepts_a_retry_within_the_replay_window(waha_instance, fake_waha):
    ten_minutes_ago_ms = int((time.time() - 600) * 1000)
    retry = fake_waha.callback(
        waha_instance.provider_ref, "session.status", {"status": "WORKING"}, timestamp_ms=ten_minutes_ago_ms
    )
    waha.verify_callback(waha_instance, headers=retry.headers, body=retry.body)


def test_waha_refuses_an_event_from_the_future(waha_instance, fake_waha):
    future_ms = int((time.time() + 3600) * 1000)
    event = fake_waha.callback(
        waha_instance.provider_ref, "session.status", {"status": "WORKING"}, timestamp_ms=future_ms
    )
    assert rejected(waha, waha_instance, event.headers, event.body) == "event timestamp is in the future"


def test_waha_uses_the_operator_key_for_sessions_without_their_own(owner_alice, fake_waha, settings):
    from tests.factories import make_instance
    from tests.providers.fakes.waha import WahaSession

    settings.WAHA_WEBHOOK_HMAC_KEY = "operator-hmac-key"
    fake_waha.sessions["legacy"] = WahaSession(
        name="legacy", config={"webhooks": [{"hmac": {"key": "operator-hmac-key"}}]}
    )
    instance = make_instance(owner_alice.account, provider="waha", provider_ref="legacy")
    event = fake_waha.callback("legacy", "session.status", {"status": "WORKING"})

    waha.verify_callback(instance, headers=event.headers, body=event.body)
    settings.WAHA_WEBHOOK_HMAC_KEY = ""
    assert rejected(waha, instance, event.headers, event.body) == "no HMAC key configured for this session"


# --- Meta Cloud API --------------------------------------------------------------------------------------------


@pytest.fixture
def cloud_callback(cloud_instance, fake_cloud):
    return fake_cloud.inbound(cloud_instance.provider_ref, phone="+16505551234", text="hi")


def test_cloud_accepts_meta_s_signature(cloud_instance, cloud_callback):
    assert cloud_callback.headers["X-Hub-Signature-256"].startswith("sha256=")
    cloud.verify_callback(cloud_instance, headers=cloud_callback.headers, body=cloud_callback.body)


def test_cloud_uses_the_instance_s_own_app_secret(cloud_instance, fake_cloud, cloud_callback):
    credentials = json.loads(cloud_instance.provider_credentials)
    cloud_instance.provider_credentials = json.dumps({**credentials, "app_secret": "customer-app-secret"})
    assert rejected(cloud, cloud_instance, cloud_callback.headers, cloud_callback.body) == "invalid signature"
    headers = fake_cloud.sign(cloud_callback.body, secret="customer-app-secret")
    cloud.verify_callback(cloud_instance, headers=headers, body=cloud_callback.body)


def test_cloud_refuses_a_signature_with_another_secret(cloud_instance, cloud_callback):
    headers = FakeCloud(app_secret="not-ours").sign(cloud_callback.body)
    assert rejected(cloud, cloud_instance, headers, cloud_callback.body) == "invalid signature"


def test_cloud_refuses_a_malformed_signature(cloud_instance, cloud_callback):
    digest = cloud_callback.headers["X-Hub-Signature-256"].removeprefix("sha256=")
    assert rejected(cloud, cloud_instance, {"X-Hub-Signature-256": f"sha1={digest}"}, cloud_callback.body) == (
        "malformed signature"
    )


def test_cloud_refuses_a_missing_signature(cloud_instance, cloud_callback):
    assert rejected(cloud, cloud_instance, {}, cloud_callback.body) == "missing signature"


def test_cloud_refuses_when_no_app_secret_is_configured(cloud_instance, cloud_callback, settings):
    settings.CLOUD_APP_SECRET = ""
    assert rejected(cloud, cloud_instance, cloud_callback.headers, cloud_callback.body) == "no app secret configured"


def test_cloud_refuses_a_replayed_signature_on_another_body(cloud_instance, fake_cloud, cloud_callback):
    other = fake_cloud.inbound(cloud_instance.provider_ref, phone="+16505551234", text="STOP")
    assert rejected(cloud, cloud_instance, cloud_callback.headers, other.body) == "invalid signature"


def test_cloud_an_identical_replay_verifies_but_deduplicates(cloud_instance, cloud_callback):
    for _ in range(2):
        cloud.verify_callback(cloud_instance, headers=cloud_callback.headers, body=cloud_callback.body)
    first = cloud.parse_callback(cloud_instance, headers=cloud_callback.headers, body=cloud_callback.body)
    again = cloud.parse_callback(cloud_instance, headers=cloud_callback.headers, body=cloud_callback.body)
    assert [e.dedup_key for e in first] == [e.dedup_key for e in again] != [None]
