"""The downloadable 3CX CRM-integration template that turns 3CX calls into call events (docs/api.md "3CX integration").

3CX has no generic call webhook; its server-side CRM integration runs two HTTP scenarios we use:

* the contact-lookup scenario (``Id=""``) when a call rings → ``call_started`` (logged, ``call.received``);
* the journaling scenario (``Id="ReportCall"``) when a call ends → ``call_ended`` with ``[CallType]``; the webhook
  treats ``Missed`` / ``Notanswered`` as ``missed_call`` (template + ``call.missed``).

The secret is not baked in: the template declares a ``Secret`` parameter that the 3CX admin types into the CRM
settings, so the file itself can be downloaded any time without exposing a credential.
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from whatsapp_gateway.threecx.incoming.request import SECRET_HEADER
from whatsapp_gateway.threecx.models import Integration

TEMPLATE_NAME = "WhatsAppGateway"
TEMPLATE_VERSION = 1


def crm_template_xml(*, integration: Integration, webhook_url: str) -> str:
    """The XML for 3CX → Admin → Integrations → CRM → "Add" (upload a template)."""
    url = quoteattr(webhook_url)
    name = quoteattr(f"{TEMPLATE_NAME} {integration.public_id}"[:60])
    secret_header = quoteattr(SECRET_HEADER)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<!-- WhatsApp Gateway: 3CX call events for integration {integration.public_id}.
     Upload in 3CX: Admin > Integrations > CRM > select "Add" and pick this file; then enter the integration secret
     (shown once on the gateway's 3CX page) in the "Integration secret" field. -->
<Crm Country="US" Name={name} Version="{TEMPLATE_VERSION}" SupportsEmojis="true">
  <Number Prefix="Plus" MaxLength="" />
  <Connection MaxConcurrentRequests="4" />
  <Parameters>
    <Parameter Name="GatewayUrl" Type="String" Parent="General Configuration" Editor="String" Title="Gateway webhook URL:" Default={url} />
    <Parameter Name="Secret" Type="Password" Parent="General Configuration" Editor="String" Title="Integration secret:" Default="" />
    <Parameter Name="LookupEnabled" Type="Boolean" Editor="String" Title="Report ringing calls (call_started)" Default="True" />
    <Parameter Name="ReportCallEnabled" Type="Boolean" Editor="String" Title="Report ended and missed calls (Call Journaling)" Default="True" />
  </Parameters>
  <Authentication Type="No" />
  <Scenarios>
    <Scenario Id="" Type="REST">
      <Request SkipIf="[LookupEnabled]!=True" Url="[GatewayUrl]" MessagePasses="0" RequestContentType="application/json" RequestEncoding="Json" RequestType="Post" ResponseType="Json">
        <Headers>
          <Value Key={secret_header} Type="String">[Secret]</Value>
        </Headers>
        <PostValues>
          <Value Key="event_type" Type="String">call_started</Value>
          <Value Key="caller" Type="String">[Number]</Value>
          <Value Key="direction" Type="String">[CallDirection]</Value>
        </PostValues>
      </Request>
      <Rules>
        <Rule Type="Any">contacts.id</Rule>
      </Rules>
      <Variables />
      <Outputs AllowEmpty="true" />
    </Scenario>
    <Scenario Id="ReportCall" Type="REST">
      <Request SkipIf="[ReportCallEnabled]!=True" Url="[GatewayUrl]" MessagePasses="0" RequestContentType="application/json" RequestEncoding="Json" RequestType="Post" ResponseType="Json">
        <Headers>
          <Value Key={secret_header} Type="String">[Secret]</Value>
        </Headers>
        <PostValues>
          <Value Key="event_type" Type="String">call_ended</Value>
          <Value Key="call_type" Type="String">[CallType]</Value>
          <Value Key="direction" Type="String">[CallDirection]</Value>
          <Value Key="caller" Type="String">[Number]</Value>
          <Value Key="agent_extension" Type="String">[Agent]</Value>
          <Value Key="duration" Type="String">[Duration]</Value>
          <Value Key="call_time" Type="String">[[CallStartTimeUTC].ToString("yyyy-MM-ddTHH:mm:ssZ")]</Value>
        </PostValues>
      </Request>
      <Variables />
      <Outputs AllowEmpty="true" />
    </Scenario>
  </Scenarios>
</Crm>
"""
