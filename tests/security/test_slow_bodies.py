"""Slow request bodies cannot stall the web server: 50 sockets each announce a body and send 2 bytes of it, and
``/healthz`` and an authenticated send still answer (2 s client timeout), on the real ``whatsapp-gateway web``
server with 2 workers x 4 threads. Bodies that never complete are answered 408 once the read deadline passes."""

from __future__ import annotations

import socket

import httpx
import pytest
from bench.gateway_server import GatewayServer

from tests.reliability.cluster import free_port
from tests.tallies import SECURITY as TALLY

pytestmark = pytest.mark.slow

STALLED = 50


def _stalled_body(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        b"POST /providers/sandbox/callback/x HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"'
    )
    return sock


def test_fifty_stalled_bodies_do_not_stall_health_checks_or_sends():
    port = free_port()
    with GatewayServer(port=port, workers=2, threads=4, extra_env={"GATEWAY_REQUEST_READ_SECONDS": "4"}) as server:
        sockets = [_stalled_body(port) for _ in range(STALLED)]
        try:
            with httpx.Client(base_url=server.url, timeout=2.0) as client:
                for n in range(3):
                    assert client.get("/healthz").status_code == 200
                    response = client.post(
                        "/api/send-message",
                        headers={"Authorization": f"Bearer {server.demo['api_key']}"},
                        json={
                            "instance_id": server.demo["instance_id"],
                            "phone": f"+96650123456{n}",
                            "message": "Your order has shipped.",
                            "message_purpose": "transactional",
                            "dry_run": True,
                        },
                    )
                    assert response.status_code < 500, response.text
                    TALLY["slow bodies: requests answered while stalled"] += 2
            # The read deadline ends every stalled request with 408 and closes its socket.
            for sock in sockets:
                answer = sock.recv(200)
                assert answer.startswith(b"HTTP/1.1 408"), answer
                TALLY["slow bodies: stalled sockets closed with 408"] += 1
        finally:
            for sock in sockets:
                sock.close()
