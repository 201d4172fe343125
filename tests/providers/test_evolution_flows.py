"""Evolution quirks end to end, through the real callback route into the gateway's state: an opt-out sent from an
``@lid`` address (phone in ``remoteJidAlt``) suppresses the phone number, and "QR code limit reached" ends pairing."""

from __future__ import annotations

import pytest

from tests.providers.conftest import post_callback
from whatsapp_gateway.inbound.models import InboundMessage
from whatsapp_gateway.instances.models import Instance, InstanceState
from whatsapp_gateway.instances.services import instance_connect
from whatsapp_gateway.suppression.models import Suppression

pytestmark = pytest.mark.django_db
OWN, CUSTOMER, LID = "+5511900001111", "+5511988887777", "103899771998284@lid"


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    def send(instance, callback):
        response = post_callback(client, instance, callback, capture=django_capture_on_commit_callbacks)
        assert response.status_code == 200, response.content
        return Instance.objects.get(pk=instance.pk)

    return send


def test_a_stop_from_a_lid_address_suppresses_the_phone_number_it_resolves_to(evolution_instance, fake_evolution, post):
    ref = evolution_instance.provider_ref
    instance = post(evolution_instance, fake_evolution.pair(ref, phone=OWN))
    stop = fake_evolution.callback(
        ref,
        "messages.upsert",
        {
            "key": {
                "remoteJid": LID,
                "remoteJidAlt": "5511988887777@s.whatsapp.net",
                "addressingMode": "lid",
                "fromMe": False,
                "id": "3A554E20ECABF3D45BB9",
            },
            "pushName": "Maria",
            "message": {"conversation": "STOP"},
            "messageType": "conversation",
            "messageTimestamp": 1753614857,
            "source": "android",
        },
    )

    post(instance, stop)

    row = InboundMessage.objects.get(instance=instance)
    assert (row.sender_phone, row.sender_lid, row.text) == (CUSTOMER, LID, "STOP")
    assert Suppression.objects.filter(account=instance.account, phone_e164=CUSTOMER).exists()


def test_qr_code_limit_reached_ends_pairing_with_a_reason(evolution_instance, fake_evolution, post):
    ref = evolution_instance.provider_ref
    instance = instance_connect(instance=evolution_instance)
    assert instance.state == InstanceState.PAIRING

    instance = post(
        instance,
        fake_evolution.callback(
            ref, "qrcode.updated", {"message": "QR code limit reached, please login again", "statusCode": 500}
        ),
    )
    assert instance.state == InstanceState.DISCONNECTED

    # Evolution follows with connection.update "refused": the instance stays disconnected, with a reason to act on.
    instance = post(
        instance,
        fake_evolution.callback(ref, "connection.update", {"instance": ref, "state": "refused", "statusReason": 500}),
    )
    assert instance.state == InstanceState.DISCONNECTED
    assert "Connect again" in instance.state_reason
