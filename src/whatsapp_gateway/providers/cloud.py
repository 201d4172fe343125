"""Meta WhatsApp Cloud API adapter.

Facts this module relies on (docs/providers.md "Meta WhatsApp Cloud API"):

- Sends go to ``POST {graph}/{version}/{phone_number_id}/messages`` with ``Authorization: Bearer <token>``; the
  answer carries the ``wamid`` and statuses follow as webhooks (``sent`` / ``delivered`` / ``read`` /
  ``failed``; ``read`` may arrive without a ``delivered`` before it, order is not guaranteed).
- There is no QR code: an instance is "connected" once it is configured with a phone number id that the Graph API
  returns for our token and that is registered on the Cloud API. ``connection_state`` re-checks it.
- Meta verifies a callback URL with ``GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`` and signs every
  POST with ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(raw body, app secret)>``.
- Free-form messages only reach people who wrote to the number in the last 24 hours; outside that window Meta
  fails the message with error 131047, which becomes ``error_code="outside_24h_window"``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from whatsapp_gateway.instances.models import Instance, InstanceState
from whatsapp_gateway.lib.crypto import constant_time_equals
from whatsapp_gateway.lib.phone import InvalidPhoneNumber, e164_to_jid, normalize_e164
from whatsapp_gateway.providers import http
from whatsapp_gateway.providers.base import (
    CallbackRejected,
    ConnectResult,
    CreateResult,
    InboundMessage,
    MessageStatusUpdate,
    NormalisedEvent,
    Provider,
    ProviderError,
    SendResult,
    StateResult,
)
from whatsapp_gateway.providers.config import (
    ProviderSettings,
    callback_url,
    instance_credentials,
    provider_settings,
)
from whatsapp_gateway.providers.metrics import count_ignored
from whatsapp_gateway.providers.parsing import (
    as_bool,
    as_dict,
    as_int,
    as_list,
    as_str,
    dicts,
    load_json,
    phone_of,
    unix_time,
)
from whatsapp_gateway.providers.signing import header, require_hmac_hex

logger = logging.getLogger("whatsapp_gateway.providers.cloud")

NAME = "cloud"
MAX_TEXT_LENGTH = 4096
PHONE_FIELDS = "display_phone_number,verified_name,code_verification_status,quality_rating,platform_type"
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
MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
TEMPLATE_FIELDS = "id,name,language,status,category,components,rejected_reason"
TEMPLATE_PAGE_SIZE = 100
TEMPLATE_MAX_PAGES = 50  # 5,000 templates; a WhatsApp Business account holds at most a few hundred
STATUSES = ("sent", "delivered", "read", "failed")
# "messages" entries that are not new customer messages.
NOT_MESSAGES = ("edit", "revoke", "system")


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


class CloudProvider(Provider):
    name = NAME
    supports_qr = False
    supports_pairing_code = False
    supports_typing = False
    supports_history = False
    supports_templates = True

    # --- configuration and HTTP ----------------------------------------------------------------------------

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

    # --- callbacks -----------------------------------------------------------------------------------------

    def answer_verification(self, instance: Instance, *, params: Mapping[str, str]) -> str | None:
        """Meta's subscription handshake: echo ``hub.challenge`` when ``hub.verify_token`` is this instance's
        verify token or the operator's ``CLOUD_VERIFY_TOKEN``."""
        mode, challenge = params.get("hub.mode") or "", params.get("hub.challenge") or ""
        token = params.get("hub.verify_token") or ""
        if mode != "subscribe" or not challenge or len(challenge) > 256:
            raise CallbackRejected("not a subscription verification request", status=400)
        expected = [
            as_str(instance_credentials(instance).get("verify_token")),
            self._settings().secret("verify_token"),
        ]
        if not token or not any(e and constant_time_equals(token, e) for e in expected):
            raise CallbackRejected("verify token does not match", status=403)
        return challenge

    def verify_callback(self, instance: Instance, *, headers: Mapping[str, str], body: bytes) -> None:
        """``X-Hub-Signature-256: sha256=<hex>`` = HMAC-SHA256 of the raw body under the app secret (the
        instance's own, else the operator's ``CLOUD_APP_SECRET``)."""
        secret = as_str(instance_credentials(instance).get("app_secret")) or self._settings().secret("app_secret")
        if not secret:
            raise CallbackRejected("no app secret configured")
        signature = header(headers, "X-Hub-Signature-256")
        if signature and not signature.lower().startswith("sha256="):
            raise CallbackRejected("malformed signature")
        require_hmac_hex(signature=signature[7:], key=secret, body=body, algorithm="sha256")

    def parse_callback(self, instance: Instance, *, headers: Mapping[str, str], body: bytes) -> list[NormalisedEvent]:
        data = load_json(body)
        if not isinstance(data, dict) or data.get("object") != "whatsapp_business_account":
            count_ignored(NAME, "unknown_event" if isinstance(data, dict) else "malformed")
            return []
        events: list[NormalisedEvent] = []
        for entry in dicts(data.get("entry")):
            for change in dicts(entry.get("changes")):
                handler = self._handlers().get(as_str(change.get("field")))
                if handler is None:
                    count_ignored(NAME, "unknown_event")
                    continue
                value = as_dict(change.get("value"))
                number_id = as_str(as_dict(value.get("metadata")).get("phone_number_id"))
                if not instance.provider_ref or number_id != instance.provider_ref:
                    count_ignored(NAME, "other_instance")
                    continue
                try:
                    events.extend(handler(instance, value))
                except (TypeError, ValueError, KeyError, AttributeError, OverflowError):
                    logger.warning("cloud webhook change could not be parsed", exc_info=True)
                    count_ignored(NAME, "malformed")
        return events

    def _handlers(self) -> dict[str, Callable[[Instance, dict[str, Any]], list[NormalisedEvent]]]:
        return {"messages": self._on_messages}

    def _on_messages(self, instance: Instance, value: dict[str, Any]) -> list[NormalisedEvent]:
        names: dict[str, str] = {}
        for contact in dicts(value.get("contacts")):
            name = as_str(as_dict(contact.get("profile")).get("name"))
            for key in (as_str(contact.get("wa_id")), as_str(contact.get("user_id"))):
                if key:
                    names[key] = name
        events: list[NormalisedEvent] = []
        for message in dicts(value.get("messages")):
            if as_str(message.get("type")) in NOT_MESSAGES:
                # An edit or a revoke of an earlier message, or a system notice (number changed, identity
                # changed): none of them is a new customer message, and the gateway keeps no editable copy.
                count_ignored(NAME, "not_relevant")
                continue
            event = _inbound(message, names)
            if event is None:
                count_ignored(NAME, "malformed")
            else:
                events.append(event)
        for status in dicts(value.get("statuses")):
            event = _status(status)
            if event is not None:
                events.append(event)
        if not value.get("messages") and not value.get("statuses"):
            count_ignored(NAME, "not_relevant")  # e.g. value.errors about the webhook itself
        return events


# --- helpers -------------------------------------------------------------------------------------------------


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


def _inbound(message: dict[str, Any], names: dict[str, str]) -> InboundMessage | None:
    wa_id, message_id = as_str(message.get("from")), as_str(message.get("id"))
    phone = phone_of(f"{wa_id}@s.whatsapp.net") if wa_id else ""
    # A user who turned on a WhatsApp username has no wa_id in the payload, only a business-scoped user id.
    user_id = as_str(message.get("from_user_id"))
    if not message_id or not (phone or user_id):
        return None
    kind = as_str(message.get("type"))
    message_type, text, metadata = "unknown", "", {}
    if kind == "text":
        message_type, text = "text", as_str(as_dict(message.get("text")).get("body"))
    elif kind in MEDIA_TYPES:
        media = as_dict(message.get(kind))
        message_type, text = kind, as_str(media.get("caption"))
        metadata = {"media_id": as_str(media.get("id")), "mime_type": as_str(media.get("mime_type"))}
        if text:
            metadata["caption"] = text
        if as_str(media.get("filename")):
            metadata["file_name"] = media["filename"]
        if kind == "audio":
            metadata["voice_note"] = as_bool(media.get("voice"))
    elif kind == "location":
        location = as_dict(message.get("location"))
        message_type = "location"
        metadata = {"latitude": location.get("latitude"), "longitude": location.get("longitude")}
        for key in ("name", "address"):
            if as_str(location.get(key)):
                metadata[key] = location[key]
    elif kind == "contacts":
        message_type = "contact"
        metadata = {
            "contacts": [
                {
                    "display_name": as_str(as_dict(c.get("name")).get("formatted_name")),
                    "vcard": "",
                    "phones": [as_str(p.get("phone")) for p in dicts(c.get("phones")) if as_str(p.get("phone"))],
                }
                for c in dicts(message.get("contacts"))
            ]
        }
    elif kind == "reaction":
        reaction = as_dict(message.get("reaction"))
        message_type, text = "reaction", as_str(reaction.get("emoji"))
        metadata = {"emoji": text, "target_message_id": as_str(reaction.get("message_id"))}
    elif kind == "interactive":
        interactive = as_dict(message.get("interactive"))
        reply_kind = as_str(interactive.get("type"))
        reply = as_dict(interactive.get(reply_kind))
        message_type, text = "text", as_str(reply.get("title"))
        metadata = {"reply_kind": reply_kind[:40], "reply_id": as_str(reply.get("id"))}
    elif kind == "button":
        button = as_dict(message.get("button"))
        message_type, text = "text", as_str(button.get("text"))
        metadata = {"reply_kind": "button", "reply_id": as_str(button.get("payload"))}
    else:
        metadata = {"provider_type": kind[:60]}
    reply_to = as_str(as_dict(message.get("context")).get("id"))
    if reply_to:
        metadata["reply_to"] = reply_to
    referral = as_dict(message.get("referral"))
    if referral:  # Click-to-WhatsApp ads
        metadata["referral"] = {
            k: as_str(referral.get(k)) for k in ("source_type", "source_id", "source_url", "headline", "ctwa_clid")
        }
    if user_id:
        metadata["user_id"] = user_id
    jid = e164_to_jid(phone) if phone else user_id
    return InboundMessage(
        provider_message_id=message_id,
        chat_id=jid,
        sender_id=jid,
        sender_phone=phone,
        sender_name=names.get(wa_id, "") or names.get(user_id, ""),
        chat_phone=phone,
        message_type=message_type,
        text=text,
        metadata=metadata,
        occurred_at=unix_time(message.get("timestamp")),
    )


def _status(status: dict[str, Any]) -> MessageStatusUpdate | None:
    message_id, value = as_str(status.get("id")), as_str(status.get("status"))
    if not message_id or value not in STATUSES:
        count_ignored(NAME, "malformed" if not message_id else "not_relevant")
        return None
    error_code, error_message = "", ""
    if value == "failed":
        errors = as_list(status.get("errors"))
        error_code, _, error_message = describe_error(errors[0] if errors else {})
    return MessageStatusUpdate(
        provider_message_id=message_id,
        status=value,
        recipient=phone_of(f"{as_str(status.get('recipient_id'))}@s.whatsapp.net"),
        error_code=error_code,
        error_message=error_message,
        occurred_at=unix_time(status.get("timestamp")),
    )
