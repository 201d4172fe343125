"""The web worker hands a request to a thread only when it is whole: the completeness rules."""

from __future__ import annotations

import pytest

from whatsapp_gateway import web_worker
from whatsapp_gateway.web_worker import COMPLETE, INCOMPLETE, TOO_LARGE, request_state

HEAD = b"POST /api/send-message HTTP/1.1\r\nHost: x\r\n"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\n", INCOMPLETE),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", COMPLETE),
        (HEAD + b"Content-Length: 10\r\n\r\n12345", INCOMPLETE),
        (HEAD + b"content-length:10\r\n\r\n1234567890", COMPLETE),
        (HEAD + b"Content-Length: 2\r\n\r\n12GET / HTTP/1.1\r\n", COMPLETE),  # pipelined bytes stay for the parser
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", INCOMPLETE),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n", INCOMPLETE),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", COMPLETE),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nA: b\r\n\r\n", COMPLETE),
        (HEAD + b"Content-Length: 99999999999\r\n\r\n", TOO_LARGE),
        (b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * 70_000, TOO_LARGE),
    ],
)
def test_request_state(raw, expected):
    assert request_state(bytearray(raw)) == expected


def test_chunked_bodies_are_capped_too(monkeypatch):
    monkeypatch.setattr(web_worker, "MAX_BODY_BYTES", 10)
    assert request_state(bytearray(HEAD + b"Transfer-Encoding: chunked\r\n\r\nff\r\n")) == TOO_LARGE
