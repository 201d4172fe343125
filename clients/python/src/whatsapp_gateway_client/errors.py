"""One exception class per error code of the WhatsApp Gateway API, all under :class:`GatewayError`.

Every error answer of the API has the shape ``{"success": false, "error": "<code>", "message": "…", "details": {…}}``;
the client raises the class registered for ``<code>`` (or :class:`GatewayError` itself for a code this version does
not know yet). Catch the base class to handle everything, or a subclass for one case::

    try:
        client.send_message(...)
    except PolicyViolation as exc:
        print(exc.risk_score, exc.reasons)
    except SendingThrottled as exc:
        schedule_retry(after=exc.retry_after)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = [
    "ERROR_CLASSES",
    "AccountPaused",
    "AuthThrottled",
    "CallEventsDisabled",
    "ConnectionFailed",
    "ConversationWindowClosed",
    "DailyLimitReached",
    "GatewayError",
    "GatewaySendFailed",
    "IdempotencyInProgress",
    "IdempotencyKeyReused",
    "InstanceNotConnected",
    "InternalError",
    "Invalid3cxWebhook",
    "InvalidApiKey",
    "InvalidCallback",
    "InvalidInstance",
    "InvalidJson",
    "InvalidSignature",
    "MessagePurposeNotAllowed",
    "MessagePurposeRequired",
    "MethodNotAllowed",
    "MissingMessageText",
    "MissingPhone",
    "ModuleNotEnabled",
    "MonthlyLimitReached",
    "NotFound",
    "OutboundDisabled",
    "PayloadTooLarge",
    "PolicyViolation",
    "RecipientSuppressed",
    "RevokedApiKey",
    "SendingDisabled",
    "SendingThrottled",
    "ServiceUnavailable",
    "UnsupportedMediaType",
    "ValidationError",
    "WebhookRateLimited",
    "error_from_response",
]


class GatewayError(Exception):
    """An error answer of the gateway (or, for :class:`ConnectionFailed`, no answer at all).

    ``code`` is the API's stable error code, ``status`` the HTTP status (0 when no answer came), ``message`` the
    human-readable text, ``details`` the extra keys the API gave (``field``, ``limit``, ``used``, ``reasons``, …),
    ``retry_after`` the seconds the API asked to wait (``Retry-After``), or ``None``.
    """

    code: ClassVar[str] = "unknown_error"

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        code: str | None = None,
        details: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code  # type: ignore[misc]  # an unknown code keeps its own name on the base class
        self.status = status
        self.message = message
        self.details: dict[str, Any] = dict(details or {})
        self.retry_after = retry_after
        self.headers: dict[str, str] = dict(headers or {})

    @property
    def reasons(self) -> list[str]:
        """``details.reasons`` (policy rules, throttle names), or an empty list."""
        reasons = self.details.get("reasons")
        return [str(r) for r in reasons] if isinstance(reasons, list) else []

    def __str__(self) -> str:
        return f"{self.code} ({self.status}): {self.message}" if self.status else f"{self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, status={self.status}, message={self.message!r})"


class ConnectionFailed(GatewayError):
    """No answer: the connection failed or timed out (after the retries). ``__cause__`` is httpx's exception."""

    code = "connection_failed"


class InvalidSignature(Exception):
    """A webhook failed verification: missing or malformed headers, a stale timestamp, or no matching signature."""


def _error(name: str, code: str, doc: str) -> type[GatewayError]:
    return type(name, (GatewayError,), {"code": code, "__doc__": doc, "__module__": __name__})


InvalidApiKey = _error("InvalidApiKey", "invalid_api_key", "401: the API key is missing, malformed or unknown.")
RevokedApiKey = _error("RevokedApiKey", "revoked_api_key", "401: the API key was revoked.")
InvalidJson = _error("InvalidJson", "invalid_json", "400: the body is not a JSON object.")
UnsupportedMediaType = _error(
    "UnsupportedMediaType", "unsupported_media_type", "415: the body was not sent as application/json."
)
MethodNotAllowed = _error("MethodNotAllowed", "method_not_allowed", "405: the HTTP method is not allowed here.")
NotFound = _error("NotFound", "not_found", "404: no such path, or no such message.")
PayloadTooLarge = _error("PayloadTooLarge", "payload_too_large", "413: the body is over 64 KB.")
ValidationError = _error(
    "ValidationError", "validation_error", "422: a field is missing or malformed; ``details['field']`` names it."
)
MessagePurposeRequired = _error(
    "MessagePurposeRequired", "message_purpose_required", "422: message_purpose is missing or empty."
)
MessagePurposeNotAllowed = _error(
    "MessagePurposeNotAllowed", "message_purpose_not_allowed", "422: the purpose is not one of the allowed purposes."
)
InvalidInstance = _error(
    "InvalidInstance", "invalid_instance", "404: the instance is unknown, deleted, or not visible to this key."
)
ModuleNotEnabled = _error("ModuleNotEnabled", "module_not_enabled", "403: API sending is not enabled.")
AccountPaused = _error("AccountPaused", "account_paused", "403: the operator or the account paused sending.")
InstanceNotConnected = _error(
    "InstanceNotConnected", "instance_not_connected", "409: the instance is not connected to WhatsApp."
)
RecipientSuppressed = _error(
    "RecipientSuppressed", "recipient_suppressed", "403: the recipient opted out or is blocked."
)
DailyLimitReached = _error(
    "DailyLimitReached", "daily_limit_reached", "429: the plan's daily limit is used up (``retry_after``: midnight)."
)
MonthlyLimitReached = _error(
    "MonthlyLimitReached", "monthly_limit_reached", "429: the plan's monthly limit is used up."
)
SendingThrottled = _error(
    "SendingThrottled",
    "sending_throttled",
    "429: a velocity limit was hit (per instance, per recipient, duplicate text, warm-up); ``reasons`` names it.",
)


class PolicyViolation(GatewayError):
    """403: the risk score reached the block threshold. ``reasons`` lists the rules that fired."""

    code = "policy_violation"

    @property
    def risk_score(self) -> int | None:
        score = self.details.get("risk_score")
        return int(score) if isinstance(score, int | float) else None


IdempotencyKeyReused = _error(
    "IdempotencyKeyReused", "idempotency_key_reused", "422: the Idempotency-Key was used before with another body."
)
IdempotencyInProgress = _error(
    "IdempotencyInProgress", "idempotency_in_progress", "409: the first request with this key is still running."
)
GatewaySendFailed = _error(
    "GatewaySendFailed", "gateway_send_failed", "502: the messaging provider rejected the message."
)
SendingDisabled = _error("SendingDisabled", "sending_disabled", "503: the operator switched sending off for a while.")
AuthThrottled = _error(
    "AuthThrottled", "too_many_auth_failures", "429: too many wrong API keys from this address in the last minute."
)
InvalidCallback = _error("InvalidCallback", "invalid_callback", "401: an invalid provider callback.")
Invalid3cxWebhook = _error("Invalid3cxWebhook", "invalid_3cx_webhook", "401: an invalid 3CX webhook request.")
WebhookRateLimited = _error("WebhookRateLimited", "webhook_rate_limited", "429: too many 3CX webhook requests.")
OutboundDisabled = _error(
    "OutboundDisabled", "outbound_disabled", "403: outbound messages are disabled for this integration."
)
CallEventsDisabled = _error(
    "CallEventsDisabled", "call_events_disabled", "403: call events are disabled for this integration."
)
MissingPhone = _error("MissingPhone", "missing_phone", "422: a customer phone number is required.")
MissingMessageText = _error("MissingMessageText", "missing_message_text", "422: message_text is required.")
ConversationWindowClosed = _error(
    "ConversationWindowClosed",
    "conversation_window_closed",
    "409: the customer has not written to this number in the last 24 hours.",
)
InternalError = _error("InternalError", "internal_error", "500: an unexpected error on the gateway.")
ServiceUnavailable = _error(
    "ServiceUnavailable", "service_unavailable", "503: the gateway is temporarily unavailable; retry later."
)

ERROR_CLASSES: dict[str, type[GatewayError]] = {
    cls.code: cls
    for cls in (
        InvalidApiKey,
        RevokedApiKey,
        InvalidJson,
        UnsupportedMediaType,
        MethodNotAllowed,
        NotFound,
        PayloadTooLarge,
        ValidationError,
        MessagePurposeRequired,
        MessagePurposeNotAllowed,
        InvalidInstance,
        ModuleNotEnabled,
        AccountPaused,
        InstanceNotConnected,
        RecipientSuppressed,
        DailyLimitReached,
        MonthlyLimitReached,
        SendingThrottled,
        PolicyViolation,
        IdempotencyKeyReused,
        IdempotencyInProgress,
        GatewaySendFailed,
        SendingDisabled,
        AuthThrottled,
        InvalidCallback,
        Invalid3cxWebhook,
        WebhookRateLimited,
        OutboundDisabled,
        CallEventsDisabled,
        MissingPhone,
        MissingMessageText,
        ConversationWindowClosed,
        InternalError,
        ServiceUnavailable,
    )
}


def error_from_response(status: int, body: Any, headers: Mapping[str, str], retry_after: float | None) -> GatewayError:
    """The exception for one error answer. A body that is not the API's envelope (a proxy's HTML page, say)
    still gives a :class:`GatewayError` with the status and a short excerpt."""
    if isinstance(body, Mapping) and isinstance(body.get("error"), str):
        code = body["error"]
        message = str(body.get("message") or code)
        details = body.get("details") if isinstance(body.get("details"), Mapping) else {}
    else:
        code = "http_error"
        message = f"HTTP {status}" + (f": {str(body)[:200]}" if body else "")
        details = {}
    cls = ERROR_CLASSES.get(code)
    kwargs: dict[str, Any] = {"status": status, "details": details, "retry_after": retry_after, "headers": headers}
    if cls is None:
        return GatewayError(message, code=code, **kwargs)
    return cls(message, **kwargs)
