"""Meta's Graph API over HTTP: the token, the phone number id and Meta's error codes.

Sends go to ``POST {graph}/{version}/{phone_number_id}/messages`` with ``Authorization: Bearer <token>``. Free-form
messages only reach people who wrote to the number in the last 24 hours; outside that window Meta fails the message
with error 131047, which becomes ``error_code="outside_24h_window"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.providers import http
from whatsapp_gateway.providers.base import (
    Provider,
    ProviderError,
)
from whatsapp_gateway.providers.config import (
    ProviderSettings,
    instance_credentials,
    provider_settings,
)
from whatsapp_gateway.providers.parsing import (
    as_dict,
    as_int,
    as_str,
)

NAME = "cloud"
WINDOW_MESSAGE = (
    "More than 24 hours have passed since the recipient last wrote to this number. Outside the 24-hour customer "
    "service window WhatsApp only delivers approved template messages (Meta error 131047)."
)
# Meta error code → (gateway error code, permanent?, readable message). Anything else: provider_error_<code>.
ERRORS: dict[int, tuple[str, bool, str]] = {
    131047: ("outside_24h_window", True, WINDOW_MESSAGE),
    470: ("outside_24h_window", True, WINDOW_MESSAGE),  # the older code for the same rule
    131026: (
        "undeliverable",
        True,
        "WhatsApp could not deliver the message: the number may not be on WhatsApp or may use an old app version.",
    ),
    131049: ("not_delivered_by_meta", True, "Meta chose not to deliver this message to keep engagement healthy."),
    131050: ("recipient_stopped_marketing", True, "The recipient has stopped marketing messages from businesses."),
    131051: ("unsupported_message_type", True, "The Cloud API does not support this message type."),
    131021: ("recipient_is_sender", True, "The recipient is the sending number itself."),
    131030: ("recipient_not_allowed", True, "The recipient is not on this test number's allowed list."),
    131031: ("account_locked", True, "Meta has locked this WhatsApp Business account."),
    133010: ("phone_not_registered", True, "This phone number is not registered on the Cloud API."),
    130472: ("experiment", True, "Meta did not deliver the message because the recipient is part of an experiment."),
    368: ("policy_blocked", True, "This number is temporarily blocked for policy violations."),
    100: ("provider_rejected", True, "Meta rejected a request parameter."),
    131008: ("provider_rejected", True, "Meta reports a required parameter is missing."),
    131009: ("provider_rejected", True, "Meta reports a parameter value is not valid."),
    130429: ("provider_rate_limited", False, "The number's Cloud API throughput limit was reached."),
    131056: ("pair_rate_limited", False, "Too many messages to this recipient in a short time."),
    131048: ("spam_rate_limited", False, "Meta is limiting this number because of its quality rating."),
    80007: ("provider_rate_limited", False, "The WhatsApp Business account rate limit was reached."),
    4: ("provider_rate_limited", False, "The app's Graph API rate limit was reached."),
    613: ("provider_rate_limited", False, "The Graph API rate limit was reached."),
    131000: ("provider_error", False, "Meta failed to send the message (131000)."),
    131016: ("provider_unavailable", False, "The Cloud API is temporarily unavailable."),
    1: ("provider_error", False, "The Graph API failed with an unknown error."),
    2: ("provider_unavailable", False, "The Graph API is temporarily unavailable."),
    190: ("provider_auth_failed", False, "The Cloud API access token is invalid or expired."),
    10: ("provider_auth_failed", False, "The access token lacks permission for this phone number."),
    200: ("provider_auth_failed", False, "The access token lacks permission for this phone number."),
    # Template messages: Meta refuses these synchronously, before accepting the message.
    132000: (
        "template_variable_count",
        True,
        "The number of variables does not match the template's at Meta (error 132000): sync the templates again.",
    ),
    132001: (
        "template_not_found",
        True,
        "Meta has no template with this name in this language (error 132001): sync the templates again.",
    ),
    132005: ("template_text_too_long", True, "The template's text with these variables is too long (error 132005)."),
    132007: ("template_policy_violated", True, "Meta refused the template's text under its policy (error 132007)."),
    132012: ("template_variable_format", True, "A variable does not have the format the template expects (132012)."),
    132015: ("template_paused", True, "Meta paused this template for its low quality rating (error 132015)."),
    132016: ("template_disabled", True, "Meta disabled this template for its low quality rating (error 132016)."),
}


def describe_error(error: Any) -> tuple[str, bool, str]:
    """(gateway error code, permanent?, readable message) for one Graph / webhook error object."""
    error = as_dict(error)
    code = as_int(error.get("code"))
    details = as_str(as_dict(error.get("error_data")).get("details"))
    if code in ERRORS:
        gateway_code, permanent, message = ERRORS[code]
        if details and 132000 <= code < 133000:  # template errors: Meta's details name the component and counts
            message = f"{message} Meta: {details}"[:300]
        return gateway_code, permanent, message
    text = as_str(error.get("message")) or as_str(error.get("title")) or "Meta reported an error."
    if details and details not in text:
        text = f"{text} {details}"
    return (f"provider_error_{code}" if code is not None else "provider_error"), True, text[:300]


class CloudClient(Provider):
    """The HTTP half of the adapter, shared by the lifecycle calls and the callback parsers."""

    name = NAME

    def _settings(self) -> ProviderSettings:
        return provider_settings(NAME)

    def _graph_url(self, path: str) -> str:
        config = self._settings()
        version = as_str(config.option("api_version", "v25.0")).strip("/")
        return f"{config.require_base_url()}/{version}/{path}"

    def _token(self, instance: Instance | None = None, *, override: str = "") -> str:
        token = override or as_str(instance_credentials(instance).get("access_token") if instance else "")
        token = token or self._settings().secret("access_token")
        if not token:
            raise ProviderError(
                "No Cloud API access token: set CLOUD_ACCESS_TOKEN (or the admin site), or give the instance one.",
                permanent=False,
                code="provider_not_configured",
            )
        return token

    def _phone_number_id(self, instance: Instance) -> str:
        if not instance.provider_ref:
            raise ProviderError(
                "This Cloud API instance has no phone number ID yet: enter it on the instance's connection tab.",
                permanent=True,
                code="not_configured",
            )
        return instance.provider_ref

    def _graph(
        self, method: str, path: str, *, token: str, json_body: Any = None, params: Mapping[str, Any] | None = None
    ) -> http.ProviderResponse:
        headers = {"Authorization": f"Bearer {token}"}
        return http.call(NAME, method, self._graph_url(path), headers=headers, json_body=json_body, params=params)

    def _raise_for(self, response: http.ProviderResponse) -> None:
        if response.ok:
            return
        error = as_dict(as_dict(response.body).get("error"))
        if not error:
            raise http.default_error(NAME, response)
        code, permanent, message = describe_error(error)
        if response.status >= 500 or response.status == 429:
            permanent = False
        raise ProviderError(message, permanent=permanent, code=code)
