"""The portal's test send and 3CX call-event follow-ups take the same template path on a Cloud API instance."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from tests.providers.fakes.cloud import WABA_ID
from whatsapp_gateway.message_templates.sync import template_sync
from whatsapp_gateway.messaging import queue
from whatsapp_gateway.messaging.models import Message, TestNumber
from whatsapp_gateway.threecx.services import integration_create

pytestmark = pytest.mark.django_db
PHONE = "+966501234567"
FOLLOW_UP = "Hello from {{1}}. We missed your call at {{2}}; reply here and we will help."


@pytest.fixture
def synced(cloud_line, fake_cloud):
    fake_cloud.add_template("order_shipped", "Your order {{1}} has shipped today.")
    fake_cloud.add_template("missed_call_follow_up", FOLLOW_UP)
    template_sync(instance=cloud_line, waba_id=WABA_ID)
    fake_cloud.clear()
    return cloud_line


class TestPortalTestSend:
    def tab(self, instance):
        return f"/instances/{instance.public_id}/manage?tab=test-send"

    def test_a_meta_template_is_offered_and_sent_as_a_whatsapp_template(
        self, alice_client, owner_alice, synced, fake_cloud
    ):
        number = TestNumber.objects.create(account=owner_alice.account, phone_e164=PHONE, verified_at=timezone.now())
        page = alice_client.get(self.tab(synced)).content.decode()
        assert "order_shipped (en, Meta)" in page

        template = synced.message_templates.get(name="order_shipped")
        response = alice_client.post(
            self.tab(synced),
            {
                "action": "send",
                "number": number.public_id,
                "template": template.public_id,
                "variables": "#77\n",
                "purpose": "transactional",
            },
        )

        assert response.status_code == 302, response.content
        message = Message.objects.get(source="portal_test")
        assert (message.template, message.text) == (template, "Your order #77 has shipped today.")
        queue.lane_run(instance_id=synced.pk)
        (call,) = fake_cloud.calls("POST", "/v25.0/106540352242922/messages")
        assert call.json["type"] == "template" and call.json["template"]["name"] == "order_shipped"

    def test_free_text_outside_the_window_is_refused_with_the_hint(self, alice_client, owner_alice, synced):
        number = TestNumber.objects.create(account=owner_alice.account, phone_e164=PHONE, verified_at=timezone.now())
        response = alice_client.post(
            self.tab(synced),
            {"action": "send", "number": number.public_id, "message": "Hi me", "purpose": "support"},
            follow=True,
        )
        assert "conversation_window_closed" in response.content.decode()


class TestThreeCxCallEvents:
    @pytest.fixture
    def pbx(self, owner_alice, synced, monkeypatch):
        from whatsapp_gateway.lib import urlsafety

        monkeypatch.setattr(urlsafety, "system_resolver", lambda host, port: ["93.184.216.34"])
        integration, credentials = integration_create(
            account=owner_alice.account,
            name="Head office 3CX",
            default_instance=synced,
            endpoint_url="https://pbx.example.com/sms/generic/155e0123456789abcdef0123456789ab",
            call_event_enabled=True,
        )
        return integration, credentials.secret

    def post(self, client, pbx, payload):
        integration, secret = pbx
        return client.post(
            f"/integrations/3cx/webhook/{integration.public_id}",
            data=json.dumps(payload).encode(),
            content_type="application/json",
            HTTP_X_WHATSAPP_GATEWAY_3CX_SECRET=secret,
        )

    def test_without_a_meta_template_a_missed_call_follow_up_is_refused_on_cloud(self, client, pbx):
        response = self.post(client, pbx, {"event_type": "missed_call", "caller": PHONE})
        assert response.status_code == 409 and response.json()["error"] == "conversation_window_closed"

    def test_with_a_meta_template_the_caller_gets_it_as_a_whatsapp_template(
        self, client, pbx, alice_client, fake_cloud, synced
    ):
        integration, _ = pbx
        form = alice_client.get(f"/integrations/3cx/{integration.public_id}/edit").content.decode()
        assert "missed_call_follow_up (en) · cloud-line" in form
        templates = dict(integration.templates)
        templates["missed_call"] = {
            **templates.get("missed_call", {}),
            "enabled": True,
            "meta_template": "missed_call_follow_up:en",
            "meta_variables": ["business_name", "call_time"],
        }
        integration.templates = templates
        integration.save(update_fields=["templates"])

        response = self.post(client, pbx, {"event_type": "missed_call", "caller": PHONE})

        assert response.status_code == 202, response.content
        message = Message.objects.get(public_id=response.json()["message_id"])
        assert message.source == "threecx" and message.template.name == "missed_call_follow_up"
        assert message.text.startswith("Hello from Alice Co. We missed your call at ")
        queue.lane_run(instance_id=synced.pk)
        (call,) = fake_cloud.calls("POST", "/v25.0/106540352242922/messages")
        parameters = call.json["template"]["components"][0]["parameters"]
        assert parameters[0] == {"type": "text", "text": "Alice Co"} and len(parameters) == 2
