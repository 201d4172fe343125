"""``POST /api/send-message`` with ``template`` instead of ``message``: Meta templates go out as WhatsApp template
messages on their Cloud API instance, reviewed ones as rendered text on any provider; marketing is refused; the
variable count is checked; a free-form text to a Cloud recipient outside the 24-hour window is refused at once;
Meta's synchronous template errors become clear message errors."""

from __future__ import annotations

import pytest

from tests.factories import make_instance
from tests.message_templates.conftest import approved, submit, wrote_earlier
from tests.messaging.conftest import ApiClient
from tests.providers.conftest import post_callback
from tests.providers.fakes.cloud import WABA_ID
from whatsapp_gateway.message_templates.sync import template_sync
from whatsapp_gateway.messaging import queue
from whatsapp_gateway.messaging.models import Message, MessageStatus

pytestmark = pytest.mark.django_db
PHONE = "+966501234567"
SHIPPED = "Your order {{1}} has shipped and arrives {{2}}."


@pytest.fixture
def api(alice_key):
    return ApiClient(alice_key)


@pytest.fixture
def synced(cloud_line, fake_cloud):
    fake_cloud.add_template("order_shipped", SHIPPED)
    fake_cloud.add_template("spring_sale", "Spring sale: {{1}} off everything!", category="MARKETING")
    fake_cloud.add_template("awaiting_meta", "Your ticket {{1}} was updated.", status="PENDING")
    template_sync(instance=cloud_line, waba_id=WABA_ID)
    fake_cloud.clear()
    return cloud_line


def send(api, instance="cloud-line", **template):
    fields = {"name": "order_shipped", "language": "en", "variables": ["#1042", "on Thursday"]}
    fields.update(template)
    return api.send(instance_id=instance, phone=PHONE, template=fields, message_purpose="transactional")


def test_a_meta_template_goes_out_as_a_whatsapp_template_and_reaches_read(
    api, synced, fake_cloud, client, django_capture_on_commit_callbacks
):
    response = send(api)  # nobody wrote in 24 h: a template is exactly what reaches them

    assert response.status_code == 202, response.content
    message = Message.objects.get(public_id=response.json()["message_id"])
    assert message.text == "Your order #1042 has shipped and arrives on Thursday."  # the log shows the rendered text
    assert queue.lane_run(instance_id=synced.pk) == "accepted"
    (call,) = fake_cloud.calls("POST", "/v25.0/106540352242922/messages")
    assert call.json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+966501234567",
        "type": "template",
        "template": {
            "name": "order_shipped",
            "language": {"code": "en"},
            "components": [
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": "#1042"}, {"type": "text", "text": "on Thursday"}],
                }
            ],
        },
    }
    message.refresh_from_db()
    for status in ("sent", "delivered", "read"):
        post_callback(
            client,
            synced,
            fake_cloud.status_callback(message.provider_message_id, status),
            capture=django_capture_on_commit_callbacks,
        )
    message.refresh_from_db()
    assert message.status == MessageStatus.READ
    status = api.get(f"/api/messages/{message.public_id}").json()
    assert status["template"] == {"name": "order_shipped", "language": "en", "source": "meta"}


def test_the_message_log_shows_template_sends_with_their_text(api, synced, alice_client):
    message_id = send(api).json()["message_id"]

    log = alice_client.get("/messages").content.decode()
    detail = alice_client.get(f"/messages/{message_id}").content.decode()

    assert "template order_shipped" in log and "Your order #1042 has shipped" in log
    assert "sent as a WhatsApp template" in detail and "Your order #1042 has shipped and arrives on Thursday." in detail


def test_a_marketing_template_is_a_policy_violation(api, synced, fake_cloud):
    response = send(api, name="spring_sale", variables=["30%"])

    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "policy_violation"
    assert body["details"]["reasons"] == ["template_category_marketing"] and body["details"]["action"] == "block"
    assert Message.objects.get(public_id__startswith="msg_", block_code="policy_violation").status == "blocked"
    assert fake_cloud.requests == []


@pytest.mark.parametrize("variables", [[], ["#1042"], ["#1042", "Thursday", "extra"]])
def test_the_variable_count_is_checked_before_anything_is_sent(api, synced, variables):
    response = send(api, variables=variables)

    assert response.status_code == 422
    body = response.json()
    assert (body["error"], body["details"]["field"]) == ("validation_error", "template")
    assert (body["details"]["expected"], body["details"]["given"]) == (2, len(variables))


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ({"name": "nope"}, "no template named nope in en"),
        ({"name": "awaiting_meta", "variables": ["1"]}, "pending review: only approved templates"),
        ({"variables": ["#1", "a\\nb"]}, "new lines"),
        ({"name": ""}, "template.name is required"),
        ({"language": 5}, "template.language is required"),
        ({"variables": "#1"}, "must be a list"),
        ({"variables": [{"x": 1}, "b"]}, "texts or numbers"),
    ],
)
def test_malformed_or_unsendable_templates_name_the_template_field(api, synced, template, message):
    if template.get("variables") == ["#1", "a\\nb"]:
        template["variables"] = ["#1", "a\nb"]
    response = send(api, **template)

    assert response.status_code == 422, response.content
    assert response.json()["details"]["field"] == "template"
    assert message in response.json()["message"]


def test_message_and_template_together_are_refused(api, synced):
    response = api.send(
        instance_id="cloud-line",
        phone=PHONE,
        message="Hello",
        template={"name": "order_shipped", "language": "en", "variables": ["1", "2"]},
        message_purpose="transactional",
    )
    assert response.status_code == 422 and response.json()["details"]["field"] == "message"


def test_template_must_be_an_object(api, synced):
    response = api.send(instance_id="cloud-line", phone=PHONE, template="order_shipped", message_purpose="support")
    assert response.status_code == 422 and response.json()["details"]["field"] == "template"


def test_a_meta_template_on_a_non_cloud_instance_is_a_validation_error(api, synced, owner_alice, fake_provider):
    make_instance(owner_alice.account, name="other-line", provider="fake", connected=True)

    response = send(api, instance="other-line")

    assert response.status_code == 422
    assert response.json()["details"]["field"] == "template"
    assert "only from a WhatsApp Cloud API instance (cloud-line)" in response.json()["message"]


def test_a_reviewed_template_goes_out_as_its_text_on_any_provider(api, owner_alice, staff_oscar, fake_provider):
    instance = make_instance(owner_alice.account, name="support-line", provider="fake", connected=True)
    approved(owner_alice, staff_oscar, name="order_shipped", body=SHIPPED)

    response = send(api, instance="support-line")

    assert response.status_code == 202, response.content
    queue.lane_run(instance_id=instance.pk)
    assert [m["text"] for m in fake_provider.sent] == ["Your order #1042 has shipped and arrives on Thursday."]
    message = Message.objects.get(public_id=response.json()["message_id"])
    assert message.template.source == "reviewed"


def test_a_reviewed_template_must_be_approved(api, owner_alice, fake_provider):
    make_instance(owner_alice.account, name="support-line", provider="fake", connected=True)
    submit(owner_alice, name="order_shipped", body=SHIPPED)

    response = send(api, instance="support-line")

    assert response.status_code == 422 and "pending review" in response.json()["message"]


def test_another_account_s_template_cannot_be_sent(api, owner_alice, outsider_charlie, staff_oscar, fake_provider):
    make_instance(owner_alice.account, name="support-line", provider="fake", connected=True)
    approved(outsider_charlie, staff_oscar, name="order_shipped", body=SHIPPED)

    response = send(api, instance="support-line")

    assert response.status_code == 422 and "no template named order_shipped" in response.json()["message"]


class TestConversationWindow:
    def test_free_form_text_to_a_cloud_recipient_outside_the_window_is_refused_with_a_hint(
        self, api, cloud_line, fake_cloud
    ):
        response = api.send(instance_id="cloud-line", phone=PHONE, message="Hello", message_purpose="support")

        assert response.status_code == 409
        body = response.json()
        assert body["error"] == "conversation_window_closed" and "template" in body["details"]["hint"]
        assert fake_cloud.requests == []

    def test_inside_the_window_free_form_text_is_sent(self, api, cloud_line, fake_cloud):
        wrote_earlier(cloud_line, PHONE)
        response = api.send(instance_id="cloud-line", phone=PHONE, message="Hello", message_purpose="support")
        assert response.status_code == 202, response.content

    def test_a_reviewed_template_on_a_cloud_instance_is_free_form_text_too(
        self, api, cloud_line, owner_alice, staff_oscar
    ):
        approved(owner_alice, staff_oscar, name="order_shipped", body=SHIPPED)
        response = send(api)
        assert response.status_code == 409 and response.json()["error"] == "conversation_window_closed"

    def test_other_providers_have_no_window_check(self, api, owner_alice, fake_provider):
        make_instance(owner_alice.account, name="support-line", provider="fake", connected=True)
        response = api.send(instance_id="support-line", phone=PHONE, message="Hello", message_purpose="support")
        assert response.status_code == 202


class TestMetaRefusesAtSendTime:
    """Our copy can be stale (Meta paused or deleted the template, or changed its variables since the last sync):
    Meta's synchronous error fails the message with a clear code, never retried."""

    @pytest.mark.parametrize(
        ("change", "code", "words"),
        [
            ("paused", "template_paused", "paused"),
            ("disabled", "template_disabled", "disabled"),
            ("deleted", "template_not_found", "does not exist in en"),
            ("one_variable", "template_variable_count", "localizable_params (2) does not match the expected number"),
        ],
    )
    def test_each_refusal_is_mapped(self, api, synced, fake_cloud, change, code, words):
        template = next(t for t in fake_cloud.templates[WABA_ID] if t["name"] == "order_shipped")
        if change == "paused":
            template["status"] = "PAUSED"
        elif change == "disabled":
            template["status"] = "DISABLED"
        elif change == "deleted":
            fake_cloud.templates[WABA_ID].remove(template)
        else:
            template["components"] = [{"type": "BODY", "text": "Your order {{1}} has shipped."}]
        message_id = send(api).json()["message_id"]

        assert queue.lane_run(instance_id=synced.pk) == "failed"

        message = Message.objects.get(public_id=message_id)
        assert (message.status, message.error_code) == (MessageStatus.FAILED, code)
        assert words in message.error_message


def test_dry_run_of_a_template_validates_without_sending(api, synced, fake_cloud):
    response = api.send(
        instance_id="cloud-line",
        phone=PHONE,
        template={"name": "order_shipped", "language": "en", "variables": ["#1", "soon"]},
        message_purpose="transactional",
        dry_run=True,
    )
    assert response.status_code == 200 and response.json()["status"] == "validated"
    message = Message.objects.get(status="validated")
    assert (message.template.name, message.text) == ("order_shipped", "Your order #1 has shipped and arrives soon.")
    assert fake_cloud.requests == []


def test_the_openapi_document_describes_template_sends(client, db):
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/api/send-message"]["post"]
    body = operation["requestBody"]["content"]["application/json"]
    properties = body["schema"]["properties"]

    assert set(properties["template"]["anyOf"][0]["properties"]) == {"name", "language", "variables"}
    assert "$ref" not in str(body["schema"])  # nested models inlined: a client generator can resolve everything
    assert "template" in body["examples"]
    assert "conversation_window_closed" in str(operation["responses"]["409"])
    assert "template_category_marketing" in properties["template"]["description"]


def test_an_approved_template_sent_by_name_skips_the_content_rules_not_the_bulk_ones(
    api, owner_alice, staff_oscar, fake_provider
):
    make_instance(owner_alice.account, name="support-line", provider="fake", connected=True)
    body = "Your offer letter {{1}} is ready: the exclusive free parking deal applies from {{2}}."
    approved(owner_alice, staff_oscar, name="offer_letter", body=body)

    response = api.send(
        instance_id="support-line",
        phone=PHONE,
        template={"name": "offer_letter", "language": "en", "variables": ["OL-77", "Monday"]},
        message_purpose="transactional",
        dry_run=True,
    )

    assert response.status_code == 200, response.content
    assert (response.json()["risk_score"], response.json()["reasons"]) == (0, [])


@pytest.mark.parametrize(
    "extra",
    [
        {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}"},
        {"type": "HEADER", "format": "IMAGE"},
        {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Track", "url": "https://t.example/{{1}}"}]},
    ],
)
def test_a_meta_template_with_parameters_outside_its_body_is_refused_clearly(api, cloud_line, fake_cloud, extra):
    template = fake_cloud.add_template("order_shipped", SHIPPED)
    template["components"].append(extra)
    template_sync(instance=cloud_line, waba_id=WABA_ID)
    fake_cloud.clear()

    response = send(api)

    assert response.status_code == 422 and response.json()["details"]["field"] == "template"
    assert "header or buttons" in response.json()["message"]
    assert fake_cloud.requests == []


def test_a_text_header_without_variables_is_fine(api, cloud_line, fake_cloud):
    template = fake_cloud.add_template("order_shipped", SHIPPED)
    template["components"].insert(0, {"type": "HEADER", "format": "TEXT", "text": "Acme Store"})
    template_sync(instance=cloud_line, waba_id=WABA_ID)

    assert send(api).status_code == 202
