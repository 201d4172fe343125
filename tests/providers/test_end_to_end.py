"""The sandbox's end-to-end scenario through each real adapter against its local fake, via the real callback route:
pair → send (API) → sent / delivered / read → inbound message → STOP (suppression, opt-out event, confirmation).

The sandbox itself is the first parameter: the very same steps and assertions, driven through its simulated phone,
so "the same scenario as the sandbox" is checked, not just claimed.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
import time_machine
from django.utils import timezone

from tests.messaging.conftest import ApiClient
from tests.providers.conftest import post_callback
from whatsapp_gateway.apikeys.services import api_key_create
from whatsapp_gateway.contacts.models import Contact, Conversation
from whatsapp_gateway.inbound.models import InboundMessage
from whatsapp_gateway.instances.models import Instance, InstanceState
from whatsapp_gateway.instances.services import instance_connect, instance_create
from whatsapp_gateway.messaging import queue
from whatsapp_gateway.messaging.models import Message, MessageStatus
from whatsapp_gateway.providers.models import SandboxMessage
from whatsapp_gateway.providers.sandbox import simulate
from whatsapp_gateway.providers.sandbox.phone import STATUS_STEPS, fake_phone_number
from whatsapp_gateway.providers.sandbox.server import status_advance
from whatsapp_gateway.suppression.models import Suppression
from whatsapp_gateway.webhooks.models import Event

pytestmark = pytest.mark.django_db
CUSTOMER = "+5511988887777"
OWN_NUMBER = "+5511900001111"


class Scenario:
    """Drives one provider's fake through the steps; each method returns the callback(s) the provider posts."""

    def __init__(self, name, fake, client, capture):
        self.name, self.fake, self.client, self.capture = name, fake, client, capture

    def post(self, instance, callback):
        response = post_callback(self.client, instance, callback, capture=self.capture)
        assert response.status_code == 200, response.content
        return Instance.objects.get(pk=instance.pk)

    def pair(self, instance, alice_client) -> Instance:
        ref = instance.provider_ref
        if self.name == "sandbox":
            instance = instance_connect(instance=instance)
            assert instance.state == InstanceState.PAIRING and instance.qr_payload
            simulate.scan(instance=instance)  # the simulated phone scans; its callback is processed at once
            return Instance.objects.get(pk=instance.pk)
        if self.name == "evolution":
            instance = instance_connect(instance=instance)
            assert instance.state == InstanceState.PAIRING and instance.qr_payload.startswith("2@")
            return self.post(instance, self.fake.pair(ref, phone=OWN_NUMBER))
        if self.name == "waha":
            instance = instance_connect(instance=instance)  # STARTING: the QR follows with session.status
            instance = self.post(instance, self.fake.status_callback(ref, "SCAN_QR_CODE"))
            assert instance.state == InstanceState.PAIRING and instance.qr_payload == f"2@wahaqr,{ref}"
            return self.post(instance, self.fake.pair(ref, phone=OWN_NUMBER))
        # Cloud: no QR; the admin enters the phone number id, and the customer wrote earlier (24 h window open,
        # at Meta and in the gateway's conversation record).
        self.fake.last_inbound[CUSTOMER.lstrip("+")] = time.time()
        response = alice_client.post(
            f"/instances/{instance.public_id}/cloud-setup", {"phone_number_id": "106540352242922"}
        )
        assert response.status_code == 302
        wrote_earlier(instance, CUSTOMER)
        return Instance.objects.get(pk=instance.pk)

    def statuses(self, instance, provider_message_id) -> None:
        if self.name == "sandbox":  # the simulated phone's receipts through the route (zero delays in tests: the
            # first step's commit schedules the next ones at once)
            phone_message = SandboxMessage.objects.get(provider_message_id=provider_message_id)
            while phone_message.status != STATUS_STEPS[-1]:
                with self.capture(execute=True):
                    assert status_advance(message_pk=phone_message.pk, from_status=phone_message.status)
                phone_message.refresh_from_db()
            return
        steps = {
            "evolution": ("SERVER_ACK", "DELIVERY_ACK", "READ"),
            "waha": ("SERVER", "DEVICE", "READ"),
            "cloud": ("sent", "delivered", "read"),
        }[self.name]
        for step in steps:
            if self.name == "evolution":
                callback = self.fake.status_callback(instance.provider_ref, provider_message_id, step)
            elif self.name == "waha":
                callback = self.fake.ack_callback(instance.provider_ref, provider_message_id, step)
            else:
                callback = self.fake.status_callback(provider_message_id, step)
            self.post(instance, callback)

    def inbound(self, instance, text) -> None:
        if self.name == "sandbox":
            with self.capture(execute=True):
                simulate.inbound(instance=instance, from_phone=CUSTOMER, text=text)
            return
        self.post(instance, self.fake.inbound(instance.provider_ref, phone=CUSTOMER, text=text))

    def sent_texts(self) -> list[str]:
        if self.name == "sandbox":
            return list(SandboxMessage.objects.order_by("id").values_list("text", flat=True))
        if self.name == "evolution":
            return [r.json["text"] for r in self.fake.requests if r.path.startswith("/message/sendText/")]
        if self.name == "waha":
            return [r.json["text"] for r in self.fake.calls("POST", "/api/sendText")]
        return [r.json["text"]["body"] for r in self.fake.requests if r.path.endswith("/messages")]


def wrote_earlier(instance, phone: str) -> None:
    """The gateway's record that ``phone`` wrote to ``instance`` a moment ago (the Cloud API's 24-hour window)."""
    contact, _ = Contact.objects.get_or_create(account=instance.account, phone_e164=phone)
    Conversation.objects.update_or_create(
        account=instance.account, instance=instance, contact=contact, defaults={"last_inbound_at": timezone.now()}
    )


def event_types(instance) -> list[str]:
    return list(Event.objects.filter(instance=instance).order_by("id").values_list("event_type", flat=True))


@pytest.mark.parametrize("provider", ["sandbox", "evolution", "waha", "cloud"])
def test_pair_send_receipts_inbound_and_stop_through_the_real_adapter(
    provider, request, owner_alice, alice_client, client, settings, django_capture_on_commit_callbacks
):
    fake = request.getfixturevalue(f"fake_{provider}") if provider != "sandbox" else None
    scenario = Scenario(provider, fake, client, django_capture_on_commit_callbacks)
    settings.GATEWAY_PROVIDERS_ALLOWED = ["sandbox", provider]

    # 1. Create and pair.
    instance = instance_create(account=owner_alice.account, name=f"{provider}-line", provider=provider)
    assert instance.state == InstanceState.CREATED
    # A Cloud instance gets its phone number id when paired; the sandbox needs none.
    assert instance.provider_ref or provider in ("cloud", "sandbox")
    instance = scenario.pair(instance, alice_client)
    assert instance.state == InstanceState.CONNECTED
    own = {"cloud": "+15550783881", "sandbox": fake_phone_number(instance)}.get(provider, OWN_NUMBER)
    assert instance.phone_number == own
    assert "instance.connected" in event_types(instance)

    # 2. Send through the public API; the queue hands it to the provider.
    key = api_key_create(account=owner_alice.account, name="CRM", created_by=owner_alice.user).full_key
    response = ApiClient(key).send(
        instance_id=instance.name,
        phone=CUSTOMER,
        message="Your order #1042 has shipped.",
        message_purpose="transactional",
    )
    assert response.status_code == 202, response.content
    message = Message.objects.get(public_id=response.json()["message_id"])
    assert queue.lane_run(instance_id=instance.pk) in ("sent", "accepted")
    message.refresh_from_db()
    assert message.provider_message_id
    assert scenario.sent_texts() == ["Your order #1042 has shipped."]

    # 3. Receipts arrive as provider callbacks.
    scenario.statuses(instance, message.provider_message_id)
    message.refresh_from_db()
    assert message.status == MessageStatus.READ
    receipts = {"message.sent", "message.delivered", "message.read", "message.failed"}
    assert [t for t in event_types(instance) if t in receipts] == [
        "message.sent",
        "message.delivered",
        "message.read",
    ]

    # 4. The customer writes back.
    scenario.inbound(instance, "Thanks! When will it arrive?")
    row = InboundMessage.objects.get(instance=instance)
    assert (row.sender_phone, row.text) == (CUSTOMER, "Thanks! When will it arrive?")
    assert "message.received" in event_types(instance)

    # 5. STOP: the number is suppressed, customers hear about it, and one confirmation goes out.
    scenario.inbound(instance, "STOP")
    suppression = Suppression.objects.get(account=owner_alice.account, phone_e164=CUSTOMER)
    assert suppression.keyword.upper() == "STOP"
    assert "recipient.opted_out" in event_types(instance)
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2), tick=False):
        queue.lane_run(instance_id=instance.pk)
    assert len(scenario.sent_texts()) == 2  # the opt-out confirmation, through the same adapter

    # 6. A later send to the opted-out number is refused before it reaches the provider.
    refused = ApiClient(key).send(
        instance_id=instance.name, phone=CUSTOMER, message="One more thing", message_purpose="transactional"
    )
    assert refused.status_code == 403 and refused.json()["error"] == "recipient_suppressed"
    assert len(scenario.sent_texts()) == 2


def test_a_cloud_text_to_someone_who_never_wrote_is_refused_at_once_with_a_hint(
    owner_alice, alice_client, settings, fake_cloud
):
    settings.GATEWAY_PROVIDERS_ALLOWED = ["cloud"]
    instance = instance_create(account=owner_alice.account, name="meta-line", provider="cloud")
    alice_client.post(f"/instances/{instance.public_id}/cloud-setup", {"phone_number_id": "106540352242922"})
    key = api_key_create(account=owner_alice.account, name="CRM", created_by=owner_alice.user).full_key
    fake_cloud.clear()

    response = ApiClient(key).send(
        instance_id="meta-line", phone=CUSTOMER, message="Hello out of the blue", message_purpose="transactional"
    )

    assert response.status_code == 409, response.content
    body = response.json()
    assert body["error"] == "conversation_window_closed"
    assert "template" in body["details"]["hint"] and "24" in body["message"]
    assert fake_cloud.calls("POST") == []  # never reached Meta
    assert Message.objects.get(account=owner_alice.account).block_code == body["error"]


def test_a_cloud_message_meta_still_finds_outside_the_window_fails_with_a_clear_reason(
    owner_alice, alice_client, client, settings, fake_cloud, django_capture_on_commit_callbacks
):
    settings.GATEWAY_PROVIDERS_ALLOWED = ["cloud"]
    instance = instance_create(account=owner_alice.account, name="meta-line", provider="cloud")
    alice_client.post(f"/instances/{instance.public_id}/cloud-setup", {"phone_number_id": "106540352242922"})
    key = api_key_create(account=owner_alice.account, name="CRM", created_by=owner_alice.user).full_key
    wrote_earlier(instance, CUSTOMER)  # the gateway believes the window is open; Meta does not
    response = ApiClient(key).send(
        instance_id="meta-line", phone=CUSTOMER, message="Hello out of the blue", message_purpose="transactional"
    )
    assert response.status_code == 202, response.content
    queue.lane_run(instance_id=instance.pk)
    message = Message.objects.get(public_id=response.json()["message_id"])
    message.refresh_from_db()

    # Meta accepts the request, then reports the failure in the status webhook.
    post_callback(
        client,
        Instance.objects.get(pk=instance.pk),
        fake_cloud.status_callback(message.provider_message_id, "sent"),
        capture=django_capture_on_commit_callbacks,
    )

    message.refresh_from_db()
    assert (message.status, message.error_code) == (MessageStatus.FAILED, "outside_24h_window")
    failed = Event.objects.get(instance=instance, event_type="message.failed").payload
    assert failed["error_code"] == "outside_24h_window"
    assert "24 hours" in failed["error_message"] and "template" in failed["error_message"]
