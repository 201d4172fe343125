"""The SSRF guard: every non-public destination is refused, in every spelling, at check and at connect time."""

from __future__ import annotations

import http.server
import socket
import threading

import httpx
import pytest

from whatsapp_gateway.lib import urlsafety
from whatsapp_gateway.lib.urlsafety import UnsafeURL, check_url


def public_resolver(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


BLOCKED_URLS = [
    # loopback
    "https://127.0.0.1/hook",
    "https://127.10.20.30/hook",
    "https://[::1]/hook",
    "https://localhost/hook",
    "https://api.localhost/hook",
    # unspecified
    "https://0.0.0.0/hook",
    "https://[::]/hook",
    # private ranges
    "https://10.0.0.5/hook",
    "https://172.16.0.1/hook",
    "https://172.31.255.254/hook",
    "https://192.168.1.10/hook",
    "https://[fc00::1]/hook",
    "https://[fd12:3456:789a::1]/hook",
    # link-local and cloud metadata
    "https://169.254.169.254/latest/meta-data/",
    "https://[fe80::1]/hook",
    # CGNAT
    "https://100.64.0.1/hook",
    "https://100.127.255.254/hook",
    # multicast, reserved, broadcast, documentation
    "https://224.0.0.1/hook",
    "https://[ff02::1]/hook",
    "https://240.0.0.1/hook",
    "https://255.255.255.255/hook",
    "https://192.0.2.10/hook",
    # IPv4-mapped / embedded IPv6
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:7f00:1]/hook",
    "https://[::ffff:169.254.169.254]/hook",
    "https://[64:ff9b::a00:1]/hook",
    "https://[2002:7f00:1::]/hook",
    # numeric host tricks: decimal, hex, octal, short forms
    "https://2130706433/hook",
    "https://0x7f000001/hook",
    "https://0x7f.0x0.0x0.0x1/hook",
    "https://0177.0.0.1/hook",
    "https://017700000001/hook",
    "https://127.1/hook",
    "https://0/hook",
    "https://3232235777/hook",
    # scheme, credentials, ports, fragments
    "http://example.com/hook",
    "ftp://example.com/hook",
    "file:///etc/passwd",
    "gopher://example.com/",
    "https://user:pass@example.com/hook",
    "https://user@example.com/hook",
    "https://example.com@127.0.0.1/hook",
    "https://example.com:22/hook",
    "https://example.com:25/hook",
    "https://example.com/hook#frag",
    "https:///hook",
    "https://exa mple.com/hook",
    "https://example.com\\@127.0.0.1/",
]


@pytest.mark.parametrize("url", BLOCKED_URLS)
def test_it_blocks_non_public_or_malformed_destinations(url):
    with pytest.raises(UnsafeURL) as excinfo:
        check_url(url, resolver=public_resolver)
    assert excinfo.value.reason


def test_the_matrix_covers_at_least_25_forms():
    assert len(BLOCKED_URLS) >= 25


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.1.2.3", "192.168.0.7", "169.254.169.254", "100.64.1.1", "::1", "fd00::5", "0.0.0.0"]
)
def test_a_hostname_that_resolves_to_a_private_address_is_blocked(address):
    with pytest.raises(UnsafeURL, match="resolves to"):
        check_url("https://hooks.example.com/in", resolver=lambda host, port: [address])


def test_one_private_address_among_public_ones_is_enough_to_block():
    with pytest.raises(UnsafeURL):
        check_url("https://hooks.example.com/in", resolver=lambda host, port: ["93.184.216.34", "10.0.0.1"])


def test_an_unresolvable_host_is_refused(monkeypatch):
    def fail(*args, **kwargs):
        raise socket.gaierror("no such host")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(UnsafeURL, match="does not resolve"):
        check_url("https://nope.example.com/")


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/hook",
        "https://hooks.example.com:8443/x?y=1",
        "https://example.com:9000/",
        "https://8.8.8.8/",
    ],
)
def test_it_accepts_public_https_urls(url):
    checked = check_url(url, resolver=public_resolver)
    assert checked.pinned_ip in ("93.184.216.34", "8.8.8.8")


def test_the_development_flag_allows_http_and_loopback_but_not_credentials_or_numeric_tricks():
    assert check_url("http://127.0.0.1:8080/hook", allow_private=True).pinned_ip == "127.0.0.1"
    assert check_url("http://localhost:8080/hook", allow_private=True).addresses
    with pytest.raises(UnsafeURL):
        check_url("http://user:pw@127.0.0.1:8080/", allow_private=True)
    with pytest.raises(UnsafeURL):
        check_url("http://2130706433:8080/", allow_private=True)


def test_it_uses_the_system_resolver_for_every_address(monkeypatch):
    calls = []

    def fake_getaddrinfo(host, port, *args, **kwargs):
        calls.append(host)
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(UnsafeURL, match="::1"):
        check_url("https://dual.example.com/")
    assert calls == ["dual.example.com"]


@pytest.fixture
def local_server():
    seen: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen.append({"host": self.headers["Host"], "path": self.path})
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], seen
    server.shutdown()


def pinned_client(checked, *, timeout: float = 15.0) -> httpx.Client:
    # The pinned transport as a client would use it: no redirects followed, proxies from the environment allowed
    # (the transport must ignore them itself).
    return httpx.Client(transport=urlsafety.PinnedTransport(checked.pinned_ip), timeout=timeout, follow_redirects=False)


def test_the_connection_is_pinned_to_the_checked_address_despite_dns_rebinding(local_server):
    port, seen = local_server
    answers = iter([["127.0.0.1"], ["10.66.66.66"]])  # a rebinding DNS: the second answer would point elsewhere
    checked = check_url(
        f"http://rebind.example.test:{port}/in", allow_private=True, resolver=lambda h, p: next(answers)
    )
    with pinned_client(checked) as client:
        response = client.post(checked.url, content=b"{}")
    assert response.status_code == 200
    assert seen == [{"host": f"rebind.example.test:{port}", "path": "/in"}]


def test_a_redirect_to_a_private_address_is_not_followed(local_server):
    port, seen = local_server
    checked = check_url(f"http://127.0.0.1:{port}/redirect", allow_private=True)
    with pinned_client(checked) as client:
        response = client.post(checked.url, content=b"{}")
    assert response.status_code == 302
    assert [s["path"] for s in seen] == ["/redirect"]


def test_the_pinned_transport_ignores_environment_proxies(local_server, monkeypatch):
    port, _seen = local_server
    monkeypatch.setenv("HTTP_PROXY", "http://10.9.9.9:3128")
    checked = check_url(f"http://127.0.0.1:{port}/in", allow_private=True)
    with pinned_client(checked, timeout=5) as client:
        assert client.post(checked.url, content=b"{}").status_code == 200


def test_ip_block_reason_explains_why():
    assert "169.254.0.0/16" in urlsafety.ip_block_reason("169.254.169.254")
    assert "IPv4-mapped" in urlsafety.ip_block_reason("::ffff:10.0.0.1")
    assert urlsafety.ip_block_reason("1.1.1.1") is None
