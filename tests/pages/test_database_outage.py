"""When the database cannot be reached, every route answers 503 with Retry-After — never a 500 traceback page."""

from __future__ import annotations

import pytest
from django.db.utils import OperationalError


@pytest.fixture
def database_down(db):
    """Every query fails as a refused connection would, until the test ends (undone before the test database's
    own teardown queries run)."""
    from django.db.backends.utils import CursorWrapper

    def refuse(self, *args, **kwargs):
        raise OperationalError('connection to server at "10.0.0.5", port 5432 failed: Connection refused')

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(CursorWrapper, "execute", refuse)
        yield


@pytest.mark.django_db
def test_a_page_that_needs_the_database_answers_a_503_page(client, database_down):
    response = client.get("/", HTTP_ACCEPT="text/html")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert b"Temporarily unavailable" in response.content
    assert b"10.0.0.5" not in response.content


def test_a_logged_in_portal_page_answers_503(alice_client, database_down):
    response = alice_client.get("/account/", HTTP_ACCEPT="text/html")
    assert response.status_code == 503


@pytest.mark.django_db
def test_the_api_answers_the_contract_envelope_with_service_unavailable(client, database_down):
    response = client.get("/api/messages/msg_123", HTTP_AUTHORIZATION="Bearer wg_live_abc")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.json() == {
        "success": False,
        "error": "service_unavailable",
        "message": "The gateway is temporarily unavailable. Try again in a moment.",
        "details": {},
    }


@pytest.mark.django_db
def test_json_clients_of_portal_routes_get_json(client, database_down):
    response = client.get("/docs/responsible-messaging", HTTP_ACCEPT="application/json")
    assert response.status_code == 503
    assert response.json()["error"] == "service_unavailable"


@pytest.mark.django_db
def test_liveness_and_the_json_health_answer_need_no_database(client, database_down):
    assert client.get("/healthz").status_code == 200
    assert client.get("/", HTTP_ACCEPT="application/json").status_code == 200
    assert client.get("/readyz").status_code == 503


@pytest.mark.django_db
def test_other_errors_are_not_disguised_as_outages(client, monkeypatch):
    from whatsapp_gateway.pages import views

    def broken(request):
        raise ValueError("a real bug")

    monkeypatch.setattr(views, "_wants_json", broken)
    client.raise_request_exception = False
    assert client.get("/").status_code == 500
