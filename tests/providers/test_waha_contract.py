"""Contract tests: the exact HTTP calls the WAHA adapter makes against the local fake of WAHA."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
import time_machine

from tests.factories import make_instance
from tests.providers.conftest import store_created
from whatsapp_gateway.instances.models import InstanceState
from whatsapp_gateway.providers.base import ProviderError
from whatsapp_gateway.providers.http import use_transport
from whatsapp_gateway.providers.registry import get_provider
from whatsapp_gateway.providers.waha.adapter import WEBHOOK_EVENTS

pytestmark = pytest.mark.django_db
waha = get_provider("waha")


def session_key(instance) -> str:
    return json.loads(instance.provider_credentials)["api_key"]


def test_it_creates_a_started_session_with_a_signed_webhook_and_mints_a_session_key(owner_alice, fake_waha, settings):
    instance = make_instance(owner_alice.account, provider="waha")

    result = waha.create_instance(instance)

    create, mint = fake_waha.requests
    assert (create.method, create.path) == ("POST", "/api/sessions")
    assert create.header("x-api-key") == fake_waha.api_key
    assert create.json == {
        "name": instance.public_id,
        "start": True,
        "config": {
            "metadata": {"gateway.instance_id": instance.public_id},
            "webhooks": [
                {
                    "url": f"{settings.GATEWAY_BASE_URL}/providers/waha/callback/{instance.callback_token}",
                    "events": WEBHOOK_EVENTS,
                    "hmac": {"key": result.credentials["hmac_key"]},
                    "retries": {"policy": "exponential", "delaySeconds": 2, "attempts": 8},
                    "customHeaders": [],
                }
            ],
        },
    }
    assert (mint.method, mint.path) == ("POST", "/api/keys")
    assert mint.header("x-api-key") == fake_waha.api_key
    assert mint.json == {
        "isAdmin": False,
        "session": instance.public_id,
        "isActive": True,
        "actions": {"read": True, "send": True, "control": True, "setting": False, "app": False, "delete": False},
    }
    (key,) = fake_waha.keys.values()
    assert result.credentials == {
        "hmac_key": result.credentials["hmac_key"],
        "api_key": key["key"],
        "api_key_id": key["id"],
    }
    assert len(result.credentials["hmac_key"]) >= 40


def test_without_a_keys_api_the_session_uses_the_master_key(owner_alice, fake_waha):
    fake_waha.keys_api = False
    instance = make_instance(owner_alice.account, provider="waha")
    instance = store_created(instance, waha.create_instance(instance))
    fake_waha.clear()

    waha.connection_state(instance)

    assert set(json.loads(instance.provider_credentials)) == {"hmac_key"}
    assert fake_waha.requests[0].header("x-api-key") == fake_waha.api_key


def test_a_duplicate_session_is_a_permanent_error(owner_alice, fake_waha):
    instance = make_instance(owner_alice.account, provider="waha")
    waha.create_instance(instance)
    with pytest.raises(ProviderError) as caught:
        waha.create_instance(instance)
    assert caught.value.permanent and caught.value.code == "instance_exists"


def test_connect_returns_the_raw_qr_code_when_the_session_waits_for_a_scan(waha_instance, fake_waha):
    fake_waha.sessions[waha_instance.provider_ref].status = "SCAN_QR_CODE"
    ref = waha_instance.provider_ref

    with time_machine.travel(dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC), tick=False):
        result = waha.connect(waha_instance)

    get, qr = fake_waha.requests
    assert (get.method, get.path) == ("GET", f"/api/sessions/{ref}")
    assert (qr.method, qr.path, qr.params) == ("GET", f"/api/{ref}/auth/qr", {"format": "raw"})
    assert qr.header("accept") == "application/json"
    assert {get.header("x-api-key"), qr.header("x-api-key")} == {session_key(waha_instance)}
    assert result.state == InstanceState.PAIRING
    assert result.qr_payload == f"2@wahaqr,{ref}"
    assert result.expires_at == dt.datetime(2026, 3, 1, 12, 0, 40, tzinfo=dt.UTC)


def test_connect_while_starting_waits_for_the_session_status_callback(waha_instance, fake_waha):
    result = waha.connect(waha_instance)
    assert (result.state, result.qr_payload) == (InstanceState.PAIRING, "")
    assert len(fake_waha.requests) == 1


def test_connect_starts_a_stopped_session(waha_instance, fake_waha):
    ref = waha_instance.provider_ref
    fake_waha.sessions[ref].status = "STOPPED"

    result = waha.connect(waha_instance)

    assert [(r.method, r.path) for r in fake_waha.requests] == [
        ("GET", f"/api/sessions/{ref}"),
        ("POST", f"/api/sessions/{ref}/start"),
        ("GET", f"/api/{ref}/auth/qr"),
    ]
    assert result.qr_payload


def test_connect_restarts_a_failed_session(waha_instance, fake_waha):
    ref = waha_instance.provider_ref
    fake_waha.sessions[ref].status = "FAILED"
    waha.connect(waha_instance)
    assert ("POST", f"/api/sessions/{ref}/restart") in [(r.method, r.path) for r in fake_waha.requests]


def test_connect_requests_a_pairing_code_for_a_phone_number(waha_instance, fake_waha):
    ref = waha_instance.provider_ref
    fake_waha.sessions[ref].status = "SCAN_QR_CODE"

    result = waha.connect(waha_instance, phone_number="+12132132130")

    request_code = fake_waha.requests[-1]
    assert (request_code.method, request_code.path) == ("POST", f"/api/{ref}/auth/request-code")
    assert request_code.json == {"phoneNumber": "12132132130"}
    assert request_code.header("x-api-key") == session_key(waha_instance)
    assert (result.state, result.pairing_code) == (InstanceState.PAIRING, "ABCD-ABCD")


def test_connect_on_a_working_session_reports_connected(waha_instance, fake_waha):
    fake_waha.sessions[waha_instance.provider_ref].status = "WORKING"
    assert waha.connect(waha_instance).state == InstanceState.CONNECTED


def test_connection_state_reads_status_and_me(waha_instance, fake_waha):
    session = fake_waha.sessions[waha_instance.provider_ref]
    session.status, session.me = "WORKING", {"id": "5511900001111@c.us", "pushName": "Acme"}

    result = waha.connection_state(waha_instance)

    (call,) = fake_waha.requests
    assert (call.method, call.path) == ("GET", f"/api/sessions/{waha_instance.provider_ref}")
    assert (result.state, result.phone_number, result.profile_name) == (
        InstanceState.CONNECTED,
        "+5511900001111",
        "Acme",
    )


@pytest.mark.parametrize("action", ["start", "stop", "restart", "logout"])
def test_session_actions_post_to_their_endpoint_with_the_session_key(waha_instance, fake_waha, action):
    getattr(waha, action)(waha_instance)

    (call,) = fake_waha.requests
    assert (call.method, call.path) == ("POST", f"/api/sessions/{waha_instance.provider_ref}/{action}")
    assert call.header("x-api-key") == session_key(waha_instance)


def test_delete_uses_the_master_key_and_revokes_the_session_key(waha_instance, fake_waha):
    ref = waha_instance.provider_ref
    key_id = json.loads(waha_instance.provider_credentials)["api_key_id"]

    waha.delete_instance(waha_instance)

    delete, revoke = fake_waha.requests
    assert (delete.method, delete.path, delete.header("x-api-key")) == (
        "DELETE",
        f"/api/sessions/{ref}",
        fake_waha.api_key,
    )
    assert (revoke.method, revoke.path, revoke.header("x-api-key")) == (
        "DELETE",
        f"/api/keys/{key_id}",
        fake_waha.api_key,
    )
    assert ref not in fake_waha.sessions and fake_waha.keys == {}


def test_send_text_checks_the_number_then_sends_to_the_returned_chat_id(waha_instance, fake_waha):
    ref = waha_instance.provider_ref
    session = fake_waha.sessions[ref]
    session.status, session.me = "WORKING", {"id": "5511900001111@c.us", "pushName": "Acme"}
    fake_waha.chat_id_rewrites["5511988887777"] = "551188887777@c.us"  # Brazil: WhatsApp knows it without the 9

    result = waha.send_text(waha_instance, to="+5511988887777", text="Your order shipped", typing_ms=1500)

    check, send = fake_waha.requests
    assert (check.method, check.path, check.params) == (
        "GET",
        "/api/contacts/check-exists",
        {"phone": "5511988887777", "session": ref},
    )
    assert (send.method, send.path) == ("POST", "/api/sendText")
    assert send.json == {
        "session": ref,
        "chatId": "551188887777@c.us",
        "text": "Your order shipped",
        "linkPreview": False,
    }
    assert {check.header("x-api-key"), send.header("x-api-key")} == {session_key(waha_instance)}
    sent_id = session.messages["551188887777@c.us"][0]["id"]
    assert result.provider_message_id == sent_id.split("_")[2] and result.status == "sent"


def test_a_number_not_on_whatsapp_is_a_permanent_error_and_nothing_is_sent(waha_instance, fake_waha):
    fake_waha.sessions[waha_instance.provider_ref].status = "WORKING"
    fake_waha.not_on_whatsapp.add("5511977776666")

    with pytest.raises(ProviderError) as caught:
        waha.send_text(waha_instance, to="+5511977776666", text="Hi")

    assert caught.value.permanent and caught.value.code == "not_on_whatsapp"
    assert fake_waha.calls("POST", "/api/sendText") == []


def test_sending_on_a_session_that_is_not_working_is_retryable(waha_instance, fake_waha):
    with pytest.raises(ProviderError) as caught:
        waha.send_text(waha_instance, to="+5511988887777", text="Hi")
    assert not caught.value.permanent and caught.value.code == "instance_not_connected"


def test_a_wrong_key_is_a_retryable_credentials_error(waha_instance, fake_waha):
    fake_waha.keys.clear()
    with pytest.raises(ProviderError) as caught:
        waha.connection_state(waha_instance)
    assert not caught.value.permanent and caught.value.code == "provider_auth_failed"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"key": {"remoteJid": "5511988887777@s.whatsapp.net", "fromMe": True, "id": "3EB0NOWEB"}}, "3EB0NOWEB"),
        ({"id": "true_5511988887777@c.us_3EB0GOWS"}, "3EB0GOWS"),
        ({"id": {"fromMe": True, "id": "3EB0WEBJS", "_serialized": "true_5511988887777@c.us_3EB0WEBJS"}}, "3EB0WEBJS"),
    ],
)
def test_send_responses_of_every_engine_give_the_bare_message_id(waha_instance, fake_waha, body, expected):
    def engine(request):
        if request.url.path == "/api/sendText":
            return httpx.Response(201, json=body)
        return fake_waha.handle(request)

    fake_waha.sessions[waha_instance.provider_ref].status = "WORKING"
    with use_transport(httpx.MockTransport(engine)):
        result = waha.send_text(waha_instance, to="+5511988887777", text="Hi")
    assert result.provider_message_id == expected


def test_history_reads_active_chats_then_their_messages_since(waha_instance, fake_waha):
    ref = waha_instance.provider_ref
    session = fake_waha.sessions[ref]
    session.status, session.me = "WORKING", {"id": "5511900001111@c.us", "pushName": "Acme"}
    fake_waha.inbound(ref, phone="+5511988887777", text="Where is my order?")
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)

    events = waha.fetch_recent_messages(waha_instance, since=since)

    overview, messages = fake_waha.requests
    assert (overview.method, overview.path, overview.params) == ("GET", f"/api/{ref}/chats/overview", {"limit": "50"})
    assert (messages.method, messages.path) == ("GET", f"/api/{ref}/chats/5511988887777@c.us/messages")
    assert messages.params == {
        "limit": "100",
        "downloadMedia": "false",
        "filter.timestamp.gte": str(int(since.timestamp())),
    }
    assert {overview.header("x-api-key"), messages.header("x-api-key")} == {session_key(waha_instance)}
    (event,) = events
    assert (event.text, event.sender_phone) == ("Where is my order?", "+5511988887777")
