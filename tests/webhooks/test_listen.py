"""``whatsapp-gateway webhook-listen`` receives real deliveries and checks both signatures."""

from __future__ import annotations

import io
import json
import threading

from whatsapp_gateway.cli import build_parser
from whatsapp_gateway.webhooks.endpoints import endpoint_create
from whatsapp_gateway.webhooks.listen import make_server
from whatsapp_gateway.webhooks.outbox import event_emit
from whatsapp_gateway.webhooks.worker import endpoint_deliver_due


def test_the_listener_verifies_a_real_delivery(owner_alice, alice_sandbox_instance, tmp_path):
    out = io.StringIO()
    log = tmp_path / "hooks.jsonl"
    endpoint, secret = endpoint_create(
        account=owner_alice.account,
        instance=alice_sandbox_instance,
        url="http://127.0.0.1:9/hook",
        events=["message.received"],
    )
    server = make_server(0, secret=secret, status=200, out=out, log_path=str(log))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        endpoint.save()
        event = event_emit(
            account=owner_alice.account,
            instance=alice_sandbox_instance,
            event_type="message.received",
            data={"message_text": "Hi"},
        )
        endpoint_deliver_due(endpoint_id=endpoint.pk)
    finally:
        server.shutdown()
        server.server_close()
    assert f"message.received webhook-id={event.public_id}  standardwebhooks=valid seed=valid" in out.getvalue()
    line = json.loads(log.read_text().splitlines()[0])
    assert line["payload"]["message_text"] == "Hi"
    from standardwebhooks.webhooks import Webhook

    Webhook(secret).verify(line["raw_body"].encode(), line["headers"])


def test_the_listener_reports_a_wrong_secret(owner_alice, alice_sandbox_instance):
    out = io.StringIO()
    server = make_server(0, secret="whsec_" + "B" * 44, status=500, out=out)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint, _ = endpoint_create(
            account=owner_alice.account,
            instance=alice_sandbox_instance,
            url=f"http://127.0.0.1:{server.server_address[1]}/hook",
            events=["message.received"],
        )
        event_emit(account=owner_alice.account, instance=alice_sandbox_instance, event_type="message.received", data={})
        endpoint_deliver_due(endpoint_id=endpoint.pk)
    finally:
        server.shutdown()
        server.server_close()
    assert "standardwebhooks=INVALID" in out.getvalue() and "seed=INVALID" in out.getvalue()


def test_the_cli_has_the_webhook_listen_command():
    args = build_parser().parse_args(["webhook-listen", "--port", "9100", "--status", "503"])
    assert (args.port, args.status) == (9100, 503)
