"""A fake 3CX for tests and local demos: it receives what the gateway posts to the "3CX Webhook URL" and plays
3CX's side of the stock Generic SMS provider (and the native JSON form) against the gateway.

In tests::

    with Fake3CX() as pbx:
        url = pbx.url("/sms/generic/0123abcd")         # paste as the integration's 3CX Webhook URL
        ...                                             # a customer writes on WhatsApp
        request = pbx.wait_for(1)[0]                    # what the gateway posted (method, path, headers, json)
        pbx.post_generic_sms(provider_url, api_key, from_="+13052314933", to="+9665…", text="Hi")

From a shell (the demo in the README)::

    python -m tests.threecx.fake_3cx serve --port 8701                # prints every request it receives
    python -m tests.threecx.fake_3cx sms --provider-url URL --api-key KEY --from +1305… --to +9665… --text "Hi"
    python -m tests.threecx.fake_3cx native --provider-url URL --secret SECRET --sign \\
        --json '{"event_type": "missed_call", "caller": "+9665…"}'
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)

    @property
    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class Fake3CX:
    """A threaded HTTP server on 127.0.0.1 that records every request and answers as scripted (200 by default)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, echo: bool = False) -> None:
        self.received: list[Received] = []
        self.responses: deque[tuple[int, dict]] = deque()
        self.echo = echo
        self._lock = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                item = Received("POST", self.path, {k: v for k, v in self.headers.items()}, body)
                with fake._lock:
                    fake.received.append(item)
                    status, answer = fake.responses.popleft() if fake.responses else (200, {"ok": True})
                    fake._lock.notify_all()
                if fake.echo:
                    fake._print(item)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # quiet; ``echo`` prints what matters
                return

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # --- the server side ---------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str = "/sms/generic/0123456789abcdef0123456789abcdef") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> Fake3CX:
        self._thread = threading.Thread(target=self.server.serve_forever, name="fake-3cx", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Fake3CX:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def respond_with(self, status: int, body: dict | None = None, *, times: int = 1) -> None:
        """Answer the next ``times`` requests with ``status`` (e.g. 503 to make the gateway retry)."""
        for _ in range(times):
            self.responses.append((status, body or {}))

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until ``count`` requests arrived (a thread receives them), or fail after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.received) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"fake 3CX got {len(self.received)} request(s), expected {count}")
                self._lock.wait(remaining)
            return list(self.received)

    @staticmethod
    def _print(item: Received) -> None:
        shown = {k: v for k, v in item.headers.items() if k.lower().startswith(("content-type", "x-whatsapp", "user"))}
        try:
            body: Any = item.json
        except ValueError:
            body = item.body.decode("utf-8", "replace")
        print(f"--- fake 3CX received {item.method} {item.path}", flush=True)
        print(json.dumps({"headers": shown, "body": body}, indent=2, ensure_ascii=False), flush=True)

    # --- 3CX's side against the gateway --------------------------------------------------------------------------

    @staticmethod
    def post_generic_sms(provider_url: str, api_key: str, *, from_: str, to: str, text: str) -> httpx.Response:
        """What the stock 3CX Generic SMS provider sends when an agent replies in the 3CX chat."""
        return httpx.post(
            provider_url,
            json={"from": from_, "to": to, "text": text},
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=15,
        )

    @staticmethod
    def post_native(provider_url: str, secret: str, payload: dict, *, sign: bool = False) -> httpx.Response:
        """What custom middleware (or the gateway's CRM template) sends: native JSON with the secret header."""
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "X-WhatsApp-Gateway-3CX-Secret": secret}
        if sign:
            timestamp = str(int(time.time()))
            digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
            headers.update(
                {"X-WhatsApp-Gateway-Timestamp": timestamp, "X-WhatsApp-Gateway-Signature": f"sha256={digest}"}
            )
        return httpx.post(provider_url, content=body, headers=headers, timeout=15)


def _show(response: httpx.Response) -> None:
    print(f"HTTP {response.status_code}")
    try:
        print(json.dumps(response.json(), indent=2, ensure_ascii=False))
    except ValueError:
        print(response.text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fake_3cx", description="A fake 3CX for trying the 3CX integration locally")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="receive the gateway's posts to the 3CX Webhook URL and print them")
    serve.add_argument("--port", type=int, default=8701)
    sms = sub.add_parser("sms", help="send an agent reply the way stock 3CX (Generic SMS provider) does")
    sms.add_argument("--provider-url", required=True)
    sms.add_argument("--api-key", required=True)
    sms.add_argument("--from", dest="from_", required=True, help="the 3CX DID, E.164")
    sms.add_argument("--to", required=True, help="the customer, E.164")
    sms.add_argument("--text", required=True)
    native = sub.add_parser("native", help="send native JSON with the integration secret")
    native.add_argument("--provider-url", required=True)
    native.add_argument("--secret", required=True)
    native.add_argument("--json", required=True, help="the JSON body")
    native.add_argument("--sign", action="store_true", help="add the timestamp + HMAC signature headers")
    args = parser.parse_args(argv)

    if args.command == "serve":
        pbx = Fake3CX(port=args.port, echo=True)
        print(f"fake 3CX listening on {pbx.url('/sms/generic/<token>')} (Ctrl-C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            pbx.server.serve_forever()
        return 0
    if args.command == "sms":
        _show(Fake3CX.post_generic_sms(args.provider_url, args.api_key, from_=args.from_, to=args.to, text=args.text))
        return 0
    _show(Fake3CX.post_native(args.provider_url, args.secret, json.loads(args.json), sign=args.sign))
    return 0


if __name__ == "__main__":
    sys.exit(main())
