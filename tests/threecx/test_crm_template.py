"""The downloadable CRM template, filled in the way 3CX fills it, drives the webhook: a ringing call is logged as
``call_started`` (``call.received``), a missed call journal entry sends the missed-call template (``call.missed``),
and 3CX re-sending the same journal entry is one call."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from tests.threecx.helpers import customer_wrote
from whatsapp_gateway.messaging.models import Message
from whatsapp_gateway.threecx.models import IntegrationEvent
from whatsapp_gateway.webhooks.models import Event

pytestmark = pytest.mark.django_db

CUSTOMER = "+966512345678"


def three_cx_request(scenario: ET.Element, variables: dict[str, str]) -> tuple[str, dict[str, str], bytes]:
    """What 3CX sends for ``scenario``: ``[Var]`` substituted in the URL, headers and JSON post values."""

    def fill(text: str) -> str:
        text = re.sub(r"\[\[CallStartTimeUTC\]\.ToString\([^)]*\)\]", variables["CallStartTimeUTC"], text)
        return re.sub(r"\[(\w+)\]", lambda m: variables[m.group(1)], text)

    request = scenario.find("Request")
    headers = {v.get("Key"): fill(v.text or "") for v in request.find("Headers")}
    body = {v.get("Key"): fill(v.text or "") for v in request.find("PostValues")}
    assert request.get("RequestEncoding") == "Json" and request.get("RequestType") == "Post"
    return fill(request.get("Url")), headers, json.dumps(body).encode()


def post(client, url: str, headers: dict[str, str], body: bytes):
    meta = {"HTTP_" + key.upper().replace("-", "_"): value for key, value in headers.items()}
    return client.post(url.removeprefix("http://127.0.0.1:8000"), data=body, content_type="application/json", **meta)


def test_the_crm_template_as_3cx_fills_it_reports_calls(
    alice_client, client, integration, secret, alice_threecx_instance
):
    xml = alice_client.get(f"/integrations/3cx/{integration.public_id}/crm-template.xml").content
    root = ET.fromstring(xml)  # noqa: S314 (our own output)
    parameters = {p.get("Name"): p.get("Default") for p in root.iter("Parameter")}
    scenarios = {s.get("Id"): s for s in root.iter("Scenario")}
    variables = {
        **parameters,
        "Secret": secret,  # typed in by the 3CX admin
        "Number": CUSTOMER,  # <Number Prefix="Plus">: E.164 with the plus
        "CallDirection": "Inbound",
        "CallType": "Missed",
        "Agent": "104",
        "Duration": "00:00:00",
        "CallStartTimeUTC": "2026-11-24T09:30:00Z",
    }
    customer_wrote(alice_threecx_instance, CUSTOMER)

    ringing = post(client, *three_cx_request(scenarios[""], variables))
    assert ringing.status_code == 200 and ringing.json()["status"] == "logged"
    assert IntegrationEvent.objects.latest("id").event_type == "call_started"

    report = three_cx_request(scenarios["ReportCall"], variables)
    missed = post(client, *report)
    assert missed.status_code == 202, missed.json()
    assert missed.json()["event_type"] == "missed_call"
    assert Message.objects.get(public_id=missed.json()["message_id"]).source == "threecx"
    again = post(client, *report)  # 3CX re-sends the journal entry
    assert again.json() == missed.json() and again["Idempotent-Replayed"] == "true"

    assert sorted(Event.objects.values_list("event_type", flat=True)) == ["call.missed", "call.received"]
    assert Message.objects.count() == 1


@pytest.mark.parametrize("call_type", ["Outbound", "Notanswered"])
def test_an_agents_outbound_call_is_logged_but_is_no_customer_call(
    alice_client, client, integration, secret, call_type
):
    xml = alice_client.get(f"/integrations/3cx/{integration.public_id}/crm-template.xml").content
    scenarios = {s.get("Id"): s for s in ET.fromstring(xml).iter("Scenario")}  # noqa: S314 (our own output)
    variables = {
        "GatewayUrl": f"http://127.0.0.1:8000/integrations/3cx/webhook/{integration.public_id}",
        "Secret": secret,
        "Number": CUSTOMER,
        "CallDirection": "Outbound",
        "CallType": call_type,
        "Agent": "104",
        "Duration": "00:00:00",
        "CallStartTimeUTC": "2026-11-24T09:30:00Z",
    }
    for scenario in ("", "ReportCall"):
        answer = post(client, *three_cx_request(scenarios[scenario], variables))
        assert answer.status_code == 200
        assert (answer.json()["status"], answer.json()["reason"]) == ("skipped", "outbound_call")
    assert not Event.objects.exists(), "an agent's outbound call is neither call.received nor call.missed"
    assert not Message.objects.exists()
    assert list(IntegrationEvent.objects.values_list("decision", flat=True)) == ["skipped", "skipped"]
