"""Real-process helpers for the crash test: a local receiver, and ``python -m tests.webhooks.harness <cmd>`` to set
up an account with webhook endpoints and to emit a burst of events from a separate process."""

from __future__ import annotations

import http.server
import json
import os
import sys
import threading
import time


class Receiver:
    """A keep-alive HTTP/1.1 receiver on 127.0.0.1 that records ``(path, webhook-id, event_id, received_at)``."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str, str, float]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                try:
                    event_id = json.loads(body).get("event_id", "")
                except ValueError:
                    return  # cut off mid-request (the sender was killed): not a delivery
                with receiver._lock:
                    receiver.records.append((self.path, self.headers.get("webhook-id", ""), event_id, time.time()))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a killed worker drops its connections mid-request; that is the point of the test

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self) -> list[tuple[str, str, str, float]]:
        with self._lock:
            return list(self.records)


def _setup(base_url: str, endpoints: int) -> dict:
    from whatsapp_gateway.accounts.models import Plan, User
    from whatsapp_gateway.accounts.services import account_create
    from whatsapp_gateway.instances.models import Instance, InstanceState
    from whatsapp_gateway.webhooks.endpoints import endpoint_create

    user = User.objects.create_user(username="crash@example.com", email="crash@example.com", password="x" * 12)
    account = account_create(name="Crash Co", owner=user, plan=Plan.objects.get(code="scale"))
    instance = Instance.objects.create(account=account, name="crash-line", state=InstanceState.CONNECTED)
    paths = []
    for number in range(endpoints):
        path = f"/hook/{number}"
        endpoint_create(account=account, instance=instance, url=base_url + path, events=["message.received"])
        paths.append(path)
    return {"instance_id": instance.pk, "paths": paths}


def _burst(instance_pk: int, count: int) -> list[str]:
    from django.db import transaction

    from whatsapp_gateway.instances.models import Instance
    from whatsapp_gateway.webhooks.outbox import event_emit

    instance = Instance.objects.select_related("account").get(pk=instance_pk)
    ids = []
    for number in range(count):
        with transaction.atomic():
            event = event_emit(
                account=instance.account,
                instance=instance,
                event_type="message.received",
                data={"from": "+12025550142", "message_text": f"burst {number}", "message_type": "text"},
            )
        ids.append(event.public_id)
    return ids


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatsapp_gateway.settings")
    import django

    django.setup()
    command = argv[0]
    if command == "setup":
        print(json.dumps(_setup(argv[1], int(argv[2]))))
    elif command == "burst":
        print(json.dumps(_burst(int(argv[1]), int(argv[2]))))
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv[1:])
