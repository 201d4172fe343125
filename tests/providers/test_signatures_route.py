"""The signature matrix through the real callback route, for each real provider: a valid signature is stored and
answered 200; an invalid, missing or replayed one is answered 401, stored nowhere and counted as a rejection.

What "replayed" means per provider (``test_signatures.py`` has the unit-level cases):
- Evolution: a captured ``Authorization: Bearer`` JWT used after it expired (Evolution signs for 10 minutes).
- WAHA: a correctly signed event whose signed ``timestamp`` is older than ``WAHA_WEBHOOK_MAX_AGE_SECONDS``.
- Cloud: Meta's signature covers only the body, and Meta itself retries for days, so an identical replay is
  answered 200 as a duplicate and processed once; a captured signature replayed onto another body is 401.
"""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from tests.providers.conftest import post_callback
from tests.providers.fakes.base import Callback
from tests.providers.fakes.cloud import FakeCloud
from whatsapp_gateway.providers.base import InboundMessage
from whatsapp_gateway.providers.models import CallbackRejection, ProviderCallback
from whatsapp_gateway.providers.signing import sign_hs256_jwt

pytestmark = pytest.mark.django_db
TWO_HOURS = 2 * 3600


def evolution_case(case, instance, fake):
    callback = fake.qr_callback(instance.provider_ref)
    headers = {k: v for k, v in callback.headers.items() if k != "Authorization"}
    if case == "valid":
        return callback
    if case == "invalid":  # a well-formed token signed with someone else's secret
        claims = {"iat": int(time.time()), "exp": int(time.time()) + 600, "app": "evolution", "action": "webhook"}
        return Callback(
            callback.body, {**headers, "Authorization": f"Bearer {sign_hs256_jwt(claims, secret='x' * 43)}"}
        )
    if case == "missing":
        return Callback(callback.body, headers)
    stale = fake.webhook_headers(instance.provider_ref, issued_at=int(time.time()) - TWO_HOURS)
    return Callback(callback.body, {**headers, **stale})


def waha_case(case, instance, fake):
    ref = instance.provider_ref
    if case == "valid":
        return fake.status_callback(ref, "STOPPED")
    if case == "invalid":  # signed with another key
        callback = fake.status_callback(ref, "STOPPED")
        forged = hmac.new(b"not-the-session-key", callback.body, hashlib.sha512).hexdigest()
        return Callback(callback.body, {**callback.headers, "X-Webhook-Hmac": forged})
    if case == "missing":
        callback = fake.status_callback(ref, "STOPPED")
        return Callback(
            callback.body, {k: v for k, v in callback.headers.items() if not k.startswith("X-Webhook-Hmac")}
        )
    two_hours_ago_ms = int((time.time() - TWO_HOURS) * 1000)
    return fake.callback(ref, "session.status", {"status": "STOPPED"}, timestamp_ms=two_hours_ago_ms)


def cloud_case(case, instance, fake):
    callback = fake.inbound(instance.provider_ref, phone="+16505551234", text="hi")
    if case == "valid":
        return callback
    if case == "invalid":
        return Callback(callback.body, FakeCloud(app_secret="not-ours").sign(callback.body))
    if case == "missing":
        return Callback(callback.body, {"Content-Type": "application/json"})
    # A captured signature replayed onto another body.
    stop = fake.inbound(instance.provider_ref, phone="+16505551234", text="STOP")
    return Callback(stop.body, callback.headers)


CASES = {"evolution": evolution_case, "waha": waha_case, "cloud": cloud_case}
REASONS = {
    ("evolution", "invalid"): "invalid signature",
    ("evolution", "missing"): "missing Authorization bearer token",
    ("evolution", "replayed"): "token expired (replayed callback?)",
    ("waha", "invalid"): "invalid signature",
    ("waha", "missing"): "missing signature",
    ("waha", "replayed"): "event is too old (replayed callback?)",
    ("cloud", "invalid"): "invalid signature",
    ("cloud", "missing"): "missing signature",
    ("cloud", "replayed"): "invalid signature",
}


def rejections(provider: str) -> dict[str, int]:
    return dict(CallbackRejection.objects.filter(provider=provider).values_list("reason", "count"))


@pytest.mark.parametrize("case", ["valid", "invalid", "missing", "replayed"])
@pytest.mark.parametrize("provider", ["evolution", "waha", "cloud"])
def test_signature_matrix_through_the_route(provider, case, request, client):
    fake = request.getfixturevalue(f"fake_{provider}")
    instance = request.getfixturevalue(f"{provider}_instance")
    callback = CASES[provider](case, instance, fake)

    response = post_callback(client, instance, callback)

    stored = ProviderCallback.objects.filter(instance=instance).count()
    if case == "valid":
        assert response.status_code == 200, response.content
        assert response.json()["success"] is True
        assert stored == 1 and rejections(provider) == {}
        return
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_callback"
    assert stored == 0
    assert rejections(provider) == {REASONS[provider, case][:40]: 1}


def test_cloud_an_identical_replay_is_a_duplicate_processed_once(
    cloud_instance, fake_cloud, client, events_seen, django_capture_on_commit_callbacks
):
    callback = fake_cloud.inbound(cloud_instance.provider_ref, phone="+16505551234", text="hi")
    with django_capture_on_commit_callbacks(execute=True):
        first = post_callback(client, cloud_instance, callback)
        replay = post_callback(client, cloud_instance, callback)

    assert (first.status_code, replay.status_code) == (200, 200)
    assert replay.json() == {"success": True, "duplicate": True}
    assert ProviderCallback.objects.filter(instance=cloud_instance).count() == 1
    assert [e.text for e in events_seen if isinstance(e, InboundMessage)] == ["hi"]
    assert rejections("cloud") == {}
