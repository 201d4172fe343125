"""One exception hierarchy for every contract error code.

Each subclass carries its ``code`` and HTTP ``status``; the API exception handler renders the contract envelope
``{"success": false, "error": code, "message": ..., "details": {...}}`` and any ``headers`` (Retry-After, ...).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


class ErrorCode(StrEnum):
    INVALID_API_KEY = "invalid_api_key"
    REVOKED_API_KEY = "revoked_api_key"
    INVALID_JSON = "invalid_json"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_FOUND = "not_found"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    VALIDATION_ERROR = "validation_error"
    MESSAGE_PURPOSE_REQUIRED = "message_purpose_required"
    MESSAGE_PURPOSE_NOT_ALLOWED = "message_purpose_not_allowed"
    INVALID_INSTANCE = "invalid_instance"
    MODULE_NOT_ENABLED = "module_not_enabled"
    ACCOUNT_PAUSED = "account_paused"
    INSTANCE_NOT_CONNECTED = "instance_not_connected"
    RECIPIENT_SUPPRESSED = "recipient_suppressed"
    DAILY_LIMIT_REACHED = "daily_limit_reached"
    MONTHLY_LIMIT_REACHED = "monthly_limit_reached"
    SENDING_THROTTLED = "sending_throttled"
    POLICY_VIOLATION = "policy_violation"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_IN_PROGRESS = "idempotency_in_progress"
    GATEWAY_SEND_FAILED = "gateway_send_failed"
    SENDING_DISABLED = "sending_disabled"
    AUTH_THROTTLED = "too_many_auth_failures"
    # provider callbacks
    INVALID_CALLBACK = "invalid_callback"
    # 3CX
    INVALID_3CX_WEBHOOK = "invalid_3cx_webhook"
    WEBHOOK_RATE_LIMITED = "webhook_rate_limited"
    OUTBOUND_DISABLED = "outbound_disabled"
    CALL_EVENTS_DISABLED = "call_events_disabled"
    MISSING_PHONE = "missing_phone"
    MISSING_MESSAGE_TEXT = "missing_message_text"
    CONVERSATION_WINDOW_CLOSED = "conversation_window_closed"
    INTERNAL_ERROR = "internal_error"
    # the database (or another backing service) is unreachable: retry later
    SERVICE_UNAVAILABLE = "service_unavailable"


class GatewayError(Exception):
    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL_ERROR
    status: ClassVar[int] = 500
    default_message: ClassVar[str] = "Something went wrong."

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = {k: v for k, v in (details or {}).items() if v is not None}
        self.headers = headers or {}
        super().__init__(self.message)

    def as_body(self) -> dict[str, Any]:
        return {"success": False, "error": str(self.code), "message": self.message, "details": self.details}


def _error(name: str, code: ErrorCode, status: int, message: str) -> type[GatewayError]:
    return type(name, (GatewayError,), {"code": code, "status": status, "default_message": message})


InvalidApiKey = _error("InvalidApiKey", ErrorCode.INVALID_API_KEY, 401, "Missing, malformed or unknown API key.")
RevokedApiKey = _error("RevokedApiKey", ErrorCode.REVOKED_API_KEY, 401, "This API key has been revoked.")
InvalidJson = _error("InvalidJson", ErrorCode.INVALID_JSON, 400, "The request body must be a JSON object.")
UnsupportedMediaType = _error(
    "UnsupportedMediaType", ErrorCode.UNSUPPORTED_MEDIA_TYPE, 415, "Send the body as application/json."
)
MethodNotAllowed = _error("MethodNotAllowed", ErrorCode.METHOD_NOT_ALLOWED, 405, "This method is not allowed here.")
NotFound = _error("NotFound", ErrorCode.NOT_FOUND, 404, "No such resource.")
PayloadTooLarge = _error("PayloadTooLarge", ErrorCode.PAYLOAD_TOO_LARGE, 413, "The request body is too large.")
ValidationFailed = _error("ValidationFailed", ErrorCode.VALIDATION_ERROR, 422, "A field is missing or malformed.")
MessagePurposeRequired = _error(
    "MessagePurposeRequired", ErrorCode.MESSAGE_PURPOSE_REQUIRED, 422, "message_purpose is required."
)
MessagePurposeNotAllowed = _error(
    "MessagePurposeNotAllowed",
    ErrorCode.MESSAGE_PURPOSE_NOT_ALLOWED,
    422,
    "This message purpose is not allowed on the gateway.",
)
InvalidInstance = _error(
    "InvalidInstance", ErrorCode.INVALID_INSTANCE, 404, "Unknown instance, or not visible to this API key."
)
ModuleNotEnabled = _error(
    "ModuleNotEnabled", ErrorCode.MODULE_NOT_ENABLED, 403, "This module is not enabled for your account."
)
AccountPaused = _error("AccountPaused", ErrorCode.ACCOUNT_PAUSED, 403, "Sending is paused for this account.")
InstanceNotConnected = _error(
    "InstanceNotConnected",
    ErrorCode.INSTANCE_NOT_CONNECTED,
    409,
    "The instance is not connected to WhatsApp.",
)
RecipientSuppressed = _error(
    "RecipientSuppressed", ErrorCode.RECIPIENT_SUPPRESSED, 403, "The recipient is on your suppression list."
)
DailyLimitReached = _error(
    "DailyLimitReached", ErrorCode.DAILY_LIMIT_REACHED, 429, "Your plan's daily message limit is reached."
)
MonthlyLimitReached = _error(
    "MonthlyLimitReached",
    ErrorCode.MONTHLY_LIMIT_REACHED,
    429,
    "Your plan's monthly message limit is reached.",
)
SendingThrottled = _error(
    "SendingThrottled", ErrorCode.SENDING_THROTTLED, 429, "Too many messages too quickly; slow down."
)
PolicyViolation = _error(
    "PolicyViolation",
    ErrorCode.POLICY_VIOLATION,
    403,
    "The message was blocked by the responsible-messaging policy.",
)
IdempotencyKeyReused = _error(
    "IdempotencyKeyReused",
    ErrorCode.IDEMPOTENCY_KEY_REUSED,
    422,
    "This Idempotency-Key was already used with a different request body.",
)
IdempotencyInProgress = _error(
    "IdempotencyInProgress",
    ErrorCode.IDEMPOTENCY_IN_PROGRESS,
    409,
    "A request with this Idempotency-Key is still being processed.",
)
GatewaySendFailed = _error(
    "GatewaySendFailed", ErrorCode.GATEWAY_SEND_FAILED, 502, "The messaging provider rejected the message."
)
SendingDisabled = _error(
    "SendingDisabled",
    ErrorCode.SENDING_DISABLED,
    503,
    "Outbound sending is temporarily disabled by the operator.",
)
AuthThrottled = _error(
    "AuthThrottled",
    ErrorCode.AUTH_THROTTLED,
    429,
    "Too many failed authentication attempts from this address; try again in a minute.",
)
InvalidCallback = _error("InvalidCallback", ErrorCode.INVALID_CALLBACK, 401, "Invalid provider callback.")
Invalid3cxWebhook = _error("Invalid3cxWebhook", ErrorCode.INVALID_3CX_WEBHOOK, 401, "Invalid 3CX webhook request.")
WebhookRateLimited = _error(
    "WebhookRateLimited", ErrorCode.WEBHOOK_RATE_LIMITED, 429, "Too many webhook requests; slow down."
)
OutboundDisabled = _error(
    "OutboundDisabled",
    ErrorCode.OUTBOUND_DISABLED,
    403,
    "Outbound messages are disabled for this integration.",
)
CallEventsDisabled = _error(
    "CallEventsDisabled",
    ErrorCode.CALL_EVENTS_DISABLED,
    403,
    "Call events are disabled for this integration.",
)
MissingPhone = _error("MissingPhone", ErrorCode.MISSING_PHONE, 422, "A customer phone number is required.")
MissingMessageText = _error("MissingMessageText", ErrorCode.MISSING_MESSAGE_TEXT, 422, "message_text is required.")
ConversationWindowClosed = _error(
    "ConversationWindowClosed",
    ErrorCode.CONVERSATION_WINDOW_CLOSED,
    409,
    "The customer has not written to this number in the last 24 hours.",
)
ServiceUnavailable = _error(
    "ServiceUnavailable",
    ErrorCode.SERVICE_UNAVAILABLE,
    503,
    "The gateway is temporarily unavailable. Try again in a moment.",
)
