"""``whatsapp-gateway webhook-listen``: a local receiver for trying webhooks on a laptop.

It prints every request it receives and checks both signatures with the endpoint's secret: the Standard Webhooks
one with the official ``standardwebhooks`` library, and ``X-WhatsApp-Gateway-Signature`` with the recipe from
``/docs/webhooks``. Point an instance's webhook at ``http://127.0.0.1:<port>/hook`` (the gateway must run with
``GATEWAY_ALLOW_PRIVATE_WEBHOOKS=1``). Framework-free: no Django settings needed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import http.server
import json
import os
import sys
import threading
from typing import TextIO


def verify_seed(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    """The recipe from /docs/webhooks: HMAC-SHA256(key = secret as shown, msg = timestamp + "." + raw body)."""
    timestamp = headers.get("x-whatsapp-gateway-timestamp", "")
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    values = [v.strip().removeprefix("sha256=") for v in headers.get("x-whatsapp-gateway-signature", "").split(",")]
    return any(hmac.compare_digest(v, expected) for v in values)


def describe(body: bytes, headers: dict[str, str], secret: str) -> dict:
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    report: dict = {
        "received_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "event": headers.get("x-whatsapp-gateway-event", ""),
        "webhook_id": headers.get("webhook-id", ""),
    }
    if secret:
        try:
            Webhook(secret).verify(body, headers)
            report["standardwebhooks"] = "valid"
        except WebhookVerificationError as exc:
            report["standardwebhooks"] = f"INVALID ({exc})"
        report["seed_hmac"] = "valid" if verify_seed(secret, body, headers) else "INVALID"
    try:
        report["payload"] = json.loads(body)
    except ValueError:
        report["payload"] = body[:200].decode("utf-8", errors="replace")
    return report


def make_server(port: int, *, secret: str, status: int, out: TextIO, log_path: str = "") -> http.server.HTTPServer:
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            report = describe(body, headers, secret)
            with lock:
                checks = f"  standardwebhooks={report['standardwebhooks']} seed={report['seed_hmac']}" if secret else ""
                payload = report["payload"]
                summary = (
                    {k: v for k, v in payload.items() if k not in ("event", "instance_name")}
                    if isinstance(payload, dict)
                    else payload
                )
                print(
                    f"{report['received_at']} {self.path} {report['event']} webhook-id={report['webhook_id']}{checks}",
                    file=out,
                )
                print(f"    {json.dumps(summary, ensure_ascii=False)[:300]}", file=out, flush=True)
                if log_path:
                    with open(log_path, "a", encoding="utf-8") as handle:
                        raw = {"raw_body": body.decode("utf-8", errors="replace"), "headers": headers}
                        handle.write(json.dumps({**report, "path": self.path, "status": status, **raw}) + "\n")
            answer = b'{"ok": true}' if 200 <= status < 300 else b'{"ok": false}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    return http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)


def add_parser(sub) -> None:
    p = sub.add_parser("webhook-listen", help="a local webhook receiver that prints and verifies deliveries")
    p.add_argument("--port", type=int, default=9000)
    p.add_argument("--secret", default=os.environ.get("WEBHOOK_SECRET", ""), help="whsec_… (or WEBHOOK_SECRET)")
    p.add_argument("--status", type=int, default=200, help="HTTP status to answer (e.g. 500 to watch retries)")
    p.add_argument("--log", default="", help="also append one JSON line per request (with raw body) to this file")
    p.set_defaults(func=cmd_listen)


def cmd_listen(args: argparse.Namespace) -> None:
    server = make_server(args.port, secret=args.secret, status=args.status, out=sys.stdout, log_path=args.log)
    print(
        f"Listening on http://127.0.0.1:{args.port}/hook (answering {args.status}"
        f"{', verifying signatures' if args.secret else ', no --secret: signatures not checked'}). Ctrl-C to stop.",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
