"""Every HTTP call each adapter makes, over a real socket, asserted exactly and in order.

Each provider's local fake (``tests/providers/fakes``) is served by an HTTP server on 127.0.0.1 and the adapter uses
its ordinary httpx client (no mock transport), so this is the wire contract: method, path, query string, headers
(all of them, apart from the transport's own ``host`` / ``user-agent`` / ``accept-encoding`` / ``connection`` /
``content-length``) and JSON body of every request, for every operation of the adapter. The JSON is written out
literally here, not built from the adapter's constants, so a change to what we send fails this test.

Each test then reads its adapter's source and checks that every call site there (``self._call`` /
``self._graph``) appears in the ledger: a new provider call cannot be added without a contract assertion.

The server binds ``PROVIDER_FAKE_SERVER_PORT`` when set (a port of your own range), else a free port.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import os
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import time_machine

from tests.factories import make_instance
from tests.providers.conftest import store_created
from tests.providers.fakes.base import FakeApi
from tests.providers.fakes.cloud import WABA_ID, FakeCloud
from tests.providers.fakes.evolution import FakeEvolution
from tests.providers.fakes.waha import FakeWaha
from whatsapp_gateway.instances.models import InstanceState
from whatsapp_gateway.providers import cloud as cloud_package
from whatsapp_gateway.providers import evolution as evolution_package
from whatsapp_gateway.providers import waha as waha_package
from whatsapp_gateway.providers.base import InboundMessage, QrUpdate
from whatsapp_gateway.providers.cloud import adapter as cloud_adapter
from whatsapp_gateway.providers.http import use_transport
from whatsapp_gateway.providers.registry import get_provider

pytestmark = pytest.mark.django_db

OWN = "+5511900001111"
CUSTOMER = "+5511988887777"
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
SINCE = NOW - dt.timedelta(hours=1)
TRANSPORT_HEADERS = {"host", "user-agent", "accept-encoding", "connection", "content-length"}
JSON_HEADERS = {"accept": "*/*", "content-type": "application/json"}
PLAIN_HEADERS = {"accept": "*/*"}


class FakeServer:
    """Serves a ``FakeApi`` over real HTTP: each request is handed to the fake exactly as it arrived."""

    def __init__(self, fake: FakeApi) -> None:
        self.fake = fake
        handler = self._handler_class()
        self.server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PROVIDER_FAKE_SERVER_PORT", "0"))), handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self.fake

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = httpx.Request(
                    self.command,
                    f"http://{self.headers.get('Host', '127.0.0.1')}{self.path}",
                    headers=list(self.headers.items()),
                    content=self.rfile.read(length) if length else b"",
                )
                response = fake.handle(request)
                content = response.content
                self.send_response(response.status_code)
                for name, value in response.headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:  # keep the test output clean
                pass

        return Handler

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def serve() -> Iterator[Any]:
    """``serve(fake)`` starts the fake's HTTP server and returns its base URL; provider calls go over the network."""
    servers: list[FakeServer] = []

    def start(fake: FakeApi) -> str:
        server = FakeServer(fake).__enter__()
        servers.append(server)
        return server.base_url

    with use_transport(httpx.HTTPTransport()):
        yield start
    for server in servers:
        server.__exit__(None, None, None)


def ledger(fake: FakeApi) -> list[dict[str, Any]]:
    return [
        {
            "method": r.method,
            "path": r.path,
            "query": r.params,
            "headers": {k: v for k, v in r.headers.items() if k not in TRANSPORT_HEADERS},
            "json": r.json,
        }
        for r in fake.requests
    ]


def call(method: str, path: str, headers: dict[str, str], body: Any = None, **query: Any) -> dict[str, Any]:
    return {
        "method": method,
        "path": path,
        "query": {k.replace("__", "."): str(v) for k, v in query.items()},
        "headers": {**(JSON_HEADERS if body is not None else PLAIN_HEADERS), **headers},
        "json": body,
    }


def test_evolution_every_call_over_http(owner_alice, serve, settings, monkeypatch):
    monkeypatch.setattr("whatsapp_gateway.providers.evolution.adapter.PAIRING_POLL_SECONDS", 0)
    fake = FakeEvolution()
    fake.ignore_webhook_on_create = True  # an Evolution build that drops the webhook given at create
    settings.EVOLUTION_BASE_URL = serve(fake)
    settings.EVOLUTION_API_KEY = fake.api_key
    evolution = get_provider("evolution")
    instance = make_instance(owner_alice.account, provider="evolution")

    created = evolution.create_instance(instance)
    instance = store_created(instance, created)
    ref, token, jwt_key = instance.provider_ref, created.credentials["token"], created.credentials["webhook_secret"]
    qr = evolution.connect(instance)
    code = evolution.connect(instance, phone_number=OWN)
    fake.pair(ref, phone=OWN, profile_name="Acme")
    state = evolution.connection_state(instance)
    with time_machine.travel(NOW, tick=False):  # the fake stamps the message with this clock too
        sent = evolution.send_text(instance, to=CUSTOMER, text="Your order #1042 has shipped.", typing_ms=1200)
        history = evolution.fetch_recent_messages(instance, since=SINCE)
    evolution.restart(instance)
    evolution.logout(instance)
    evolution.delete_instance(instance)

    instance_key = {"apikey": token}
    webhook = {
        "url": f"{settings.GATEWAY_BASE_URL}/providers/evolution/callback/{instance.callback_token}",
        "byEvents": False,
        "base64": False,
        "headers": {"jwt_key": jwt_key},
        "events": [
            "QRCODE_UPDATED",
            "CONNECTION_UPDATE",
            "MESSAGES_UPSERT",
            "MESSAGES_UPDATE",
            "SEND_MESSAGE",
            "CALL",
            "GROUPS_UPSERT",
            "GROUP_UPDATE",
            "GROUP_PARTICIPANTS_UPDATE",
        ],
    }
    assert ledger(fake) == [
        call(
            "POST",
            "/instance/create",
            {"apikey": "global-evolution-key"},
            {
                "instanceName": instance.public_id,
                "integration": "WHATSAPP-BAILEYS",
                "token": token,
                "qrcode": False,
                "rejectCall": False,
                "groupsIgnore": False,
                "alwaysOnline": False,
                "readMessages": False,
                "readStatus": False,
                "syncFullHistory": False,
                "webhook": webhook,
            },
        ),
        call("GET", f"/webhook/find/{ref}", instance_key),
        call("POST", f"/webhook/set/{ref}", instance_key, {"webhook": {"enabled": True, **webhook}}),
        call("GET", f"/instance/connect/{ref}", instance_key),
        # A code for a session already showing a QR: log it out, start it again with the number, wait for the code.
        call("GET", f"/instance/connectionState/{ref}", instance_key),
        call("DELETE", f"/instance/logout/{ref}", instance_key),
        call("GET", f"/instance/connectionState/{ref}", instance_key),
        call("GET", f"/instance/connect/{ref}", instance_key, number="5511900001111"),
        call("GET", f"/instance/connect/{ref}", instance_key, number="5511900001111"),
        call("GET", f"/instance/connectionState/{ref}", instance_key),
        call("GET", "/instance/fetchInstances", instance_key, instanceName=ref),
        call(
            "POST",
            f"/message/sendText/{ref}",
            instance_key,
            {"number": "5511988887777", "text": "Your order #1042 has shipped.", "linkPreview": False, "delay": 1200},
        ),
        call(
            "POST",
            f"/chat/findMessages/{ref}",
            instance_key,
            {
                "where": {"messageTimestamp": {"gte": "2026-03-01T11:00:00.000Z", "lte": "2026-03-01T12:00:00.000Z"}},
                "page": 1,
                "offset": 50,
            },
        ),
        call("POST", f"/instance/restart/{ref}", instance_key),
        call("DELETE", f"/instance/logout/{ref}", instance_key),
        call("DELETE", f"/instance/delete/{ref}", instance_key),
    ]
    # …and what the adapter made of the answers.
    assert created.provider_ref == instance.public_id and len(token) >= 40 and len(jwt_key) >= 40
    assert (qr.state, qr.qr_payload, qr.pairing_code) == (InstanceState.PAIRING, f"2@fakeqr1,{ref}", "")
    assert code.qr_payload == f"2@fakeqr2,{ref}"  # the restarted session's QR, with its code
    assert code.pairing_code == "WZYEH1YY"
    assert (state.state, state.phone_number, state.profile_name) == (InstanceState.CONNECTED, OWN, "Acme")
    assert sent.provider_message_id.startswith("3EB0") and sent.status == "sent"
    assert [(e.provider_message_id, e.from_me, e.text) for e in history] == [
        (sent.provider_message_id, True, "Your order #1042 has shipped.")
    ]
    assert ref not in fake.instances
    assert_every_call_site_is_covered(evolution_package, fake)


def test_waha_every_call_over_http(owner_alice, serve, settings):
    fake = FakeWaha()
    settings.WAHA_BASE_URL = serve(fake)
    settings.WAHA_API_KEY = fake.api_key
    waha = get_provider("waha")
    instance = make_instance(owner_alice.account, provider="waha")

    created = waha.create_instance(instance)
    instance = store_created(instance, created)
    ref, hmac_key = instance.provider_ref, created.credentials["hmac_key"]
    session_key, key_id = created.credentials["api_key"], created.credentials["api_key_id"]
    starting = waha.connect(instance)  # STARTING: the QR code follows with session.status
    scan = fake.status_callback(ref, "SCAN_QR_CODE")
    qr_events = waha.parse_callback(instance, headers=scan.headers, body=scan.body)  # fetches the new QR
    qr = waha.connect(instance)
    code = waha.connect(instance, phone_number=OWN)
    fake.pair(ref, phone=OWN, push_name="Acme")
    state = waha.connection_state(instance)
    sent = waha.send_text(instance, to=CUSTOMER, text="Your order #1042 has shipped.")
    fake.sessions[ref].lids["103899771998284@lid"] = "5511977776666@c.us"
    lid_message = fake.callback(
        ref,
        "message",
        {
            "id": "false_103899771998284@lid_3AAA",
            "timestamp": 1772366400,
            "from": "103899771998284@lid",
            "fromMe": False,
            "body": "Hi",
            "hasMedia": False,
            "_data": {"notifyName": "Maria", "type": "chat"},
        },
    )
    (inbound,) = waha.parse_callback(instance, headers=lid_message.headers, body=lid_message.body)
    history = waha.fetch_recent_messages(instance, since=SINCE)
    for action in ("stop", "start", "restart", "logout"):
        getattr(waha, action)(instance)
    waha.delete_instance(instance)

    master, session = {"x-api-key": "waha-master-key"}, {"x-api-key": session_key}
    chat = "5511988887777@c.us"
    assert ledger(fake) == [
        call(
            "POST",
            "/api/sessions",
            master,
            {
                "name": instance.public_id,
                "start": True,
                "config": {
                    "metadata": {"gateway.instance_id": instance.public_id},
                    "webhooks": [
                        {
                            "url": f"{settings.GATEWAY_BASE_URL}/providers/waha/callback/{instance.callback_token}",
                            "events": [
                                "message",
                                "message.any",
                                "message.ack",
                                "session.status",
                                "call.received",
                                "call.accepted",
                                "call.rejected",
                                "group.v2.join",
                                "group.v2.leave",
                                "group.v2.participants",
                                "group.v2.update",
                                "chat.archive",
                            ],
                            "hmac": {"key": hmac_key},
                            "retries": {"policy": "exponential", "delaySeconds": 2, "attempts": 8},
                            "customHeaders": [],
                        }
                    ],
                },
            },
        ),
        call(
            "POST",
            "/api/keys",
            master,
            {
                "isAdmin": False,
                "session": instance.public_id,
                "isActive": True,
                "actions": {
                    "read": True,
                    "send": True,
                    "control": True,
                    "setting": False,
                    "app": False,
                    "delete": False,
                },
            },
        ),
        call("GET", f"/api/sessions/{ref}", session),  # connect while STARTING
        {
            **call("GET", f"/api/{ref}/auth/qr", session, format="raw"),
            "headers": {**session, "accept": "application/json"},
        },
        call("GET", f"/api/sessions/{ref}", session),  # connect while SCAN_QR_CODE
        {
            **call("GET", f"/api/{ref}/auth/qr", session, format="raw"),
            "headers": {**session, "accept": "application/json"},
        },
        call("GET", f"/api/sessions/{ref}", session),  # connect with a phone number
        call("POST", f"/api/{ref}/auth/request-code", session, {"phoneNumber": "5511900001111"}),
        call("GET", f"/api/sessions/{ref}", session),  # connection_state
        call("GET", "/api/contacts/check-exists", session, phone="5511988887777", session=ref),
        call(
            "POST",
            "/api/sendText",
            session,
            {"session": ref, "chatId": chat, "text": "Your order #1042 has shipped.", "linkPreview": False},
        ),
        call("GET", f"/api/{ref}/lids/103899771998284@lid", session),
        call("GET", f"/api/{ref}/chats/overview", session, limit=50),
        call(
            "GET",
            f"/api/{ref}/chats/{chat}/messages",
            session,
            limit=100,
            downloadMedia="false",
            filter__timestamp__gte=int(SINCE.timestamp()),
        ),
        call("POST", f"/api/sessions/{ref}/stop", session),
        call("POST", f"/api/sessions/{ref}/start", session),
        call("POST", f"/api/sessions/{ref}/restart", session),
        call("POST", f"/api/sessions/{ref}/logout", session),
        call("DELETE", f"/api/sessions/{ref}", master),
        call("DELETE", f"/api/keys/{key_id}", master),
    ]
    assert starting.state == InstanceState.PAIRING and not starting.qr_payload
    assert [type(e) for e in qr_events] == [type(qr_events[0]), QrUpdate] and qr_events[
        1
    ].qr_payload == f"2@wahaqr,{ref}"
    assert qr.qr_payload == f"2@wahaqr,{ref}" and code.pairing_code == "ABCD-ABCD"
    assert (state.state, state.phone_number, state.profile_name) == (InstanceState.CONNECTED, OWN, "Acme")
    assert sent.provider_message_id.startswith("3EB0") and sent.status == "sent"
    assert isinstance(inbound, InboundMessage)
    assert (inbound.sender_lid, inbound.sender_phone) == ("103899771998284@lid", "+5511977776666")
    assert [(e.provider_message_id, e.from_me) for e in history] == [(sent.provider_message_id, True)]
    assert ref not in fake.sessions and fake.keys == {}
    assert_every_call_site_is_covered(waha_package, fake)


def test_cloud_every_call_over_http(owner_alice, serve, settings, monkeypatch):
    fake = FakeCloud()
    fake.add_number()
    settings.CLOUD_GRAPH_BASE_URL = serve(fake)
    settings.CLOUD_API_VERSION = "v25.0"
    settings.CLOUD_ACCESS_TOKEN = "operator-cloud-token"
    settings.CLOUD_APP_SECRET = fake.app_secret
    cloud = get_provider("cloud")
    instance = make_instance(owner_alice.account, provider="cloud")

    instance = store_created(instance, cloud.create_instance(instance))
    assert fake.requests == []  # nothing to create at Meta
    configured, credentials, override_set = cloud.configure(instance, phone_number_id="106540352242922")
    instance.provider_ref = "106540352242922"
    instance.provider_credentials = json.dumps(credentials)
    instance.save(update_fields=["provider_ref", "provider_credentials"])
    state = cloud.connection_state(instance)
    connected = cloud.connect(instance)
    sent = cloud.send_text(instance, to=CUSTOMER, text="Your order #1042 has shipped.")
    fake.add_template("order_shipped", "Your order {{1}} has shipped.")
    fake.add_template("login_code", "{{1}} is your code.", category="AUTHENTICATION")
    monkeypatch.setattr(cloud_adapter, "TEMPLATE_PAGE_SIZE", 1)  # two pages over the wire
    listed = cloud.list_message_templates(instance, waba_id=WABA_ID)
    sent_template = cloud.send_template(instance, to=CUSTOMER, name="order_shipped", language="en", variables=["#1042"])
    for action in ("restart", "logout", "delete_instance"):
        getattr(cloud, action)(instance)  # the Meta registration is left alone: no call

    bearer = {"authorization": "Bearer operator-cloud-token"}
    fields = "display_phone_number,verified_name,code_verification_status,quality_rating,platform_type"
    assert ledger(fake) == [
        call("GET", "/v25.0/106540352242922", bearer, fields=fields),
        call(
            "POST",
            "/v25.0/106540352242922",
            bearer,
            {
                "webhook_configuration": {
                    "override_callback_uri": f"{settings.GATEWAY_BASE_URL}/providers/cloud/callback/"
                    f"{instance.callback_token}",
                    "verify_token": credentials["verify_token"],
                }
            },
        ),
        call("GET", "/v25.0/106540352242922", bearer, fields=fields),  # connection_state
        call("GET", "/v25.0/106540352242922", bearer, fields=fields),  # connect = check the number
        call(
            "POST",
            "/v25.0/106540352242922/messages",
            bearer,
            {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": CUSTOMER,
                "type": "text",
                "text": {"preview_url": False, "body": "Your order #1042 has shipped."},
            },
        ),
        call(
            "GET",
            f"/v25.0/{WABA_ID}/message_templates",
            bearer,
            fields="id,name,language,status,category,components,rejected_reason",
            limit=1,
        ),
        call(
            "GET",
            f"/v25.0/{WABA_ID}/message_templates",
            bearer,
            fields="id,name,language,status,category,components,rejected_reason",
            limit=1,
            after="QVFIU1",
        ),
        call(
            "POST",
            "/v25.0/106540352242922/messages",
            bearer,
            {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": CUSTOMER,
                "type": "template",
                "template": {
                    "name": "order_shipped",
                    "language": {"code": "en"},
                    "components": [{"type": "body", "parameters": [{"type": "text", "text": "#1042"}]}],
                },
            },
        ),
    ]
    assert [t["name"] for t in listed] == ["order_shipped", "login_code"]
    assert sent_template.provider_message_id.startswith("wamid.")
    assert override_set and fake.numbers["106540352242922"].override_callback_uri.endswith(instance.callback_token)
    assert (configured.state, configured.phone_number) == (InstanceState.CONNECTED, "+15550783881")
    assert state.state == connected.state == InstanceState.CONNECTED
    assert sent.provider_message_id.startswith("wamid.") and sent.status == "sending"
    assert_every_call_site_is_covered(cloud_package, fake, prefix="/v25.0/")


def call_sites(package: Any) -> list[tuple[str, str]]:
    """(method, path template) of every ``self._call(...)`` / ``self._graph(...)`` in a provider package's source."""
    sites = []
    source = "\n".join(path.read_text() for path in sorted(Path(package.__file__).parent.glob("*.py")))
    for node in ast.walk(ast.parse(source)):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("_call", "_graph")
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "self"
        ):
            continue
        method, path = node.args[0], node.args[1]
        assert isinstance(method, ast.Constant), ast.unparse(node)
        if isinstance(path, ast.Constant):
            template = path.value
        elif isinstance(path, ast.JoinedStr):
            template = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in path.values)
        else:
            template = "{}"
        sites.append((method.value, template))
    return sites


def assert_every_call_site_is_covered(package: Any, fake: FakeApi, *, prefix: str = "") -> None:
    """Each call site of the provider's package matches at least one request of the ledger just asserted."""
    sites = call_sites(package)
    assert len(sites) >= 3, sites  # the source scan itself works
    for method, template in sites:
        path = prefix + template.lstrip("/") if prefix else template
        pattern = re.compile("^" + re.escape(path).replace(re.escape("{}"), "[^/]+") + "$")
        assert any(r.method == method and pattern.match(r.path) for r in fake.requests), (
            f"{package.__name__}: {method} {template} has no exact contract assertion in this module"
        )
