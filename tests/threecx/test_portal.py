"""The /integrations/3cx pages: create, secrets shown once, edit, rotation, DIDs, CRM template, event log, access."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.isolation import assert_other_account_gets_404
from whatsapp_gateway.accounts.models import AuditLog
from whatsapp_gateway.threecx.models import DidMapping, Integration
from whatsapp_gateway.threecx.services import api_key_hash, secret_hash


def create_form(instance, **overrides):
    data = {
        "name": "Head office",
        "default_instance": instance.public_id,
        "endpoint_url": "https://pbx.example.com/sms/generic/155e0123456789abcdef0123456789fdf8",
        "auth_mode": "secret",
        "allowed_ips": "",
        "inbound_enabled": "on",
        "outbound_enabled": "on",
        "strict_window": "on",
        "business_name": "Alice Bakery",
        "inbound_format": "generic_sms",
        "tpl_missed_call_enabled": "on",
        "tpl_missed_call_text": "Hi from {{business_name}}, we missed your call at {{call_time}}.",
        "tpl_voicemail_text": "",
        "tpl_call_ended_text": "",
        "tpl_queue_callback_text": "",
        "tpl_after_hours_text": "",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_the_list_page_explains_the_setup(alice_client):
    response = alice_client.get("/integrations/3cx")
    assert response.status_code == 200
    assert b"No 3CX integrations yet" in response.content
    assert b"Add a 3CX integration" in response.content


@pytest.mark.django_db
def test_without_the_module_the_page_says_the_operator_must_enable_it(alice_client, owner_alice):
    account = owner_alice.account
    account.enabled_modules = ["api_send"]
    account.save()
    response = alice_client.get("/integrations/3cx")
    assert response.status_code == 200
    assert b"not enabled for your account" in response.content
    assert b"threecx" in response.content
    assert alice_client.get("/integrations/3cx/new").status_code == 403


@pytest.mark.django_db
def test_creating_an_integration_shows_the_secret_and_key_once(alice_client, alice_threecx_instance):
    response = alice_client.post("/integrations/3cx/new", create_form(alice_threecx_instance), follow=True)
    assert response.status_code == 200
    integration = Integration.objects.get()
    assert integration.public_id.startswith("tcx_")
    once = response.context["once"]
    assert once["api_key"].startswith("tcxk_") and once["secret"].startswith("tcxs_")
    assert api_key_hash(once["api_key"]) == integration.api_key_hash
    assert secret_hash(once["secret"]) == integration.secret_hash
    page = response.content.decode()
    assert once["api_key"] in page and once["secret"] in page
    assert f"http://127.0.0.1:8000/integrations/3cx/webhook/{integration.public_id}" in page
    # Second visit: never again.
    again = alice_client.get(f"/integrations/3cx/{integration.public_id}").content.decode()
    assert once["api_key"] not in again and once["secret"] not in again
    assert integration.api_key_prefix in again
    assert AuditLog.objects.filter(action="threecx.integration_created", target_id=integration.public_id).exists()


@pytest.mark.django_db
def test_the_endpoint_url_is_never_shown_in_full_after_saving(alice_client, alice_threecx_instance):
    alice_client.post("/integrations/3cx/new", create_form(alice_threecx_instance))
    integration = Integration.objects.get()
    assert integration.delivery_endpoint.url.endswith("fdf8")
    for url in (f"/integrations/3cx/{integration.public_id}", f"/integrations/3cx/{integration.public_id}/edit"):
        page = alice_client.get(url).content.decode()
        assert "155e0123456789abcdef" not in page
        assert "https://pbx.example.com/sms/…fdf8" in page


@pytest.mark.django_db
def test_the_endpoint_url_is_stored_encrypted(alice_client, alice_threecx_instance):
    from django.db import connection

    alice_client.post("/integrations/3cx/new", create_form(alice_threecx_instance))
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_encrypted FROM threecx_integration")
        (raw_secret,) = cursor.fetchone()
        cursor.execute("SELECT url FROM webhooks_endpoint WHERE kind = 'threecx'")
        (raw_url,) = cursor.fetchone()
    assert "pbx.example.com" not in raw_url and not raw_secret.startswith("tcxs_")


@pytest.mark.django_db
def test_editing_with_an_empty_url_keeps_the_saved_one(alice_client, integration):
    form = create_form(integration.default_instance, endpoint_url="", name="Renamed", call_event_enabled="on")
    response = alice_client.post(f"/integrations/3cx/{integration.public_id}/edit", form)
    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.name == "Renamed"
    assert integration.delivery_endpoint.url.startswith("https://pbx.example.com/")
    entry = AuditLog.objects.get(action="threecx.integration_updated")
    assert "name" in entry.metadata["changed"] and "endpoint_url" not in entry.metadata["changed"]


@pytest.mark.django_db
def test_a_new_url_is_audited_by_its_masked_hint_only(alice_client, integration):
    form = create_form(
        integration.default_instance, endpoint_url="https://pbx2.example.com/sms/generic/aaaabbbbccccdddd"
    )
    alice_client.post(f"/integrations/3cx/{integration.public_id}/edit", form)
    entry = AuditLog.objects.get(action="threecx.integration_updated")
    assert entry.metadata["changed"]["endpoint_url"] == "https://pbx2.example.com/sms/…dddd"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("tpl_missed_call_text", "Hi {{customer_name}}", "Unknown placeholder {{customer_name}}"),
        ("tpl_missed_call_text", "", "An enabled template needs a text."),
        (
            "tpl_missed_call_text",
            "Sorry we missed you! Use code CALL20 for 20% off your next order at {{business_name}}, today only!",
            "The content policy would block this text as marketing",
        ),
        ("allowed_ips", "10.0.0.0/8\nnot-an-ip", "&#x27;not-an-ip&#x27; is not an IP address"),
        ("endpoint_url", "http://pbx.example.com/sms/generic/x", "This URL cannot be used"),
        ("endpoint_url", "ftp://pbx.example.com/x", "This URL cannot be used"),
        ("endpoint_url", "https://127.0.0.1/sms/generic/x", "This URL cannot be used"),
    ],
)
def test_the_form_refuses_bad_values(alice_client, alice_threecx_instance, field, value, message):
    response = alice_client.post("/integrations/3cx/new", create_form(alice_threecx_instance, **{field: value}))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Integration.objects.exists()


@pytest.mark.django_db
def test_creation_with_defaults_works_before_3cx_gives_its_webhook_url(alice_client, alice_threecx_instance):
    # 3CX shows its Webhook URL only after it has our Provider URL: creation must not need it.
    response = alice_client.post(
        "/integrations/3cx/new", create_form(alice_threecx_instance, endpoint_url=""), follow=True
    )
    html = response.content.decode()
    integration = Integration.objects.get()
    assert integration.inbound_enabled is False
    assert "Next step: in 3CX, add a Generic SMS provider with the Provider URL" in html and "provider-url" in html
    # Editing later still needs the URL before inbound can be switched on.
    edit = alice_client.post(
        f"/integrations/3cx/{integration.public_id}/edit", create_form(alice_threecx_instance, endpoint_url="")
    )
    assert "Inbound forwarding needs the 3CX Webhook URL" in edit.content.decode()


@pytest.mark.django_db
def test_another_accounts_instance_cannot_be_the_default(alice_client, outsider_charlie):
    from tests.factories import make_instance
    from whatsapp_gateway.lib.clock import now

    foreign = make_instance(
        outsider_charlie.account,
        name="charlie-line",
        provider="fake",
        connected=True,
        phone_number="+966500000009",
        paired_at=now(),
        state_changed_at=now(),
    )
    response = alice_client.post("/integrations/3cx/new", create_form(foreign))
    assert response.status_code == 200 and not Integration.objects.exists()


@pytest.mark.django_db
def test_rotating_the_secret_and_key_shows_the_new_ones_once_and_audits(alice_client, integration, secret, api_key):
    base = f"/integrations/3cx/{integration.public_id}"
    response = alice_client.post(f"{base}/rotate-secret", follow=True)
    new_secret = response.context["once"]["secret"]
    assert new_secret != secret and "api_key" not in response.context["once"]
    response = alice_client.post(f"{base}/rotate-api-key", follow=True)
    new_key = response.context["once"]["api_key"]
    integration.refresh_from_db()
    assert secret_hash(new_secret) == integration.secret_hash and api_key_hash(new_key) == integration.api_key_hash
    actions = set(AuditLog.objects.values_list("action", flat=True))
    assert {"threecx.secret_rotated", "threecx.api_key_rotated"} <= actions


@pytest.mark.django_db
def test_the_old_secret_stops_working_after_rotation(alice_client, client, integration, secret, post_native):
    assert post_native({"event_type": "test"}).status_code == 200
    alice_client.post(f"/integrations/3cx/{integration.public_id}/rotate-secret")
    assert post_native({"event_type": "test"}).status_code == 401


@pytest.mark.django_db
def test_disabling_and_enabling_is_audited(alice_client, integration):
    base = f"/integrations/3cx/{integration.public_id}"
    alice_client.post(f"{base}/status", {"status": "disabled"})
    integration.refresh_from_db()
    assert integration.status == "disabled"
    alice_client.post(f"{base}/status", {"status": "active"})
    integration.refresh_from_db()
    assert integration.status == "active"
    assert (
        AuditLog.objects.filter(action__in=["threecx.integration_disabled", "threecx.integration_enabled"]).count() == 2
    )


@pytest.mark.django_db
def test_dids_can_be_mapped_and_removed(alice_client, integration, alice_threecx_instance):
    base = f"/integrations/3cx/{integration.public_id}"
    alice_client.post(f"{base}/dids", {"did": "+1 305 231 4933", "instance": alice_threecx_instance.public_id})
    assert DidMapping.objects.get().did == "+13052314933"
    assert "+13052314933" in alice_client.get(base).content.decode()
    alice_client.post(f"{base}/dids/remove", {"did": "+13052314933"})
    assert not DidMapping.objects.exists()
    assert AuditLog.objects.filter(action="threecx.did_mapped").exists()
    assert AuditLog.objects.filter(action="threecx.did_unmapped").exists()


@pytest.mark.django_db
def test_the_crm_template_is_valid_xml_pointing_at_the_webhook_without_the_secret(alice_client, integration, secret):
    response = alice_client.get(f"/integrations/3cx/{integration.public_id}/crm-template.xml")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode()
    assert secret not in text
    root = ET.fromstring(response.content)  # noqa: S314 (our own output)
    assert root.tag == "Crm"
    params = {p.get("Name"): p.get("Default") for p in root.iter("Parameter")}
    assert params["GatewayUrl"] == f"http://127.0.0.1:8000/integrations/3cx/webhook/{integration.public_id}"
    scenarios = {s.get("Id"): s for s in root.iter("Scenario")}
    assert set(scenarios) == {"", "ReportCall"}
    report = {v.get("Key"): v.text for v in scenarios["ReportCall"].find("Request/PostValues")}
    assert report["event_type"] == "call_ended" and report["call_type"] == "[CallType]"
    header = scenarios["ReportCall"].find("Request/Headers/Value")
    assert header.get("Key") == "X-WhatsApp-Gateway-3CX-Secret" and header.text == "[Secret]"


@pytest.mark.django_db
def test_the_event_log_page_lists_requests_with_their_reasons(alice_client, integration, post_native):
    post_native({"event_type": "test"}, secret_value="wrong")
    post_native({"event_type": "test"})
    response = alice_client.get(f"/integrations/3cx/{integration.public_id}/events")
    page = response.content.decode()
    assert "wrong X-WhatsApp-Gateway-3CX-Secret" in page and "Connection test OK" in page
    filtered = alice_client.get(f"/integrations/3cx/{integration.public_id}/events?decision=rejected")
    assert [e.decision for e in filtered.context["page"]] == ["rejected"]


@pytest.mark.django_db
def test_a_member_can_look_but_not_change(bob_client, integration):
    base = f"/integrations/3cx/{integration.public_id}"
    assert bob_client.get(base).status_code == 200
    assert bob_client.get(f"{base}/events").status_code == 200
    assert bob_client.get("/integrations/3cx/new").status_code == 403
    assert bob_client.post(f"{base}/rotate-secret").status_code == 403
    assert bob_client.get(f"{base}/edit").status_code == 403


@pytest.mark.django_db
def test_deleting_removes_the_integration(alice_client, integration, post_native):
    alice_client.post(f"/integrations/3cx/{integration.public_id}/delete")
    assert not Integration.objects.exists()
    assert post_native({"event_type": "test"}).status_code == 401
    assert AuditLog.objects.filter(action="threecx.integration_deleted").exists()


@pytest.mark.django_db
def test_every_url_with_an_id_is_404_for_another_account(charlie_client, integration):
    base = f"/integrations/3cx/{integration.public_id}"
    for url in (base, f"{base}/edit", f"{base}/events", f"{base}/crm-template.xml"):
        assert_other_account_gets_404(charlie_client, url)
    for url in (
        f"{base}/rotate-secret",
        f"{base}/rotate-api-key",
        f"{base}/status",
        f"{base}/delete",
        f"{base}/dids",
        f"{base}/dids/remove",
        f"{base}/edit",
    ):
        assert_other_account_gets_404(charlie_client, url, methods=("post",))
    integration.refresh_from_db()
    assert integration.status == "active"


@pytest.mark.django_db
def test_the_openapi_document_describes_the_webhook(client):
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/integrations/3cx/webhook/{integration_id}"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert {"event_type", "message_text", "message_purpose"} <= set(body[0]["properties"])
    assert {"from", "to", "text"} <= set(body[1]["properties"])
    assert {"200", "202", "401", "409", "413", "429"} <= set(operation["responses"])
    headers = {p["name"] for p in operation["parameters"]}
    assert {"X-WhatsApp-Gateway-3CX-Secret", "X-WhatsApp-Gateway-Signature", "Authorization"} <= headers
    assert "/integrations/3cx/webhook/{integration_id}" in client.get("/api/openapi.json").json()["paths"]
