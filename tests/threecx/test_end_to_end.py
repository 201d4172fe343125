"""End to end over real HTTP: a sandbox customer writes and the message reaches a fake 3CX; the agent replies from
3CX through the Generic SMS form and the native form and the customer's sandbox phone receives both; a missed call
sends the rendered template once and is skipped inside the cooldown."""

from __future__ import annotations

import pytest

from tests.factories import make_instance
from whatsapp_gateway.messaging import policy
from whatsapp_gateway.messaging.models import Message
from whatsapp_gateway.providers.models import SandboxMessage
from whatsapp_gateway.providers.sandbox import simulate
from whatsapp_gateway.threecx.pbx_simulator import PbxSimulator
from whatsapp_gateway.threecx.services import did_mapping_add, integration_create, integration_update
from whatsapp_gateway.webhooks.models import Event

CUSTOMER = "+966512345678"
DID = "+13052314933"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pbx(settings, monkeypatch):
    settings.GATEWAY_ALLOW_PRIVATE_WEBHOOKS = True  # the fake 3CX listens on 127.0.0.1
    # Pacing is a queue property with its own tests; here consecutive replies go out at once.
    monkeypatch.setattr(policy, "PACING_MIN_GAP_SECONDS", 0.0)
    monkeypatch.setattr(policy, "PACING_MAX_JITTER_SECONDS", 0.0)
    with PbxSimulator() as fake:
        yield fake


def test_a_whatsapp_conversation_handled_from_3cx(owner_alice, live_server, pbx):
    line = make_instance(owner_alice.account, name="support-line", connected=True)
    integration, credentials = integration_create(
        account=owner_alice.account,
        name="Head office 3CX",
        default_instance=line,
        endpoint_url=pbx.url(),
        call_event_enabled=True,
        business_name="Alice Bakery",
    )
    integration_update(
        integration=integration,
        templates={
            **integration.templates,
            "missed_call": {"enabled": True, "text": "{{business_name}}: sorry we missed your call. Reply here!"},
        },
    )
    did_mapping_add(integration=integration, did=DID, instance=line)
    provider_url = f"{live_server.url}/integrations/3cx/webhook/{integration.public_id}"

    # 1. The customer writes on WhatsApp (the sandbox phone) → the message reaches 3CX as a Generic SMS event.
    simulate.inbound(instance=line, from_phone=CUSTOMER, text="Hello, is my order ready?", from_name="Maria")
    envelope = pbx.wait_for(1)[0].json["data"]
    assert envelope["event_type"] == "message.received"
    assert envelope["payload"]["text"] == "Hello, is my order ready?"
    assert envelope["payload"]["from"] == {"phone_number": CUSTOMER}
    assert envelope["payload"]["to"] == [{"phone_number": DID}]

    # 2. The agent answers in the 3CX chat: stock 3CX posts {"from", "to", "text"} with the Bearer key.
    reply = pbx.post_generic_sms(provider_url, credentials.api_key, from_=DID, to=CUSTOMER, text="Yes, it ships today.")
    assert reply.status_code == 200
    data = reply.json()["data"]
    assert (data["record_type"], data["status"]) == ("message", "queued")
    first = Message.objects.get(public_id=data["id"])
    assert first.source == "threecx" and first.status in ("delivered", "read")

    # 3. Custom middleware answers through the native form, signed.
    native = pbx.post_native(
        provider_url,
        credentials.secret,
        {
            "event_type": "outbound_message",
            "to": CUSTOMER,
            "message_text": "Tracking: AB123.",
            "agent_extension": "101",
        },
        sign=True,
    )
    assert native.status_code == 202
    second = Message.objects.get(public_id=native.json()["message_id"])
    assert second.status in ("delivered", "read")

    # The customer's sandbox phone received both replies.
    received = SandboxMessage.objects.filter(instance=line, to_phone=CUSTOMER).order_by("id")
    phone = list(received.values_list("text", flat=True))
    assert phone == ["Yes, it ships today.", "Tracking: AB123."]

    # 4. A missed call: the template goes out once, then the cooldown holds.
    missed = {"event_type": "missed_call", "caller": CUSTOMER, "agent_extension": "104"}
    sent = pbx.post_native(provider_url, credentials.secret, missed)
    assert sent.status_code == 202
    template = Message.objects.get(public_id=sent.json()["message_id"])
    assert template.text == "Alice Bakery: sorry we missed your call. Reply here!"
    again = pbx.post_native(provider_url, credentials.secret, missed)
    assert again.status_code == 200
    assert again.json()["status"] == "skipped" and again.json()["reason"] == "cooldown"
    assert SandboxMessage.objects.filter(instance=line, to_phone=CUSTOMER).count() == 3
    assert Event.objects.filter(event_type="call.missed").count() == 2
