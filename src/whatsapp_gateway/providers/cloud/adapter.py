"""Meta WhatsApp Cloud API adapter: configuring a phone number, sending text and templates.

There is no QR code: an instance is "connected" once it is configured with a phone number id that the Graph API
returns for our token and that is registered on the Cloud API; ``connection_state`` re-checks it. The HTTP client
and Meta's error codes are in ``client``, webhooks in ``callbacks`` (``docs/providers.md``).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from whatsapp_gateway.instances.models import Instance, InstanceState
from whatsapp_gateway.lib.phone import InvalidPhoneNumber, normalize_e164
from whatsapp_gateway.providers.base import (
    ConnectResult,
    CreateResult,
    ProviderError,
    SendResult,
    StateResult,
)
from whatsapp_gateway.providers.cloud.callbacks import CloudCallbacks
from whatsapp_gateway.providers.cloud.client import NAME
from whatsapp_gateway.providers.config import (
    callback_url,
    instance_credentials,
)
from whatsapp_gateway.providers.parsing import (
    as_dict,
    as_str,
    dicts,
    phone_of,
)

logger = logging.getLogger("whatsapp_gateway.providers.cloud")

MAX_TEXT_LENGTH = 4096
PHONE_FIELDS = "display_phone_number,verified_name,code_verification_status,quality_rating,platform_type"
TEMPLATE_FIELDS = "id,name,language,status,category,components,rejected_reason"
TEMPLATE_PAGE_SIZE = 100
TEMPLATE_MAX_PAGES = 50  # 5,000 templates; a WhatsApp Business account holds at most a few hundred


class CloudProvider(CloudCallbacks):
    name = NAME
    supports_qr = False
    supports_pairing_code = False
    supports_typing = False
    supports_history = False
    supports_templates = True

    # --- lifecycle -----------------------------------------------------------------------------------------

    def create_instance(self, instance: Instance) -> CreateResult:
        """Nothing to create at Meta: the instance gets its own webhook verify token and is configured with a
        phone number id afterwards (``configure``)."""
        return CreateResult(provider_ref=instance.provider_ref, credentials={"verify_token": secrets.token_urlsafe(24)})

    def phone_number(self, phone_number_id: str, *, token: str) -> dict[str, Any]:
        """``GET /{phone_number_id}`` with the fields that say whether the number can send."""
        response = self._graph("GET", quote(phone_number_id, safe=""), token=token, params={"fields": PHONE_FIELDS})
        self._raise_for(response)
        return as_dict(response.body)

    def configure(
        self, instance: Instance, *, phone_number_id: str, access_token: str = "", app_secret: str = ""
    ) -> tuple[StateResult, dict[str, Any], bool]:
        """Check ``phone_number_id`` with the token and point the number's webhook at this instance (a Meta
        per-number callback override, verified with the instance's verify token).

        Returns (state, credentials to store, whether the override was set). Raises ``ProviderError`` when Meta does
        not know the number for this token. Writes nothing: ``cloud_instance_configure`` stores the result.
        """
        token = self._token(override=access_token)
        info = self.phone_number(phone_number_id, token=token)
        state = _phone_state(info)
        credentials = dict(instance_credentials(instance))
        credentials.setdefault("verify_token", secrets.token_urlsafe(24))
        for key, value in (("access_token", access_token), ("app_secret", app_secret)):
            if value:
                credentials[key] = value
        override_set = False
        try:
            response = self._graph(
                "POST",
                quote(phone_number_id, safe=""),
                token=token,
                json_body={
                    "webhook_configuration": {
                        "override_callback_uri": callback_url(instance, NAME),
                        "verify_token": credentials["verify_token"],
                    }
                },
            )
            override_set = response.ok and as_dict(response.body).get("success") is True
        except ProviderError:
            override_set = False
        if not override_set:
            logger.info("Meta did not accept a webhook override for a Cloud instance; the app callback URL is used")
        return state, credentials, override_set

    def connect(self, instance: Instance, *, phone_number: str | None = None) -> ConnectResult:
        self._phone_number_id(instance)  # an unconfigured instance cannot connect: say what to do
        return ConnectResult(state=self.connection_state(instance).state)

    def connection_state(self, instance: Instance) -> StateResult:
        if not instance.provider_ref:  # not configured yet: nothing to ask Meta (the health job runs every minute)
            return StateResult(
                state=instance.state or InstanceState.CREATED,
                reason="Enter the phone number ID on the connection tab.",
            )
        info = self.phone_number(instance.provider_ref, token=self._token(instance))
        return _phone_state(info)

    def restart(self, instance: Instance) -> None:
        """Nothing runs on our side for the Cloud API: there is no session to restart."""

    def logout(self, instance: Instance) -> None:
        """Disconnecting only stops the gateway using the number; it stays registered with Meta (deregistering
        would take it off the Cloud API for every app)."""

    def delete_instance(self, instance: Instance) -> None:
        """As ``logout``: the number and its Meta registration are left untouched."""

    # --- sending -------------------------------------------------------------------------------------------

    def send_text(self, instance: Instance, *, to: str, text: str, typing_ms: int = 0) -> SendResult:
        if len(text) > MAX_TEXT_LENGTH:
            raise ProviderError(
                f"The Cloud API accepts at most {MAX_TEXT_LENGTH} characters of text.",
                permanent=True,
                code="text_too_long",
            )
        body = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "text",
            "text": {"preview_url": False, "body": text},
        }
        return self._post_message(instance, body)

    def _post_message(self, instance: Instance, body: dict[str, Any]) -> SendResult:
        response = self._graph(
            "POST",
            f"{quote(self._phone_number_id(instance), safe='')}/messages",
            token=self._token(instance),
            json_body=body,
        )
        self._raise_for(response)
        messages = dicts(as_dict(response.body).get("messages"))
        message_id = as_str(messages[0].get("id")) if messages else ""
        if not message_id:
            raise ProviderError(
                "The Cloud API accepted the message but returned no id.", permanent=False, code="provider_error"
            )
        # Accepted, not yet sent: the "sent" status webhook follows.
        return SendResult(provider_message_id=message_id, status="sending")

    def send_template(
        self, instance: Instance, *, to: str, name: str, language: str, variables: Sequence[str]
    ) -> SendResult:
        """A WhatsApp template message (``type: "template"``): the body's ``{{n}}`` parameters in order. Meta
        delivers it outside the 24-hour window too; a missing, paused or disabled template and a wrong number of
        parameters are refused synchronously (132001, 132015, 132016, 132000)."""
        template: dict[str, Any] = {"name": name, "language": {"code": language}}
        if variables:
            template["components"] = [
                {"type": "body", "parameters": [{"type": "text", "text": str(v)} for v in variables]}
            ]
        body = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "template",
            "template": template,
        }
        return self._post_message(instance, body)

    def list_message_templates(self, instance: Instance, *, waba_id: str) -> list[dict[str, Any]]:
        """Every template of the WhatsApp Business account ``waba_id``
        (``GET /{waba-id}/message_templates``, following ``paging.cursors.after`` while ``paging.next`` is set).
        Each item: id, name, language, status, category, components, rejected_reason as Meta spells them."""
        token = self._token(instance)
        params: dict[str, Any] = {"fields": TEMPLATE_FIELDS, "limit": TEMPLATE_PAGE_SIZE}
        found: list[dict[str, Any]] = []
        for _ in range(TEMPLATE_MAX_PAGES):
            response = self._graph("GET", f"{quote(waba_id, safe='')}/message_templates", token=token, params=params)
            self._raise_for(response)
            page = as_dict(response.body)
            found.extend(dicts(page.get("data")))
            paging = as_dict(page.get("paging"))
            after = as_str(as_dict(paging.get("cursors")).get("after"))
            if not paging.get("next") or not after:
                break
            params = {**params, "after": after}
        return found


def _phone_state(info: dict[str, Any]) -> StateResult:
    digits = "".join(ch for ch in as_str(info.get("display_phone_number")) if ch.isdigit())
    try:
        phone = normalize_e164("+" + digits) if digits else ""
    except InvalidPhoneNumber:  # Meta's test numbers (+1 555 …) are not valid numbers to libphonenumber
        phone = phone_of(f"{digits}@s.whatsapp.net")
    platform = as_str(info.get("platform_type"))
    verification = as_str(info.get("code_verification_status"))
    quality = as_str(info.get("quality_rating"))
    if platform and platform != "CLOUD_API":
        return StateResult(
            state=InstanceState.DISCONNECTED,
            phone_number=phone,
            reason=f"The number is not registered on the Cloud API (platform {platform}).",
        )
    if verification == "EXPIRED":
        return StateResult(
            state=InstanceState.DISCONNECTED,
            phone_number=phone,
            reason="The number's verification has expired at Meta.",
        )
    return StateResult(
        state=InstanceState.CONNECTED,
        phone_number=phone,
        profile_name=as_str(info.get("verified_name")),
        reason=f"Quality rating {quality}." if quality else "",
    )
