"""``whatsapp-gateway fake-3cx``: a simulated 3CX phone system for trying the 3CX integration locally and for tests. It receives what
the gateway posts to the "3CX Webhook URL" and plays 3CX's side of the stock Generic SMS provider (and the native
JSON form) against the gateway. Framework-free: no Django settings needed.

In tests::

    with PbxSimulator() as pbx:
        url = pbx.url("/sms/generic/0123abcd")         # paste as the integration's 3CX Webhook URL
        ...                                             # a customer writes on WhatsApp
        request = pbx.wait_for(1)[0]                    # what the gateway posted (method, path, headers, json)
        pbx.post_generic_sms(provider_url, api_key, from_="+13052314933", to="+9665…", text="Hi")

From a shell (the walkthrough in docs/guide.md)::

    whatsapp-gateway fake-3cx serve --port 8701                 # prints every request it receives
    whatsapp-gateway fake-3cx sms --provider-url URL --api-key KEY --from +1305… --to +9665… --text "Hi"
    whatsapp-gateway fake-3cx native --provider-url URL --secret SECRET --sign \\
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


class PbxSimulator:
    """A threaded HTTP server on 127.0.0.1 that records every request and answers as scripted (200 by default)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, echo: bool = False) -> None:
        self.received: list[Received] = []
        self.responses: deque[tuple[int, dict]] = deque()
        self.echo = echo
        self.default_status = 200
        self.secret = ""  # when set, ``echo`` also says whether a native JSON delivery's signature is valid
        self.log_path = ""  # when set, every request is appended to this file as one JSON line
        self._lock = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                item = Received("POST", self.path, {k: v for k, v in self.headers.items()}, body)
                with fake._lock:
                    fake.received.append(item)
                    status, answer = fake.responses.popleft() if fake.responses else (fake.default_status, {"ok": True})
                    fake._lock.notify_all()
                if fake.echo:
                    fake._print(item)
                if fake.log_path:
                    fake._log(item)
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

    def start(self) -> PbxSimulator:
        self._thread = threading.Thread(target=self.server.serve_forever, name="fake-3cx", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> PbxSimulator:
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

    def _log(self, item: Received) -> None:
        line = {
            "method": item.method,
            "path": item.path,
            "headers": item.headers,
            "body": item.body.decode("utf-8", "replace"),
        }
        with self._lock, open(self.log_path, "a", encoding="utf-8") as out:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")

    def _print(self, item: Received) -> None:
        shown = {k: v for k, v in item.headers.items() if k.lower().startswith(("content-type", "x-whatsapp", "user"))}
        try:
            body: Any = item.json
        except ValueError:
            body = item.body.decode("utf-8", "replace")
        print(f"--- fake 3CX received {item.method} {item.path}", flush=True)
        report: dict[str, Any] = {"headers": shown, "body": body}
        if self.secret:
            report["signature"] = verify_native(self.secret, item)
        print(json.dumps(report, indent=2, ensure_ascii=False), flush=True)

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


def _show(response: httpx.Response) -> int:
    print(f"HTTP {response.status_code}")
    try:
        print(json.dumps(response.json(), indent=2, ensure_ascii=False))
    except ValueError:
        print(response.text)
    return 0 if response.is_success else 1


def verify_native(secret: str, item: Received) -> str:
    """How a custom middleware checks a signed native JSON delivery: HMAC-SHA256(secret, timestamp + "." + body)."""
    headers = {k.lower(): v for k, v in item.headers.items()}
    timestamp = headers.get("x-whatsapp-gateway-timestamp")
    if not timestamp:
        return "unsigned (Generic SMS envelope: 3CX authenticates by the secret URL token)"
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + item.body, hashlib.sha256).hexdigest()
    given = headers.get("x-whatsapp-gateway-signature", "").removeprefix("sha256=")
    return "valid" if hmac.compare_digest(given, expected) else "INVALID"


def add_parser(sub: argparse._SubParsersAction) -> None:
    """``whatsapp-gateway fake-3cx serve|sms|native``."""
    parser = sub.add_parser("fake-3cx", help="a fake 3CX for trying the 3CX integration locally")
    actions = parser.add_subparsers(dest="fake_3cx_action", required=True)
    serve = actions.add_parser("serve", help="receive the gateway's posts to the 3CX Webhook URL and print them")
    serve.add_argument("--port", type=int, default=8701)
    serve.add_argument("--status", type=int, default=200, help="HTTP status to answer (e.g. 503 to watch retries)")
    serve.add_argument("--secret", default="", help="tcxs_… to check the signature of native JSON deliveries")
    serve.add_argument("--log", default="", help="also append one JSON line per request to this file")
    sms = actions.add_parser("sms", help="send an agent reply the way stock 3CX (Generic SMS provider) does")
    sms.add_argument("--provider-url", required=True, help="the Provider URL shown on the integration page")
    sms.add_argument("--api-key", required=True, help="the tcxk_… API key")
    sms.add_argument("--from", dest="from_", required=True, help="the 3CX DID, E.164")
    sms.add_argument("--to", required=True, help="the customer, E.164")
    sms.add_argument("--text", required=True)
    native = actions.add_parser("native", help="send native JSON with the integration secret")
    native.add_argument("--provider-url", required=True, help="the Provider URL shown on the integration page")
    native.add_argument("--secret", required=True, help="the tcxs_… secret")
    native.add_argument("--json", required=True, help="the JSON body")
    native.add_argument("--sign", action="store_true", help="add the timestamp + HMAC signature headers")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.fake_3cx_action == "serve":
        return serve(args.port, status=args.status, secret=args.secret, log_path=args.log)
    if args.fake_3cx_action == "sms":
        response = PbxSimulator.post_generic_sms(
            args.provider_url, args.api_key, from_=args.from_, to=args.to, text=args.text
        )
        sys.exit(_show(response))
    try:
        payload = json.loads(args.json)
    except ValueError as exc:
        sys.exit(f"error: --json is not valid JSON ({exc})")
    sys.exit(_show(PbxSimulator.post_native(args.provider_url, args.secret, payload, sign=args.sign)))


def serve(port: int, *, status: int = 200, secret: str = "", log_path: str = "") -> int:
    pbx = PbxSimulator(port=port, echo=True)
    pbx.default_status = status
    pbx.secret = secret
    pbx.log_path = log_path
    print(f"fake 3CX listening on {pbx.url('/sms/generic/<token>')} answering {status} (Ctrl-C to stop)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        pbx.server.serve_forever()
    pbx.server.server_close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fake_3cx")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["fake-3cx", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
