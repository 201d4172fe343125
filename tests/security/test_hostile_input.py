"""Hostile input never answers 500 nor loses data: lone surrogates, extreme dates, absurd nesting, CSV formulas."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.test import Client

from tests.messaging.conftest import ApiClient, body
from tests.tallies import SECURITY as TALLY
from whatsapp_gateway.inbound.models import InboundMessage
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib.csv_export import safe_cell
from whatsapp_gateway.messaging.models import Message
from whatsapp_gateway.providers.sandbox.server import callback_body, signed_headers
from whatsapp_gateway.suppression.models import Suppression
from whatsapp_gateway.threecx.models import Integration, IntegrationEvent
from whatsapp_gateway.threecx.services import integration_rotate_secret, integration_update

pytestmark = pytest.mark.django_db

SURROGATE = "\\ud800"  # as written in JSON: decodes to a lone surrogate no database can store


def _with_surrogate(data: dict, field: str) -> str:
    data[field] = "x__S__y"
    return json.dumps(data).replace("__S__", SURROGATE)


@pytest.mark.parametrize("field", ["message", "instance_id", "message_purpose", "phone"])
def test_api_invalid_unicode_is_a_logged_validation_error(alice_world, field):
    sender = ApiClient(alice_world["api_key_plain"])
    before = Message.objects.count()
    response = sender.send(raw=_with_surrogate(body(instance_id="world-line"), field))
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error" and response.json()["details"]["field"] == field
    assert Message.objects.count() == before + 1  # the refusal is in the message log
    TALLY["hostile input: invalid unicode"] += 1


def test_a_signed_callback_with_invalid_unicode_is_stored_with_replacement_characters(
    alice_world, django_capture_on_commit_callbacks
):
    instance = Instance.objects.get(public_id=alice_world["instance"])
    raw = callback_body(
        "message", {"id": "SURROGATE-1", "from": "12025550142@s.whatsapp.net", "type": "text", "text": "a__S__b"}
    ).replace(b"__S__", SURROGATE.encode())
    headers = {k: v for k, v in signed_headers(instance, raw).items() if k != "content-type"}
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(
            f"/providers/sandbox/callback/{instance.callback_token}",
            data=raw,
            content_type="application/json",
            headers=headers,
        )
    assert response.status_code == 200
    assert InboundMessage.objects.get(provider_message_id="SURROGATE-1").text == "a\ufffdb"
    TALLY["hostile input: invalid unicode"] += 1


def test_a_3cx_inbound_reply_with_invalid_unicode_is_refused_and_logged(alice_world):
    integration = Integration.objects.get(public_id=alice_world["integration"])
    integration_update(integration=integration, allowed_ips=[])
    secret = integration_rotate_secret(integration=integration).secret
    raw = _with_surrogate({"event_type": "inbound_reply", "from": "+966501110003"}, "conversation_id")
    response = Client().post(
        f"/integrations/3cx/webhook/{integration.public_id}",
        data=raw,
        content_type="application/json",
        HTTP_X_WHATSAPP_GATEWAY_3CX_SECRET=secret,
    )
    assert response.status_code == 422 and response.json()["error"] == "validation_error"
    event = IntegrationEvent.objects.latest("id")
    assert (event.code, event.http_status) == ("validation_error", 422)
    TALLY["hostile input: invalid unicode"] += 1


def test_a_signed_callback_nested_beyond_the_parser_is_a_400(alice_world):
    instance = Instance.objects.get(public_id=alice_world["instance"])
    raw = b"[" * 100_000
    headers = {k: v for k, v in signed_headers(instance, raw).items() if k != "content-type"}
    response = Client().post(
        f"/providers/sandbox/callback/{instance.callback_token}",
        data=raw,
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 400
    TALLY["hostile input: deep nesting"] += 1


@pytest.mark.parametrize(
    "url",
    [
        "/messages?date_from=0001-01-01",
        "/messages?date_to=9999-12-31",
        "/inbound-logs?date_from=0001-01-01&date_to=9999-12-31",
        "/inbound-logs/export.csv?date_from=0001-01-01",
        "/inbound-logs/export.csv?date_to=9999-12-31",
    ],
)
def test_extreme_dates_are_form_errors(alice_client, alice_world, url):
    response = alice_client.get(url)
    assert response.status_code == 200
    if response.streaming:
        b"".join(response.streaming_content)  # the whole file streams
    else:
        assert "Enter a date between 2000-01-01 and 2999-12-31." in response.content.decode()
    TALLY["hostile input: extreme dates"] += 1


FORMULAS = ['=hyperlink("http://x","y")', "-2+3", "@sum(1+1)", "+1+1", "\t=1", "=1"]


def _rows(client, url: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(client.get(url).streaming_content).decode("utf-8-sig"))))


def test_no_export_column_can_carry_a_formula(alice_client, owner_alice, alice_world):
    inbound = InboundMessage.objects.filter(account=owner_alice.account)
    suppressions = Suppression.objects.filter(account=owner_alice.account)
    for formula in FORMULAS:
        inbound.update(keyword=formula, text=formula, sender_name=formula, group_name=formula, group_id=formula)
        suppressions.update(keyword=formula, note=formula, wa_id=formula, removed_note=formula)
        for url in ("/inbound-logs/export.csv", "/suppressed-recipients/export.csv"):
            for row in _rows(alice_client, url)[1:]:
                for cell in row:
                    assert not cell.startswith(("=", "+", "-", "@", "\t")) or cell.lstrip("+-").isdigit(), (url, cell)
                    TALLY["csv: cells checked"] += 1
    # Phone numbers and plain numbers stay as they are, so an exported suppression list re-imports unchanged.
    assert safe_cell("+966501110002") == "+966501110002" and safe_cell("-2") == "-2"
