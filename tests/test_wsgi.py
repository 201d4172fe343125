"""The WSGI entry point gunicorn's workers import before they accept a connection."""

from __future__ import annotations

import importlib

import whatsapp_gateway.wsgi as wsgi
from whatsapp_gateway.messaging.guard import classifier, signals


def test_a_web_worker_loads_the_content_model_before_its_first_request():
    classifier.model.cache_clear()
    signals.matcher.cache_clear()
    importlib.reload(wsgi)
    assert classifier.model.cache_info().currsize == 1
    assert signals.matcher.cache_info().currsize == 1
    assert callable(wsgi.application)
