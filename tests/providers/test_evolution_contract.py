"""Contract tests: the exact HTTP calls the Evolution adapter makes against the local fake of Evolution API v2."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
import time_machine

from tests.factories import make_instance
from tests.providers.conftest import store_created
from tests.providers.helpers import fixture_json
from whatsapp_gateway.instances.models import InstanceState
from whatsapp_gateway.instances.services import instance_connect
from whatsapp_gateway.providers.base import MessageStatusUpdate, ProviderError
from whatsapp_gateway.providers.evolution.adapter import WEBHOOK_EVENTS
from whatsapp_gateway.providers.http import use_transport
from whatsapp_gateway.providers.registry import get_provider

pytestmark = pytest.mark.django_db
evolution = get_provider("evolution")


def test_it_creates_the_instance_with_the_global_key_and_a_nested_webhook(owner_alice, fake_evolution, settings):
    instance = make_instance(owner_alice.account, provider="evolution")

    result = evolution.create_instance(instance)

    create, find = fake_evolution.requests
    assert (create.method, create.path) == ("POST", "/instance/create")
    assert create.header("apikey") == fake_evolution.api_key
    assert create.header("content-type") == "application/json"
    webhook_secret = result.credentials["webhook_secret"]
    assert create.json == {
        "instanceName": instance.public_id,
        "integration": "WHATSAPP-BAILEYS",
        "token": result.credentials["token"],
        "qrcode": False,
        "rejectCall": False,
        "groupsIgnore": False,
        "alwaysOnline": False,
        "readMessages": False,
        "readStatus": False,
        "syncFullHistory": False,
        "webhook": {
            "url": f"{settings.GATEWAY_BASE_URL}/providers/evolution/callback/{instance.callback_token}",
            "byEvents": False,
            "base64": False,
            "headers": {"jwt_key": webhook_secret},
            "events": WEBHOOK_EVENTS,
        },
    }
    assert (find.method, find.path) == ("GET", f"/webhook/find/{instance.public_id}")
    assert find.header("apikey") == result.credentials["token"]
    assert result.provider_ref == instance.public_id
    assert len(webhook_secret) >= 40 and len(result.credentials["token"]) >= 40


def test_it_keeps_the_token_evolution_issues_in_hash(owner_alice, fake_evolution):
    instance = make_instance(owner_alice.account, provider="evolution")

    def issue_own_token(request):
        response = fake_evolution.handle(request)
        if request.url.path == "/instance/create":
            body = response.json()
            fake_evolution.instances[body["instance"]["instanceName"]].token = "SERVER-ISSUED"
            body["hash"] = "SERVER-ISSUED"
            return httpx.Response(201, json=body)
        return response

    with use_transport(httpx.MockTransport(issue_own_token)):
        result = evolution.create_instance(instance)

    assert result.credentials["token"] == "SERVER-ISSUED"


def test_it_sets_the_webhook_when_create_ignored_it(owner_alice, fake_evolution, settings):
    fake_evolution.ignore_webhook_on_create = True
    instance = make_instance(owner_alice.account, provider="evolution")

    result = evolution.create_instance(instance)

    set_call = fake_evolution.calls("POST", f"/webhook/set/{instance.public_id}")[0]
    assert set_call.header("apikey") == result.credentials["token"]
    assert set_call.json == {
        "webhook": {
            "enabled": True,
            "url": f"{settings.GATEWAY_BASE_URL}/providers/evolution/callback/{instance.callback_token}",
            "byEvents": False,
            "base64": False,
            "headers": {"jwt_key": result.credentials["webhook_secret"]},
            "events": WEBHOOK_EVENTS,
        }
    }
    assert fake_evolution.instances[instance.public_id].webhook["url"].endswith(instance.callback_token)


def test_a_duplicate_instance_name_is_a_permanent_error(owner_alice, fake_evolution):
    instance = make_instance(owner_alice.account, provider="evolution")
    evolution.create_instance(instance)

    with pytest.raises(ProviderError) as caught:
        evolution.create_instance(instance)

    assert caught.value.permanent and caught.value.code == "instance_exists"


def test_create_needs_the_global_key(owner_alice, fake_evolution, settings):
    settings.EVOLUTION_API_KEY = ""
    with pytest.raises(ProviderError) as caught:
        evolution.create_instance(make_instance(owner_alice.account, provider="evolution"))
    assert caught.value.code == "provider_not_configured" and not caught.value.permanent
    assert fake_evolution.requests == []


def test_it_asks_for_a_qr_code_with_the_instance_token(evolution_instance, fake_evolution):
    with time_machine.travel(dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC), tick=False):
        result = evolution.connect(evolution_instance)

    (call,) = fake_evolution.requests
    assert (call.method, call.path, call.params) == ("GET", f"/instance/connect/{evolution_instance.provider_ref}", {})
    assert call.header("apikey") == fake_evolution.instances[evolution_instance.provider_ref].token
    assert call.header("apikey") != fake_evolution.api_key
    assert result.state == InstanceState.PAIRING
    assert result.qr_payload == f"2@fakeqr1,{evolution_instance.provider_ref}"
    assert result.pairing_code == ""
    assert result.expires_at == dt.datetime(2026, 3, 1, 12, 0, 40, tzinfo=dt.UTC)


@pytest.fixture
def no_pairing_wait(monkeypatch):
    monkeypatch.setattr("whatsapp_gateway.providers.evolution.adapter.PAIRING_POLL_SECONDS", 0)


def test_it_asks_for_a_pairing_code_for_a_phone_number_and_waits_for_it(
    evolution_instance, fake_evolution, no_pairing_wait
):
    """From ``close`` Evolution answers the QR first; the code follows about a second later."""
    result = evolution.connect(evolution_instance, phone_number="+5511900001111")

    ref = evolution_instance.provider_ref
    assert [(c.method, c.path, c.params) for c in fake_evolution.requests] == [
        ("GET", f"/instance/connectionState/{ref}", {}),
        ("GET", f"/instance/connect/{ref}", {"number": "5511900001111"}),
        ("GET", f"/instance/connect/{ref}", {"number": "5511900001111"}),
    ]
    assert result.pairing_code == "WZYEH1YY" and result.qr_payload


def test_a_code_for_a_session_already_connecting_restarts_it_with_the_number(
    evolution_instance, fake_evolution, no_pairing_wait
):
    """A connecting session ignores ``number`` and answers its QR with ``pairingCode: null``: log it out first."""
    evolution.connect(evolution_instance)  # a QR code was shown first: the session is connecting
    fake_evolution.requests.clear()
    result = evolution.connect(evolution_instance, phone_number="+5511900001111")

    ref = evolution_instance.provider_ref
    assert [(c.method, c.path) for c in fake_evolution.requests][:3] == [
        ("GET", f"/instance/connectionState/{ref}"),
        ("DELETE", f"/instance/logout/{ref}"),
        ("GET", f"/instance/connectionState/{ref}"),
    ]
    assert result.pairing_code == "WZYEH1YY"


def test_when_the_provider_gives_no_code_the_customer_is_told(evolution_instance, fake_evolution, no_pairing_wait):
    fake_evolution.pairing_code_ready = False
    instance = instance_connect(instance=evolution_instance, phone_number="+5511900001111")
    assert instance.state == InstanceState.PAIRING and instance.pairing_code == "" and instance.qr_payload
    assert instance.state_reason.startswith("The provider gave no pairing code")


def test_history_brings_back_delivered_and_read_statuses(evolution_instance, fake_evolution):
    """Evolution stores each messages.update on the message (``status``): a lost read receipt is reconciled."""
    (record,) = fixture_json("evolution", "find_messages_read")["messages"]["records"]
    fake_evolution.instances[evolution_instance.provider_ref].messages.append(record)
    since = dt.datetime.fromtimestamp(record["messageTimestamp"] - 60, tz=dt.UTC)
    with time_machine.travel(since + dt.timedelta(minutes=5), tick=False):
        events = evolution.fetch_recent_messages(evolution_instance, since=since)
    statuses = [e for e in events if isinstance(e, MessageStatusUpdate)]
    assert [(e.provider_message_id, e.status) for e in statuses] == [("3EB0C431C26A1916E07E", "read")]


def test_connect_on_an_open_instance_reports_connected(evolution_instance, fake_evolution):
    fake_evolution.instances[evolution_instance.provider_ref].state = "open"
    assert evolution.connect(evolution_instance).state == InstanceState.CONNECTED


def test_connect_without_a_qr_yet_is_retryable(evolution_instance, fake_evolution):
    fake_evolution.qr_ready = False
    with pytest.raises(ProviderError) as caught:
        evolution.connect(evolution_instance)
    assert caught.value.code == "qr_not_ready" and not caught.value.permanent


def test_connection_state_reads_the_owner_of_an_open_instance(evolution_instance, fake_evolution):
    fake_evolution.pair(evolution_instance.provider_ref, phone="+5511900001111", profile_name="Acme")
    fake_evolution.clear()

    result = evolution.connection_state(evolution_instance)

    state_call, details = fake_evolution.requests
    token = fake_evolution.instances[evolution_instance.provider_ref].token
    assert (state_call.method, state_call.path) == (
        "GET",
        f"/instance/connectionState/{evolution_instance.provider_ref}",
    )
    assert (details.method, details.path, details.params) == (
        "GET",
        "/instance/fetchInstances",
        {"instanceName": evolution_instance.provider_ref},
    )
    assert state_call.header("apikey") == token and details.header("apikey") == token
    assert (result.state, result.phone_number, result.profile_name) == (
        InstanceState.CONNECTED,
        "+5511900001111",
        "Acme",
    )


@pytest.mark.parametrize(
    ("evolution_state", "expected"),
    [("connecting", InstanceState.PAIRING), ("close", InstanceState.DISCONNECTED)],
)
def test_connection_state_maps_other_states(evolution_instance, fake_evolution, evolution_state, expected):
    fake_evolution.instances[evolution_instance.provider_ref].state = evolution_state
    result = evolution.connection_state(evolution_instance)
    assert result.state == expected
    assert len(fake_evolution.requests) == 1


def test_restart_of_a_closed_instance_reads_the_http_200_error_body(evolution_instance, fake_evolution):
    with pytest.raises(ProviderError) as caught:
        evolution.restart(evolution_instance)

    (call,) = fake_evolution.requests
    assert (call.method, call.path) == ("POST", f"/instance/restart/{evolution_instance.provider_ref}")
    assert caught.value.code == "provider_error" and not caught.value.permanent
    assert "[object Object]" in caught.value.message


def test_connect_answered_with_an_http_200_error_body_is_an_error_not_a_qr_code(evolution_instance, fake_evolution):
    """``/instance/connect`` catches its own thrown object like restart does: 200 ``{"error": true}``."""

    def broken_connect(request):
        if request.url.path.startswith("/instance/connect/"):
            return httpx.Response(200, json={"error": True, "message": "[object Object]"})
        return fake_evolution.handle(request)

    with use_transport(httpx.MockTransport(broken_connect)), pytest.raises(ProviderError) as caught:
        evolution.connect(evolution_instance)

    assert caught.value.code == "provider_error" and not caught.value.permanent
    assert "could not start pairing" in caught.value.message


def test_restart_of_an_open_instance_succeeds(evolution_instance, fake_evolution):
    fake_evolution.instances[evolution_instance.provider_ref].state = "open"
    evolution.restart(evolution_instance)
    assert fake_evolution.requests[0].header("apikey") != fake_evolution.api_key


def test_logout_calls_delete_logout_and_tolerates_not_connected(evolution_instance, fake_evolution):
    ref = evolution_instance.provider_ref
    fake_evolution.instances[ref].state = "open"

    evolution.logout(evolution_instance)
    evolution.logout(evolution_instance)  # now "not connected": 400, still logged out

    first, second = fake_evolution.requests
    assert (first.method, first.path) == ("DELETE", f"/instance/logout/{ref}")
    assert second.path == first.path
    assert fake_evolution.instances[ref].state == "close"


def fake_evolution_token(instance) -> str:
    import json

    return json.loads(instance.provider_credentials)["token"]


def test_delete_removes_the_instance(evolution_instance, fake_evolution):
    ref = evolution_instance.provider_ref

    evolution.delete_instance(evolution_instance)

    (call,) = fake_evolution.requests
    assert (call.method, call.path) == ("DELETE", f"/instance/delete/{ref}")
    assert call.header("apikey") == fake_evolution_token(evolution_instance)
    assert ref not in fake_evolution.instances


def test_delete_of_an_instance_evolution_does_not_know_succeeds(evolution_instance):
    not_found = {"status": 404, "error": "Not Found", "response": {"message": ["The instance does not exist"]}}
    with use_transport(httpx.MockTransport(lambda request: httpx.Response(404, json=not_found))):
        evolution.delete_instance(evolution_instance)


def test_send_text_posts_number_text_and_typing_delay(evolution_instance, fake_evolution):
    ref = evolution_instance.provider_ref
    fake_evolution.instances[ref].state = "open"

    result = evolution.send_text(evolution_instance, to="+5511988887777", text="Your order shipped", typing_ms=1200)

    (call,) = fake_evolution.requests
    assert (call.method, call.path) == ("POST", f"/message/sendText/{ref}")
    assert call.header("apikey") == fake_evolution.instances[ref].token
    assert call.json == {"number": "5511988887777", "text": "Your order shipped", "linkPreview": False, "delay": 1200}
    assert result.status == "sent"
    assert result.provider_message_id == fake_evolution.instances[ref].messages[0]["key"]["id"]


def test_send_text_without_typing_sends_no_delay(evolution_instance, fake_evolution):
    evolution.send_text(evolution_instance, to="+5511988887777", text="Hi")
    assert fake_evolution.requests[0].json == {"number": "5511988887777", "text": "Hi", "linkPreview": False}


def test_a_number_not_on_whatsapp_is_a_permanent_error(evolution_instance, fake_evolution):
    fake_evolution.not_on_whatsapp.add("5511977776666")

    with pytest.raises(ProviderError) as caught:
        evolution.send_text(evolution_instance, to="+5511977776666", text="Hi")

    assert caught.value.permanent and caught.value.code == "not_on_whatsapp"


def test_only_create_uses_the_global_key(owner_alice, fake_evolution):
    instance = make_instance(owner_alice.account, provider="evolution")
    instance = store_created(instance, evolution.create_instance(instance))
    evolution.connect(instance)
    fake_evolution.instances[instance.provider_ref].state = "open"
    evolution.connection_state(instance)
    evolution.send_text(instance, to="+5511988887777", text="Hi")
    evolution.restart(instance)
    evolution.logout(instance)
    evolution.delete_instance(instance)

    global_key_calls = [r.path for r in fake_evolution.requests if r.header("apikey") == fake_evolution.api_key]
    assert global_key_calls == ["/instance/create"]
    assert len(fake_evolution.requests) == 9


def test_server_errors_and_timeouts_are_retryable(evolution_instance, fake_evolution):
    def failing(request):
        return httpx.Response(502, text="Bad Gateway")

    with use_transport(httpx.MockTransport(failing)), pytest.raises(ProviderError) as caught:
        evolution.send_text(evolution_instance, to="+5511988887777", text="Hi")
    assert not caught.value.permanent and caught.value.code == "provider_unavailable"

    def timeout(request):
        raise httpx.ReadTimeout("slow", request=request)

    with use_transport(httpx.MockTransport(timeout)), pytest.raises(ProviderError) as caught:
        evolution.send_text(evolution_instance, to="+5511988887777", text="Hi")
    assert not caught.value.permanent and caught.value.code == "provider_timeout"


def test_a_token_evolution_no_longer_knows_is_a_retryable_credentials_error(evolution_instance, fake_evolution):
    del fake_evolution.instances[evolution_instance.provider_ref]
    with pytest.raises(ProviderError) as caught:
        evolution.send_text(evolution_instance, to="+5511988887777", text="Hi")
    assert caught.value.code == "provider_auth_failed" and not caught.value.permanent


def test_an_unconfigured_evolution_is_a_retryable_configuration_error(evolution_instance, settings):
    settings.EVOLUTION_BASE_URL = ""
    with pytest.raises(ProviderError) as caught:
        evolution.send_text(evolution_instance, to="+5511988887777", text="Hi")
    assert caught.value.code == "provider_not_configured" and not caught.value.permanent


def test_history_is_read_with_find_messages_between_since_and_now(evolution_instance, fake_evolution):
    ref = evolution_instance.provider_ref
    fake_evolution.instances[ref].state = "open"
    fake_evolution.inbound(ref, phone="+5511988887777", text="Where is my order?")

    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5), tick=False):
        events = evolution.fetch_recent_messages(evolution_instance, since=since)
        until = dt.datetime.now(dt.UTC)

    (call,) = fake_evolution.requests
    assert (call.method, call.path) == ("POST", f"/chat/findMessages/{ref}")
    assert call.header("apikey") == fake_evolution.instances[ref].token
    assert call.json == {
        "where": {
            "messageTimestamp": {
                "gte": since.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "lte": until.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            }
        },
        "page": 1,
        "offset": 50,
    }
    (event,) = events
    assert (event.text, event.sender_phone, event.from_me) == ("Where is my order?", "+5511988887777", False)
