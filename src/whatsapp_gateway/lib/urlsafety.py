"""URL safety for outbound webhooks (SSRF guard). Framework-free: no Django imports.

The rules (docs/api.md "URL safety"):

* ``https`` only, unless ``allow_private`` (the operator's development flag) also allows ``http``;
* no user name or password in the URL; no fragment;
* the port is 443, 8443 or 1024-65535 (80 too when ``http`` is allowed); any port with ``allow_private``;
* the host is a DNS name or a canonical IP literal: numeric tricks (``2130706433``, ``0x7f.1``, ``0177.0.0.1``,
  ``127.1``) are refused outright, whatever address they would mean;
* every address the name resolves to must be public (``is_global`` and none of the explicitly blocked ranges:
  loopback, private, link-local / cloud metadata, CGNAT, multicast, reserved, unspecified, IPv4-mapped /
  IPv4-translated IPv6, 6to4 / Teredo embedding a non-public IPv4);
* the caller connects to the address that was checked (:func:`check_url` returns it as ``pinned_ip``), so a second
  DNS answer cannot redirect the connection (DNS rebinding). :func:`pinned_pool` (and :class:`PinnedTransport`
  for httpx) does that while keeping the original Host header and TLS server name;
* redirects are never followed (the caller's job: ``follow_redirects=False``).

``allow_private`` relaxes the scheme, the port and the address checks (a local receiver on 127.0.0.1 for
development and tests); credentials, fragments and numeric host tricks stay refused.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
import ssl
import threading
import time
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore
import httpx

Resolver = Callable[[str, int], list[str]]

MAX_URL_LENGTH = 2048
ALLOWED_PORTS_STRICT = frozenset({443, 8443})
_HOSTNAME_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")

BLOCKED_NETWORKS: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",  # "this network", includes 0.0.0.0
        "10.0.0.0/8",
        "100.64.0.0/10",  # CGNAT shared address space
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata 169.254.169.254
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",  # deprecated 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, includes broadcast
        "::/128",
        "::1/128",
        "::ffff:0:0/96",  # IPv4-mapped
        "::ffff:0:0:0/96",  # IPv4-translated
        "64:ff9b::/96",  # NAT64 (embeds an IPv4 address)
        "64:ff9b:1::/48",
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments (includes Teredo 2001::/32)
        "2001:db8::/32",  # documentation
        "2002::/16",  # 6to4 (embeds an IPv4 address)
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)


class UnsafeURL(ValueError):
    """The URL may not be used as a webhook destination. ``reason`` is shown to the customer and logged."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnresolvableHost(UnsafeURL):
    """The host name did not resolve (now). Refused in a form; at delivery time a transient DNS failure is retried
    like a connection failure, not treated as a blocked destination."""


@dataclass(frozen=True)
class CheckedURL:
    """A URL that passed every check, with the addresses it resolved to and the one to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]
    pinned_ip: str


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (A and AAAA), in the resolver's order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableHost(f"the host name {host!r} does not resolve") from exc
    addresses: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = str(sockaddr[0]).split("%", 1)[0]
        if address not in addresses:
            addresses.append(address)
    return addresses


def ip_block_reason(address: str) -> str | None:
    """Why ``address`` is not a public address, or None when it is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return f"{address} is an IPv4-mapped IPv6 address"
    for net in BLOCKED_NETWORKS:
        if ip.version == net.version and ip in net:
            return f"{address} is in the non-public range {net}"
    if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return f"{address} is not a public address"
    return None


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _inet_aton_accepts(host: str) -> bool:
    try:
        socket.inet_aton(host)
    except (OSError, ValueError):
        return False
    return True


def _check_host_syntax(host: str) -> None:
    if not host:
        raise UnsafeURL("the URL has no host")
    literal = _ip_literal(host)
    if literal is not None:
        return
    if _inet_aton_accepts(host.rstrip(".")):
        # Decimal (2130706433), hex (0x7f000001), octal (0177.0.0.1) or short (127.1) forms that C resolvers
        # accept as addresses; only the canonical a.b.c.d form (handled above) is allowed.
        raise UnsafeURL(f"numeric host forms such as {host!r} are not allowed; write the address as a.b.c.d")
    labels = host.rstrip(".").split(".")
    if labels and labels[-1].isdigit():
        raise UnsafeURL(f"the host {host!r} is not a valid host name")
    for label in labels:
        if not _HOSTNAME_LABEL.fullmatch(label):
            raise UnsafeURL(f"the host {host!r} is not a valid host name")


def check_url_syntax(url: str, *, allow_private: bool = False) -> tuple[str, str, int]:
    """Check everything that does not need DNS. Returns ``(scheme, host, port)``; raises :class:`UnsafeURL`."""
    if not isinstance(url, str) or not url.strip():
        raise UnsafeURL("enter a URL")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeURL(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ch == "\\" for ch in url):
        raise UnsafeURL("the URL contains spaces, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL("the URL or its port is malformed") from exc
    scheme = parts.scheme.lower()
    allowed_schemes = ("https", "http") if allow_private else ("https",)
    if scheme not in allowed_schemes:
        if scheme == "http":
            raise UnsafeURL("use an https:// URL (plain http is allowed only in development)")
        raise UnsafeURL("the URL must start with https://")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise UnsafeURL("user names and passwords in the URL are not allowed; use the signature to authenticate")
    if parts.fragment:
        raise UnsafeURL("the URL may not contain a #fragment")
    host = (parts.hostname or "").lower()
    try:
        host = host.encode("idna").decode("ascii") if not _ip_literal(host) else host
    except UnicodeError as exc:
        raise UnsafeURL("the host name is not valid") from exc
    _check_host_syntax(host)
    if port is None:
        port = 443 if scheme == "https" else 80
    if not allow_private:
        if port not in ALLOWED_PORTS_STRICT and not (1024 <= port <= 65535):
            raise UnsafeURL(f"port {port} is not allowed; use 443, 8443 or a port from 1024 to 65535")
    elif not 1 <= port <= 65535:
        raise UnsafeURL(f"port {port} is not valid")
    return scheme, host, port


def check_url(url: str, *, allow_private: bool = False, resolver: Resolver | None = None) -> CheckedURL:
    """Check ``url`` and resolve its host; every address must be public. Call it at every delivery attempt.

    Returns the address to connect to (``pinned_ip``); raises :class:`UnsafeURL` with a readable reason.
    """
    scheme, host, port = check_url_syntax(url, allow_private=allow_private)
    bare = host.rstrip(".")
    if not allow_private and (bare == "localhost" or bare.endswith(".localhost")):
        raise UnsafeURL(f"{host} is a loopback name")
    literal = _ip_literal(host)
    if literal is not None:
        addresses = [str(literal)]
    else:
        addresses = (resolver or system_resolver)(host, port)
        if not addresses:
            raise UnresolvableHost(f"the host name {host!r} does not resolve")
    if not allow_private:
        for address in addresses:
            reason = ip_block_reason(address)
            if reason is not None:
                if literal is None:
                    # "hooks.example.com resolves to 10.0.0.1, which is in the non-public range 10.0.0.0/8"
                    reason = f"{host} resolves to {address}, which {reason.removeprefix(address + ' ')}"
                raise UnsafeURL(reason)
    return CheckedURL(
        url=url.strip(), scheme=scheme, host=host, port=port, addresses=tuple(addresses), pinned_ip=addresses[0]
    )


_deadline = threading.local()


@contextmanager
def total_deadline(seconds: float) -> Iterator[None]:
    """Bound a whole request made by this thread through a pinned client (connect, TLS, send, headers and body)
    to ``seconds``. httpx's timeouts apply per socket operation, so a receiver trickling one byte every few
    seconds could otherwise hold a worker thread for as long as it likes."""
    previous = getattr(_deadline, "at", None)
    _deadline.at = time.monotonic() + seconds
    try:
        yield
    finally:
        _deadline.at = previous


def _remaining(timeout: float | None, exc: type[Exception]) -> float | None:
    at = getattr(_deadline, "at", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise exc("the request took longer than its total deadline")
    return left if timeout is None else min(timeout, left)


_WRITE_BUFFER_BYTES = 64 * 1024


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write waits at most until the thread's :func:`total_deadline`.

    Writes are gathered until the next read (or until ``_WRITE_BUFFER_BYTES`` are waiting): httpcore writes a
    request's head and its body separately, and one ``send`` for both halves the system calls and packets of a
    small request (every write is flushed before the response is read, so nothing waits on it)."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream
        self._pending: list[bytes] = []
        self._pending_size = 0

    def _flush(self, timeout: float | None) -> None:
        if self._pending:
            data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
            self._pending.clear()
            self._pending_size = 0
            self._stream.write(data, _remaining(timeout, httpcore.WriteTimeout))

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        # Like httpcore itself: a server that closed early may still have sent its answer; read it.
        with contextlib.suppress(httpcore.WriteError):
            self._flush(timeout)
        return self._stream.read(max_bytes, _remaining(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        self._pending.append(buffer)
        self._pending_size += len(buffer)
        if self._pending_size >= _WRITE_BUFFER_BYTES:
            self._flush(timeout)

    def close(self) -> None:
        self._pending.clear()
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        tls = self._stream.start_tls(ssl_context, server_hostname, _remaining(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(tls)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Opens every TCP connection to one fixed address, whatever host name the request names."""

    def __init__(self, address: str) -> None:
        self._address = address
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_tcp(
            self._address,
            port,
            timeout=_remaining(timeout, httpcore.ConnectTimeout),
            local_address=local_address,
            socket_options=socket_options,
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(self, *args: typing.Any, **kwargs: typing.Any) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not allowed")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def pinned_pool(address: str, *, max_connections: int = 4) -> httpcore.ConnectionPool:
    """An httpcore connection pool (the engine under httpx) whose connections all go to ``address`` while each
    request keeps its URL's Host header and TLS server name (SNI and certificate checks use the host name). No
    proxy, no retries, HTTP/1.1, keep-alive for 30 s. The webhook worker sends through it directly."""
    return httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=30.0,
        http1=True,
        http2=False,
        retries=0,
        network_backend=_PinnedBackend(address),
    )


class PinnedTransport(httpx.HTTPTransport):
    """:func:`pinned_pool` as an httpx transport, for ``httpx.Client(transport=...)``. Never goes through an
    environment proxy."""

    def __init__(self, address: str, *, max_connections: int = 4) -> None:
        super().__init__(retries=0, trust_env=False)
        self._pool = pinned_pool(address, max_connections=max_connections)


def url_hint(url: str) -> str:
    """``https://pbx.example.com/sms/generic/155e…fdf8`` → ``https://pbx.example.com/sms/…fdf8``: scheme, host and a
    masked path, for showing a URL whose path or query is itself a credential (a 3CX Webhook URL token)."""
    if not url:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    segments = [s for s in (parts.path or "/").split("/") if s]
    if not segments:
        masked = "/"
    else:
        tail = segments[-1][-4:] if len(segments[-1]) > 8 else ""
        masked = f"/{segments[0]}/…{tail}" if len(segments) > 1 else f"/…{tail}"
    suffix = "?…" if parts.query else ""
    return f"{parts.scheme}://{host}{masked}{suffix}"
