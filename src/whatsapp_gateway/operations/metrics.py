"""The ``/metrics`` exposition: every process's event metrics (``lib.metrics``) plus the database-derived gauges
(``operations.collectors``), and who may read them."""

from __future__ import annotations

import ipaddress
import logging

from django.conf import settings
from django.http import HttpRequest
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client import multiprocess as _multiprocess

from whatsapp_gateway.lib.client_ip import client_ip
from whatsapp_gateway.lib.crypto import constant_time_equals
from whatsapp_gateway.lib.metrics import EVENT_METRICS
from whatsapp_gateway.lib.metrics_files import multiprocess_dir
from whatsapp_gateway.operations.collectors import DatabaseCollector

logger = logging.getLogger(__name__)


def metrics_allowed(request: HttpRequest) -> bool:
    """The ``METRICS_TOKEN`` bearer or an address in ``METRICS_ALLOWED_IPS``."""
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and constant_time_equals(header[7:].strip(), token):
        return True
    ip = client_ip(request)
    if not ip or not settings.METRICS_ALLOWED_IPS:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in settings.METRICS_ALLOWED_IPS)


def render() -> tuple[bytes, str]:
    """The exposition text: every process's event metrics (summed) plus the database-derived gauges."""
    registry = CollectorRegistry(auto_describe=False)
    directory = multiprocess_dir()
    if directory is not None and directory.is_dir():
        _multiprocess.MultiProcessCollector(registry, path=str(directory))
    else:  # single-process mode (no directory configured): this process's own metrics
        for metric in EVENT_METRICS:
            registry.register(metric)
    registry.register(DatabaseCollector())
    return generate_latest(registry), CONTENT_TYPE_LATEST


def serve_process_metrics(*, host: str, port: int) -> None:
    """Serve this host's multiprocess metrics (no database gauges) on ``host:port`` from a daemon thread.

    For worker containers, whose metric files are not visible to the web container. Same protection as
    ``/metrics``: the ``METRICS_TOKEN`` bearer or an address in ``METRICS_ALLOWED_IPS``, else 404.
    """
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from django.test import RequestFactory  # worker processes only: the web process never loads the test client

    def app(environ, start_response):
        request = RequestFactory().generic(
            "GET",
            environ.get("PATH_INFO", "/"),
            HTTP_AUTHORIZATION=environ.get("HTTP_AUTHORIZATION", ""),
            REMOTE_ADDR=environ.get("REMOTE_ADDR", ""),
        )
        if environ.get("PATH_INFO") != "/metrics" or not metrics_allowed(request):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        registry = CollectorRegistry(auto_describe=False)
        directory = multiprocess_dir()
        if directory is not None and directory.is_dir():
            _multiprocess.MultiProcessCollector(registry, path=str(directory))
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
        return [generate_latest(registry)]

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format, *args):  # scrapes every few seconds are not worth a log line
            return

    server = make_server(host, port, app, handler_class=QuietHandler)
    threading.Thread(target=server.serve_forever, name="worker-metrics", daemon=True).start()
    logger.info("process metrics on http://%s:%s/metrics", host, port)
