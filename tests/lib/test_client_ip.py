"""lib.client_ip: exactly GATEWAY_TRUSTED_PROXY_COUNT hops from the right, validated as an IP."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from whatsapp_gateway.lib.client_ip import clean_ip, client_ip


def _request(forwarded_for=None, remote="10.0.0.2"):
    extra = {"REMOTE_ADDR": remote}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return RequestFactory().get("/", **extra)


@pytest.mark.parametrize(
    ("hops", "forwarded_for", "expected"),
    [
        (0, "6.6.6.6", "10.0.0.2"),  # no trusted proxy: the header is ignored
        (1, None, "10.0.0.2"),
        (1, "6.6.6.6, 198.51.100.7", "198.51.100.7"),
        (1, "198.51.100.7", "198.51.100.7"),
        (2, "6.6.6.6, 198.51.100.7, 172.16.0.5", "198.51.100.7"),
        (2, "198.51.100.7", "198.51.100.7"),  # fewer entries than hops: all were appended by trusted proxies
        (1, "6.6.6.6, not-an-ip", None),
        (1, "6.6.6.6, ::ffff:192.0.2.1", "192.0.2.1"),
        (1, "6.6.6.6, [2001:db8::1]:443", "2001:db8::1"),
        (1, "6.6.6.6,198.51.100.7:5123", "198.51.100.7"),
    ],
)
def test_client_ip_trusts_exactly_the_configured_hops(settings, hops, forwarded_for, expected):
    settings.GATEWAY_TRUSTED_PROXY_COUNT = hops
    assert client_ip(_request(forwarded_for)) == expected


def test_invalid_socket_addresses_are_none(settings):
    settings.GATEWAY_TRUSTED_PROXY_COUNT = 0
    assert client_ip(_request(remote="")) is None
    assert client_ip(None) is None
    assert clean_ip("999.1.1.1") is None
