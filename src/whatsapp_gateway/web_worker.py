"""The gunicorn worker ``whatsapp-gateway web`` runs: gthread, but a request reaches a thread only once it is whole.

Stock gthread hands a connection to a thread as soon as its first bytes arrive; the thread then blocks reading the
rest of the headers and the body. A client that announces a body and sends it slowly (or never) holds that thread,
and a few dozen such sockets take every thread of every worker. Here the worker's event loop reads each request
(headers and body, non-blocking) into a buffer first and hands it to the thread pool only when it is complete, so a
slow client costs a buffer and a poller entry, not a thread. Bounds per connection:

- a deadline: headers and body must arrive within ``GATEWAY_REQUEST_READ_SECONDS`` of the first byte (of the
  connection, or of the next request on a kept-alive one), else ``408`` and the socket is closed;
- a size cap: headers up to 64 KiB and a body up to ``GATEWAY_REQUEST_MAX_BYTES`` (the largest body any route
  accepts: the 5 MB suppression import), else ``413``;
- at most ``--worker-connections`` connections per worker (gunicorn's own limit).

TLS connections and HTTP/2 keep gunicorn's stock behaviour (the gateway serves plain HTTP/1.1 behind its proxy).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import selectors
import socket
import time
from functools import partial

from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import TConn, ThreadWorker

READ_SECONDS = float(os.environ.get("GATEWAY_REQUEST_READ_SECONDS") or 20)
MAX_BODY_BYTES = int(os.environ.get("GATEWAY_REQUEST_MAX_BYTES") or 6 * 1024 * 1024)
MAX_HEADER_BYTES = 64 * 1024
_RECV_BYTES = 256 * 1024

_HEADER_END = b"\r\n\r\n"
_CONTENT_LENGTH = re.compile(rb"^content-length[ \t]*:[ \t]*(\d+)[ \t]*$", re.IGNORECASE | re.MULTILINE)
_CHUNKED = re.compile(rb"^transfer-encoding[ \t]*:.*chunked", re.IGNORECASE | re.MULTILINE)
_EXPECT_CONTINUE = re.compile(rb"^expect[ \t]*:[ \t]*100-continue", re.IGNORECASE | re.MULTILINE)

COMPLETE, INCOMPLETE, TOO_LARGE = "complete", "incomplete", "too_large"


def _chunked_state(body: memoryview | bytes) -> str:
    """Walk a chunked body: complete once the last chunk and the trailers' blank line are in."""
    data = bytes(body)
    position, total = 0, 0
    while True:
        line_end = data.find(b"\r\n", position)
        if line_end < 0:
            return INCOMPLETE if len(data) - position <= 1024 else TOO_LARGE
        try:
            size = int(data[position:line_end].split(b";", 1)[0].strip() or b"x", 16)
        except ValueError:
            return COMPLETE  # malformed: let gunicorn's parser answer 400
        total += size
        if total > MAX_BODY_BYTES:
            return TOO_LARGE
        if size == 0:
            trailer_end = data.find(b"\r\n", line_end + 2)
            while trailer_end >= 0 and trailer_end != line_end + 2:  # skip trailer lines to the blank one
                line_end = trailer_end
                trailer_end = data.find(b"\r\n", line_end + 2)
            return COMPLETE if trailer_end >= 0 else INCOMPLETE
        position = line_end + 2 + size + 2
        if position > len(data):
            return INCOMPLETE


def request_state(buffer: bytearray) -> str:
    """Whether ``buffer`` holds one whole HTTP/1.x request (more bytes after it, pipelined, are fine)."""
    header_end = buffer.find(_HEADER_END)
    if header_end < 0:
        return TOO_LARGE if len(buffer) > MAX_HEADER_BYTES else INCOMPLETE
    if header_end > MAX_HEADER_BYTES:
        return TOO_LARGE
    head = bytes(buffer[:header_end])
    body = memoryview(buffer)[header_end + 4 :]
    if _CHUNKED.search(head):
        return _chunked_state(body)
    match = _CONTENT_LENGTH.search(head)
    length = int(match.group(1)) if match else 0
    if length > MAX_BODY_BYTES:
        return TOO_LARGE
    return COMPLETE if len(body) >= length else INCOMPLETE


def _answer_and_close(sock: socket.socket, status: bytes) -> None:
    with contextlib.suppress(OSError):
        sock.setblocking(False)
        sock.send(b"HTTP/1.1 " + status + b"\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")


class BufferingThreadWorker(ThreadWorker):
    """gthread whose event loop buffers each whole request before a thread touches it (see the module doc)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.reading: dict[TConn, float] = {}  # connection -> read deadline

    def _buffers(self, conn: TConn) -> bool:
        return not self.cfg.is_ssl and not negotiation.prior_knowledge_allowed(self.cfg, conn.client)

    def accept(self, listener) -> None:
        try:
            client_sock, client_addr = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, client_sock, client_addr, listener.getsockname())  # non-blocking from here
        if self._buffers(conn):
            self._read_request(conn)
        else:
            client_sock.setblocking(True)
            self.enqueue_req(conn)

    def on_client_socket_readable(self, conn: TConn, client) -> None:
        """A kept-alive connection has its next request coming: buffer it too."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        if self._buffers(conn):
            self._read_request(conn)
        else:
            self.enqueue_req(conn)

    def _read_request(self, conn: TConn) -> None:
        conn.request_buffer = bytearray()
        conn.continue_sent = False
        self.reading[conn] = time.monotonic() + READ_SECONDS
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_request_bytes, conn))

    def _stop_reading(self, conn: TConn) -> None:
        self.reading.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)

    def _drop(self, conn: TConn, status: bytes | None = None) -> None:
        self._stop_reading(conn)
        if status:
            _answer_and_close(conn.sock, status)
        self.nr_conns -= 1
        conn.close()

    def _on_request_bytes(self, conn: TConn, client) -> None:
        try:
            data = conn.sock.recv(_RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(conn)
            return
        if not data:  # the client went away
            self._drop(conn)
            return
        conn.request_buffer += data
        state = request_state(conn.request_buffer)
        if state == TOO_LARGE:
            self._drop(conn, b"413 Content Too Large")
        elif state == COMPLETE:
            self._stop_reading(conn)
            self.enqueue_req(conn)
        elif not conn.continue_sent and _HEADER_END in conn.request_buffer:
            head = bytes(conn.request_buffer[: conn.request_buffer.find(_HEADER_END)])
            if _EXPECT_CONTINUE.search(head):  # the client waits for this before it sends the body
                conn.continue_sent = True
                try:
                    conn.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
                except OSError:
                    self._drop(conn)

    def murder_pending(self) -> None:
        """Called every loop turn: also end requests whose headers and body missed their deadline."""
        super().murder_pending()
        now = time.monotonic()
        for conn in [c for c, deadline in self.reading.items() if deadline <= now]:
            self._drop(conn, b"408 Request Timeout")

    def handle(self, conn: TConn):
        """Runs in a thread: feed the buffered request to gunicorn's parser, then serve it as usual."""
        buffered = getattr(conn, "request_buffer", None)
        if buffered is not None:
            conn.request_buffer = None
            conn.data_ready = True
            conn.sock.setblocking(True)
            conn.init()
            # If a "100 Continue" went out already, gunicorn sends a second one: clients accept any number of
            # interim responses before the final one (RFC 9110, section 15.2).
            conn.parser.unreader.unread(bytes(buffered))
        return super().handle(conn)
