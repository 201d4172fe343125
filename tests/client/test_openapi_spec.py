"""``/openapi.json`` is a valid OpenAPI 3.1 document (so other languages can generate clients from it), checked with
openapi-spec-validator against the 3.1 schema, with every customer webhook event in ``webhooks``."""

from __future__ import annotations

import copy
import json

from openapi_spec_validator import OpenAPIV31SpecValidator

from whatsapp_gateway.webhooks.catalogue import EVENT_NAMES


def _load_rejecting_duplicate_keys(raw: bytes) -> dict:
    def pairs_hook(pairs: list[tuple[str, object]]) -> dict:
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), f"duplicate keys: {sorted(keys)}"
        return dict(pairs)

    return json.loads(raw, object_pairs_hook=pairs_hook)


def test_openapi_json_validates_as_openapi_3_1(client) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document = _load_rejecting_duplicate_keys(response.content)
    assert document["openapi"].startswith("3.1.")
    errors = [f"{list(e.path)}: {e.message[:200]}" for e in OpenAPIV31SpecValidator(document).iter_errors()]
    assert errors == []
    assert {"/api/send-message", "/api/messages/{message_id}"} <= set(document["paths"])
    assert set(document["webhooks"]) == EVENT_NAMES

    broken = copy.deepcopy(document)  # the validator does look: an operation without responses fails
    broken["paths"]["/api/messages/{message_id}"]["get"]["responses"] = {"200": {"content": {}}}
    assert list(OpenAPIV31SpecValidator(broken).iter_errors())
