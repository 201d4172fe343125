"""The 3CX scenario against real processes: ``whatsapp-gateway run`` (gunicorn + the Huey consumer, its own SQLite
database in a fresh data directory) and a fake 3CX HTTP server on 127.0.0.1. A person signs in to the portal, creates
the integration and maps the 3CX DID; a sandbox customer writes (``whatsapp-gateway simulate inbound``) and 3CX
receives the Generic SMS envelope; the agent replies through the Generic SMS form and the native form and the
customer's sandbox phone receives both; a missed call sends the rendered template once, then the cooldown holds.
Nothing here reaches into the gateway's database: everything is observed over HTTP, like a user would."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time

import httpx
import pytest

from tests.cli.test_run_process import cli, embedded_env, stop, wait_for
from tests.threecx.portal_session import Portal, code_text
from whatsapp_gateway.threecx.pbx_simulator import PbxSimulator

pytestmark = pytest.mark.slow

CUSTOMER = "+966512345678"
DID = "+13052314933"
DEMO_LOGIN = ("demo@example.com", "demo-password-123")


def a_port(*, taken: tuple[int, ...] = ()) -> int:
    """A free port: from ``TEST_PORTS`` (e.g. ``8810-8829``, when several people share a machine), else any."""
    wanted = os.environ.get("TEST_PORTS", "")
    candidates = range(int(wanted.split("-")[0]), int(wanted.split("-")[1]) + 1) if wanted else [0]
    for port in candidates:
        if port in taken:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError(f"no free port in {wanted}")


def poll(check, *, seconds: float = 60.0, what: str):
    """Poll ``check`` until it returns something truthy; the deadline only bounds a failure, it is not asserted."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def sandbox_phone(portal: Portal, instance_id: str) -> list[str]:
    """The texts in the Connection tab's "Messages the sandbox phone sent" table, newest first."""
    page = portal.get(f"/instances/{instance_id}/manage?tab=connection")
    section = page.split("Messages the sandbox phone sent", 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td>(?:<time[^>]*>[^<]*</time>|[^<]*)</td><td>[^<]*</td><td>([^<]*)</td>", section)
    return [row.replace("&#x27;", "'") for row in rows]


def test_a_whatsapp_conversation_handled_from_3cx_with_real_processes(tmp_path):
    pbx_port = a_port()
    port = a_port(taken=(pbx_port,))
    base = f"http://127.0.0.1:{port}"
    env = {**embedded_env(tmp_path / "var", GATEWAY_ALLOW_PRIVATE_WEBHOOKS="1"), "GATEWAY_WORKER_THREADS": "2"}
    env.pop("GATEWAY_BASE_URL", None)
    log = (tmp_path / "run.log").open("w+")
    gateway = subprocess.Popen([*cli(), "run", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        with PbxSimulator(port=pbx_port) as pbx:
            wait_for(f"{base}/healthz", gateway)
            banner = (tmp_path / "run.log").read_text()
            api_key = re.search(r"API key:\s+(wg_live_\w+)", banner).group(1)
            instance_id = re.search(r"Instance: demo-support-line \((inst_\w+)", banner).group(1)

            # A person sets the integration up in the portal.
            portal = Portal(base)
            portal.login(*DEMO_LOGIN)
            created = portal.submit(
                "/integrations/3cx/new",
                "threecx-form",
                {
                    "name": "Head office 3CX",
                    "endpoint_url": pbx.url(),
                    "business_name": "Demo Bakery",
                    "call_event_enabled": "on",
                    "tpl_missed_call_enabled": "on",
                    "tpl_missed_call_text": "{{business_name}}: sorry we missed your call. Reply here!",
                },
            )
            assert created.status_code == 200 and "/integrations/3cx/tcx_" in str(created.url), created.text[:500]
            provider_url = code_text(created.text, "provider-url")
            key, secret = code_text(created.text, "once-api-key"), code_text(created.text, "once-secret")
            assert provider_url == f"{base}/integrations/3cx/webhook/{str(created.url).rsplit('/', 1)[1]}"
            assert key.startswith("tcxk_") and secret.startswith("tcxs_")
            detail = str(created.url).removeprefix(base)
            assert pbx.url() not in portal.get(detail), "the 3CX Webhook URL is never shown in full again"
            instance_choice = re.search(r'<select name="instance"[^>]*>.*?<option value="([^"]+)"', created.text, re.S)
            mapped = portal.post(f"{detail}/dids", {"did": DID, "instance": instance_choice.group(1)}, csrf_from=detail)
            assert f"DID {DID} mapped." in mapped.text

            # 1. The customer writes on WhatsApp → 3CX gets the Generic SMS envelope.
            simulated = subprocess.run(
                [
                    *cli(),
                    "simulate",
                    "inbound",
                    "demo-support-line",
                    "--from",
                    CUSTOMER,
                    "--text",
                    "Is my order ready?",
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert simulated.returncode == 0, simulated.stderr
            received = pbx.wait_for(1, timeout=60)[0]
            assert received.path == "/sms/generic/0123456789abcdef0123456789abcdef"
            assert "Authorization" not in received.headers, "3CX authenticates us by its URL token"
            envelope = received.json["data"]
            assert (envelope["event_type"], envelope["record_type"]) == ("message.received", "event")
            payload = envelope["payload"]
            assert (payload["direction"], payload["type"], payload["record_type"]) == ("inbound", "SMS", "message")
            assert payload["text"] == "Is my order ready?"
            assert payload["from"] == {"phone_number": CUSTOMER} and payload["to"] == [{"phone_number": DID}]

            # 2. The agent answers in 3CX (stock Generic SMS) and 3. through custom middleware (native, signed).
            generic = pbx.post_generic_sms(provider_url, key, from_=DID, to=CUSTOMER, text="Yes, it ships today.")
            assert generic.status_code == 200, generic.text
            assert generic.json()["data"]["record_type"] == "message" and generic.json()["data"]["status"] == "queued"
            native = pbx.post_native(
                provider_url,
                secret,
                {"event_type": "outbound_message", "to": CUSTOMER, "message_text": "Tracking: AB123."},
                sign=True,
            )
            assert native.status_code == 202, native.text
            api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {api_key}"}, timeout=15)
            for message_id in (generic.json()["data"]["id"], native.json()["message_id"]):
                status = poll(
                    lambda mid=message_id: api.get(f"/api/messages/{mid}").json()["status"] in ("delivered", "read"),
                    what=f"{message_id} delivered",
                )
                assert status
                assert api.get(f"/api/messages/{message_id}").json()["source"] == "threecx"
            phone = poll(
                lambda: (texts := sandbox_phone(portal, instance_id)) and len(texts) >= 2 and texts,
                what="the sandbox phone",
            )
            assert phone[:2] == ["Tracking: AB123.", "Yes, it ships today."]

            # 4. A missed call: the rendered template goes out once, then the cooldown holds.
            missed = {"event_type": "missed_call", "caller": CUSTOMER, "agent_extension": "104"}
            first = pbx.post_native(provider_url, secret, missed)
            assert first.status_code == 202, first.text
            again = pbx.post_native(provider_url, secret, missed)
            assert again.status_code == 200
            assert (again.json()["status"], again.json()["reason"]) == ("skipped", "cooldown")
            template = "Demo Bakery: sorry we missed your call. Reply here!"
            phone = poll(lambda: template in (texts := sandbox_phone(portal, instance_id)) and texts, what="template")
            assert phone.count(template) == 1 and len(phone) == 3

            # The integration's event log tells the same story.
            events = portal.get(f"{detail}/events")
            for expected in ("message.received", "Delivered to 3CX", "Message queued", "cooldown"):
                assert expected in events, expected
            assert "Yes, it ships today." not in events, "the event log keeps no message text"
    finally:
        stop(gateway)
        log.seek(0)
        output = log.read()
        log.close()
    assert "Traceback" not in output, output[-3000:]
    assert secret not in output and key not in output, "a 3CX credential reached the process log"
