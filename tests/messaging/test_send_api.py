"""POST /api/send-message: success, dry run, and every error code with its status and envelope."""

from __future__ import annotations

import json

import pytest

from tests.factories import make_instance
from tests.messaging.conftest import ApiClient, body
from whatsapp_gateway.apikeys.models import ApiKey
from whatsapp_gateway.apikeys.services import api_key_create, api_key_revoke
from whatsapp_gateway.instances.models import InstanceState
from whatsapp_gateway.messaging.models import Message, MessageStatus

pytestmark = pytest.mark.django_db


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    data = response.json()
    assert data["success"] is False
    assert data["error"] == code
    assert isinstance(data["message"], str) and data["message"]
    assert isinstance(data["details"], dict)
    return data


def test_it_queues_a_message_and_answers_202(alice_api, alice_fake_instance):
    response = alice_api.send(body())
    assert response.status_code == 202, response.content
    data = response.json()
    assert data["success"] is True and data["status"] == "queued"
    assert data["message_id"].startswith("msg_")
    assert data["log_id"] == 1
    message = Message.objects.get(public_id=data["message_id"])
    assert message.status == MessageStatus.QUEUED
    assert message.phone_e164 == "+966501234567"
    assert message.purpose == "transactional"
    assert message.source == "api"
    assert message.counted is True
    assert "RateLimit-Policy" in response


def test_log_ids_count_up_per_account(alice_api, alice_fake_instance, outsider_charlie, charlie_fake_instance):
    first = alice_api.send(body()).json()
    second = alice_api.send(body(phone="+966501234568")).json()
    charlie = ApiClient(api_key_create(account=outsider_charlie.account, name="k").full_key)
    third = charlie.send(body(instance_id="charlie-line")).json()
    assert (first["log_id"], second["log_id"], third["log_id"]) == (1, 2, 1)


def test_instance_can_be_named_by_public_id(alice_api, alice_fake_instance):
    response = alice_api.send(body(instance_id=alice_fake_instance.public_id))
    assert response.status_code == 202


def test_national_numbers_use_the_account_country(alice_api, alice_fake_instance):
    response = alice_api.send(body(phone="0501234567"))
    assert response.status_code == 202
    assert Message.objects.get().phone_e164 == "+966501234567"


def test_dry_run_validates_without_queueing_or_counting(alice_api, alice_fake_instance):
    response = alice_api.send(body(dry_run=True))
    assert response.status_code == 200
    assert response.json() == {"success": True, "status": "validated", "risk_score": 0, "reasons": []}
    message = Message.objects.get()
    assert message.status == MessageStatus.VALIDATED and message.dry_run and not message.counted


def test_dry_run_still_answers_the_blocking_error(alice_api, alice_fake_instance):
    response = alice_api.send(body(dry_run=True, message_purpose="marketing"))
    assert_error(response, 422, "message_purpose_not_allowed")


def test_missing_key_is_invalid_api_key(alice_fake_instance):
    assert_error(ApiClient(None).send(body()), 401, "invalid_api_key")


def test_malformed_and_unknown_keys_are_invalid_api_key(alice_fake_instance):
    assert_error(ApiClient("nonsense").send(body()), 401, "invalid_api_key")
    assert_error(ApiClient("wg_live_" + "x" * 40).send(body()), 401, "invalid_api_key")


def test_revoked_key_is_revoked_api_key(owner_alice, alice_fake_instance):
    created = api_key_create(account=owner_alice.account, name="old")
    api_key_revoke(api_key=created.api_key)
    assert_error(ApiClient(created.full_key).send(body()), 401, "revoked_api_key")


def test_auth_is_checked_before_the_body(alice_fake_instance):
    assert_error(ApiClient(None).send(raw="{not json"), 401, "invalid_api_key")
    assert_error(ApiClient(None).send(raw="x" * 70_000), 401, "invalid_api_key")


def test_bad_json_is_invalid_json_and_logged(alice_api, alice_fake_instance):
    assert_error(alice_api.send(raw="{not json"), 400, "invalid_json")
    message = Message.objects.get()
    assert message.status == MessageStatus.BLOCKED and message.block_code == "invalid_json"


@pytest.mark.parametrize("raw", ["[]", '"text"', "42", "null", "true"])
def test_json_that_is_not_an_object_is_invalid_json(alice_api, alice_fake_instance, raw):
    assert_error(alice_api.send(raw=raw), 400, "invalid_json")


def test_body_over_64_kb_is_payload_too_large_before_parsing(alice_api, alice_fake_instance):
    assert_error(alice_api.send(raw="{" + " " * 70_000), 413, "payload_too_large")


def test_wrong_content_type_is_unsupported_media_type(alice_api, alice_fake_instance):
    response = alice_api.send(raw=json.dumps(body()), content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")


def test_wrong_method_answers_405_in_the_envelope(alice_api):
    response = alice_api.get("/api/send-message")
    assert_error(response, 405, "method_not_allowed")


def test_unknown_api_route_answers_404_in_the_envelope(alice_api):
    assert_error(alice_api.get("/api/nope"), 404, "not_found")
    assert_error(ApiClient(None).client.post("/api/v2/send"), 404, "not_found")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"instance_id": ...}, "instance_id"),
        ({"instance_id": 7}, "instance_id"),
        ({"phone": ...}, "phone"),
        ({"phone": "12"}, "phone"),
        ({"phone": 966501234567}, "phone"),
        ({"message": ...}, "message"),
        ({"message": "   "}, "message"),
        ({"message": "x" * 4097}, "message"),
        ({"message": ["hi"]}, "message"),
        ({"message_purpose": 5}, "message_purpose"),
        ({"dry_run": "yes"}, "dry_run"),
    ],
)
def test_malformed_fields_are_validation_errors_naming_the_field(alice_api, alice_fake_instance, overrides, field):
    data = assert_error(alice_api.send(body(**overrides)), 422, "validation_error")
    assert data["details"] == {"field": field}


def test_message_of_4096_characters_after_trimming_is_accepted(alice_api, alice_fake_instance):
    assert alice_api.send(body(message="  " + "a" * 4096 + "  ")).status_code == 202


def test_validation_error_comes_before_a_missing_purpose(alice_api, alice_fake_instance):
    data = assert_error(alice_api.send(body(phone="12", message_purpose=...)), 422, "validation_error")
    assert data["details"]["field"] == "phone"


@pytest.mark.parametrize("purpose", [..., "", "   ", None])
def test_missing_purpose_is_message_purpose_required(alice_api, alice_fake_instance, purpose):
    assert_error(alice_api.send(body(message_purpose=purpose)), 422, "message_purpose_required")


@pytest.mark.parametrize("purpose", ["marketing", "promotion", "cold_outreach", "bulk_campaign", "political", "x"])
def test_disallowed_purposes_are_not_allowed(alice_api, alice_fake_instance, purpose):
    assert_error(alice_api.send(body(message_purpose=purpose)), 422, "message_purpose_not_allowed")


def test_unknown_instance_is_invalid_instance(alice_api, alice_fake_instance):
    assert_error(alice_api.send(body(instance_id="nope")), 404, "invalid_instance")


def test_another_accounts_instance_is_invalid_instance(alice_api, alice_fake_instance, charlie_fake_instance):
    assert_error(alice_api.send(body(instance_id=charlie_fake_instance.public_id)), 404, "invalid_instance")
    assert_error(alice_api.send(body(instance_id="charlie-line")), 404, "invalid_instance")


def test_deleted_instance_is_invalid_instance(alice_api, alice_fake_instance):
    from whatsapp_gateway.lib.clock import now

    alice_fake_instance.deleted_at = now()
    alice_fake_instance.save()
    assert_error(alice_api.send(body()), 404, "invalid_instance")


def test_out_of_scope_instance_is_invalid_instance(owner_alice, alice_fake_instance):
    other = make_instance(owner_alice.account, name="sales-line", provider="fake", connected=True)
    scoped = api_key_create(account=owner_alice.account, name="scoped", instances=[other])
    client = ApiClient(scoped.full_key)
    assert_error(client.send(body()), 404, "invalid_instance")
    assert client.send(body(instance_id="sales-line")).status_code == 202


def test_module_not_enabled(owner_alice, alice_api, alice_fake_instance):
    owner_alice.account.enabled_modules = []
    owner_alice.account.save()
    assert_error(alice_api.send(body()), 403, "module_not_enabled")


def test_paused_account(owner_alice, alice_api, alice_fake_instance):
    owner_alice.account.is_paused = True
    owner_alice.account.save()
    assert_error(alice_api.send(body()), 403, "account_paused")


def test_paused_instance(alice_api, alice_fake_instance):
    alice_fake_instance.is_paused = True
    alice_fake_instance.save()
    assert_error(alice_api.send(body()), 403, "account_paused")


def test_instance_not_connected(alice_api, alice_fake_instance):
    alice_fake_instance.state = InstanceState.DISCONNECTED
    alice_fake_instance.save()
    data = assert_error(alice_api.send(body()), 409, "instance_not_connected")
    assert data["details"]["state"] == "disconnected"


def test_unavailable_provider_is_gateway_send_failed(owner_alice, alice_api, fake_provider):
    make_instance(owner_alice.account, name="support-line", provider="no-such-provider", connected=True)
    assert_error(alice_api.send(body()), 502, "gateway_send_failed")


def test_every_blocked_request_is_logged_with_its_code(alice_api, alice_fake_instance):
    alice_api.send(body(message_purpose="marketing"))
    alice_api.send(body(instance_id="nope"))
    codes = list(Message.objects.order_by("log_id").values_list("block_code", "status"))
    assert codes == [("message_purpose_not_allowed", "blocked"), ("invalid_instance", "blocked")]
    assert not Message.objects.filter(counted=True).exists()


def test_key_last_use_is_recorded(alice_api, alice_fake_instance):
    alice_api.send(body())
    key = ApiKey.objects.get()
    assert key.last_used_at is not None and key.last_used_ip == "127.0.0.1"


def test_no_raw_pydantic_text_reaches_a_client(alice_api, alice_fake_instance):
    for overrides in ({"phone": {"a": 1}}, {"message": None}, {"instance_id": []}):
        text = alice_api.send(body(**overrides)).content.decode()
        assert "pydantic" not in text and "type_error" not in text and "Input should" not in text


def test_openapi_documents_every_error_code_with_an_example(client):
    from whatsapp_gateway.messaging import policy

    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/api/send-message"]["post"]
    documented = {
        code
        for response in operation["responses"].values()
        for code in response.get("content", {}).get("application/json", {}).get("examples", {})
    }
    assert {code for code, _, _ in policy.ERROR_TABLE} <= documented
    assert {"unsupported_media_type", "method_not_allowed", "sending_disabled"} <= documented
    assert operation["requestBody"]["content"]["application/json"]["examples"]
    assert operation["security"] == [{"ApiKeyAuth": []}]
    assert "/api/messages/{message_id}" in schema["paths"]
