from __future__ import annotations

import pytest
from django.db.utils import OperationalError


@pytest.mark.django_db
class TestRoot:
    def test_it_returns_health_json_for_json_clients(self, client):
        response = client.get("/", HTTP_ACCEPT="application/json")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ok"
        assert body["service"] == "whatsapp-gateway"
        assert body["version"]

    def test_it_returns_the_landing_page_for_browsers(self, client):
        response = client.get("/", HTTP_ACCEPT="text/html,application/xhtml+xml")
        assert response.status_code == 200
        assert b"WhatsApp Gateway" in response.content
        assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url, needle",
    [
        ("/acceptable-use", "Acceptable use policy"),
        ("/docs/responsible-messaging", "sending_throttled"),
        ("/docs", "Endpoint map"),
        ("/docs/webhooks", "group.updated"),
        ("/healthz", '"status": "ok"'),
    ],
)
def test_public_pages_render(client, url, needle):
    response = client.get(url)
    assert response.status_code == 200
    assert needle in response.content.decode()


@pytest.mark.django_db
def test_responsible_messaging_shows_plan_limits_and_every_error_code(client):
    from whatsapp_gateway.messaging.policy import ERROR_TABLE

    html = client.get("/docs/responsible-messaging").content.decode()
    for plan in ("Starter", "Growth", "Scale"):
        assert plan in html
    for numbers in ("2,000", "10,000", "30,000", "1,500"):
        assert numbers in html
    for code, _status, _when in ERROR_TABLE:
        assert code in html


@pytest.mark.django_db
def test_docs_lists_all_sixteen_events(client):
    from whatsapp_gateway.webhooks.catalogue import EVENT_TYPES

    html = client.get("/docs").content.decode()
    assert len(EVENT_TYPES) == 16
    for event in EVENT_TYPES:
        assert event.name in html


@pytest.mark.django_db
def test_readyz_is_ok_when_database_and_queue_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "queue": "ok"}


@pytest.mark.django_db
def test_readyz_answers_503_when_the_database_is_unreachable(client, monkeypatch):
    from django.db.backends.utils import CursorWrapper

    def broken_execute(self, *args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(CursorWrapper, "execute", broken_execute)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "OperationalError"


@pytest.mark.django_db
def test_readyz_answers_503_when_the_queue_is_unreachable(client, monkeypatch):
    from huey.contrib.djhuey import HUEY

    def broken():
        raise ConnectionError("broker down")

    monkeypatch.setattr(HUEY, "pending_count", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["queue"] == "ConnectionError"
