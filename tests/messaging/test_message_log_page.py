"""The /messages log page: filters, masking, detail with guard decision and history, isolation."""

from __future__ import annotations

import pytest

from tests.isolation import assert_other_account_gets_404
from whatsapp_gateway.accounts.models import AuditLog
from whatsapp_gateway.lib import errors
from whatsapp_gateway.messaging.guard import classifier, content, risk
from whatsapp_gateway.messaging.models import Message
from whatsapp_gateway.messaging.services import send_message

pytestmark = pytest.mark.django_db


def send(account, **kw):
    base = {
        "instance_ref": "support-line",
        "phone": "+966501234567",
        "text": "Your order has shipped.",
        "purpose": "transactional",
        "source": "api",
    }
    base.update(kw)
    try:
        return send_message(account=account, **base)
    except errors.GatewayError:
        return None


@pytest.fixture
def log(owner_alice, alice_fake_instance):
    account = owner_alice.account
    send(account)
    send(account, phone="+966501234599", purpose="marketing")
    send(account, phone="+966501234598", text="Code 1234", purpose="authentication")
    return Message.objects.filter(account=account)


def rows(response):
    return response.content.decode().count("data-message=")


def test_it_lists_every_message_with_masked_numbers(alice_client, log):
    response = alice_client.get("/messages")
    page = response.content.decode()
    assert rows(response) == 3
    assert "+9665****4567" in page and "+966501234567" not in page
    assert "message_purpose_not_allowed" in page


@pytest.mark.parametrize(
    ("query", "count"),
    [
        ("status=blocked", 1),
        ("status=queued", 2),
        ("purpose=authentication", 1),
        ("code=message_purpose_not_allowed", 1),
        ("phone=0501234567", 1),
        ("phone=not-a-number", 0),
        ("instance=nope", 0),
        ("date_from=2000-01-01&date_to=2100-01-01", 3),
        ("date_to=2000-01-01", 0),
    ],
)
def test_it_filters(alice_client, log, query, count):
    assert rows(alice_client.get(f"/messages?{query}")) == count


def test_it_filters_by_instance(alice_client, log, alice_fake_instance):
    assert rows(alice_client.get(f"/messages?instance={alice_fake_instance.public_id}")) == 3


def test_admins_can_reveal_numbers_and_it_is_audited(alice_client, log):
    assert "+966501234567" not in alice_client.get("/messages?reveal=1").content.decode()
    assert not AuditLog.objects.filter(action="message_log.numbers_revealed").exists()
    answer = alice_client.post("/reveal-numbers", {"scope": "message_log", "next": "/messages?status=queued"})
    assert answer["Location"] == "/messages?status=queued&reveal=1"
    assert "+966501234567" in alice_client.get("/messages?reveal=1").content.decode()
    assert AuditLog.objects.filter(action="message_log.numbers_revealed").count() == 1
    # Reloading (or the page refreshing itself) does not add entries.
    alice_client.get("/messages?reveal=1")
    assert AuditLog.objects.filter(action="message_log.numbers_revealed").count() == 1


def test_members_cannot_reveal_numbers(bob_client, log):
    assert bob_client.post("/reveal-numbers", {"scope": "message_log", "next": "/messages"}).status_code == 403
    assert "+966501234567" not in bob_client.get("/messages?reveal=1").content.decode()


def test_reveal_refuses_other_hosts_and_unknown_areas(alice_client, log):
    answer = alice_client.post("/reveal-numbers", {"scope": "message_log", "next": "https://evil.example/x"})
    assert answer["Location"] == "/dashboard?reveal=1"
    assert alice_client.post("/reveal-numbers", {"scope": "nope", "next": "/messages"}).status_code == 400
    assert alice_client.get("/reveal-numbers").status_code == 405


def test_detail_shows_guard_decision_reasons_and_history(alice_client, owner_alice, alice_fake_instance, monkeypatch):
    doubtful = content.ContentAssessment(
        verdict=classifier.Verdict("marketing", 0.6, 0.6, 65, [], [], "test"),
        score=65,
        reasons=["announcement: new product, branch or collection ('brand new')"],
    )
    monkeypatch.setattr(risk, "assess_text", lambda text, purpose="": doubtful)
    outcome = send(owner_alice.account, text="Our brand new branch hours start on Monday.")
    page = alice_client.get(f"/messages/{outcome.message_id}").content.decode()
    assert "Allowed, recorded for review" in page
    assert "announcement: new product, branch or collection" in page
    assert 'data-testid="history"' in page and "queued" in page


def test_a_blocked_message_offers_a_review_request(alice_client, owner_alice, alice_fake_instance):
    assert (
        send(owner_alice.account, text="Flash sale! 40% off everything today only with code FLASH40, shop now") is None
    )
    blocked = Message.objects.get(status="blocked")
    page = alice_client.get(f"/messages/{blocked.public_id}").content.decode()
    assert "promotion: discount offer" in page
    assert f"/templates/new?message={blocked.public_id}" in page


def test_detail_of_a_blocked_message_shows_the_code(alice_client, log):
    blocked = log.get(status="blocked")
    page = alice_client.get(f"/messages/{blocked.public_id}").content.decode()
    assert "message_purpose_not_allowed" in page and "Blocked" in page


def test_another_accounts_message_is_404(charlie_client, log):
    assert_other_account_gets_404(charlie_client, f"/messages/{log.first().public_id}")


def test_the_logs_tab_lists_the_instances_messages(alice_client, log, alice_fake_instance):
    response = alice_client.get(f"/instances/{alice_fake_instance.public_id}/manage?tab=logs")
    assert response.status_code == 200 and rows(response) == 3


def test_csv_export_uses_the_filters_is_formula_safe_and_is_recorded_when_complete(alice_client, owner_alice, log):
    send(owner_alice.account, phone="+966501234577", text="=HYPERLINK(1) Your order has shipped.")
    answer = alice_client.get("/messages/export.csv", {"q": "shipped"})
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/csv") and answer.streaming
    assert not AuditLog.objects.filter(action="message_log.exported").exists()  # nothing until the file is sent
    body = b"".join(answer.streaming_content).decode("utf-8-sig")
    lines = body.strip().splitlines()
    assert lines[0].startswith("log_id,message_id,created_at")
    assert len(lines) == 4  # the three texts containing "shipped"; "Code 1234" is filtered out
    assert "'=HYPERLINK(1)" in body and "+966501234567" not in body and "+9665****4567" in body
    entry = AuditLog.objects.get(action="message_log.exported")
    assert entry.metadata["rows"] == 3 and entry.metadata["filters"] == {"q": "shipped"}


def test_search_in_message_text(alice_client, log):
    assert rows(alice_client.get("/messages", {"q": "code 12"})) == 1
