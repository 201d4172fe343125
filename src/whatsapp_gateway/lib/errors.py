"""One exception class for every contract error code, all under ``GatewayError``.

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
    """The base of every contract error: ``internal_error`` (500) unless a subclass names its own code."""

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


class InternalError(GatewayError):
    """An unexpected failure; the details are in the server log, never in the answer."""

    default_message = "An internal error occurred; it has been logged."


class InvalidApiKey(GatewayError):
    code = ErrorCode.INVALID_API_KEY
    status = 401
    default_message = "Missing, malformed or unknown API key."


class RevokedApiKey(GatewayError):
    code = ErrorCode.REVOKED_API_KEY
    status = 401
    default_message = "This API key has been revoked."


class InvalidJson(GatewayError):
    code = ErrorCode.INVALID_JSON
    status = 400
    default_message = "The request body must be a JSON object."


class UnsupportedMediaType(GatewayError):
    code = ErrorCode.UNSUPPORTED_MEDIA_TYPE
    status = 415
    default_message = "Send the body as application/json."


class MethodNotAllowed(GatewayError):
    code = ErrorCode.METHOD_NOT_ALLOWED
    status = 405
    default_message = "This method is not allowed here."


class NotFound(GatewayError):
    code = ErrorCode.NOT_FOUND
    status = 404
    default_message = "No such resource."


class PayloadTooLarge(GatewayError):
    code = ErrorCode.PAYLOAD_TOO_LARGE
    status = 413
    default_message = "The request body is too large."


class ValidationFailed(GatewayError):
    code = ErrorCode.VALIDATION_ERROR
    status = 422
    default_message = "A field is missing or malformed."


class MessagePurposeRequired(GatewayError):
    code = ErrorCode.MESSAGE_PURPOSE_REQUIRED
    status = 422
    default_message = "message_purpose is required."


class MessagePurposeNotAllowed(GatewayError):
    code = ErrorCode.MESSAGE_PURPOSE_NOT_ALLOWED
    status = 422
    default_message = "This message purpose is not allowed on the gateway."


class InvalidInstance(GatewayError):
    code = ErrorCode.INVALID_INSTANCE
    status = 404
    default_message = "Unknown instance, or not visible to this API key."


class ModuleNotEnabled(GatewayError):
    code = ErrorCode.MODULE_NOT_ENABLED
    status = 403
    default_message = "This module is not enabled for your account."


class AccountPaused(GatewayError):
    code = ErrorCode.ACCOUNT_PAUSED
    status = 403
    default_message = "Sending is paused for this account."


class InstanceNotConnected(GatewayError):
    code = ErrorCode.INSTANCE_NOT_CONNECTED
    status = 409
    default_message = "The instance is not connected to WhatsApp."


class RecipientSuppressed(GatewayError):
    code = ErrorCode.RECIPIENT_SUPPRESSED
    status = 403
    default_message = "The recipient is on your suppression list."


class DailyLimitReached(GatewayError):
    code = ErrorCode.DAILY_LIMIT_REACHED
    status = 429
    default_message = "Your plan's daily message limit is reached."


class MonthlyLimitReached(GatewayError):
    code = ErrorCode.MONTHLY_LIMIT_REACHED
    status = 429
    default_message = "Your plan's monthly message limit is reached."


class SendingThrottled(GatewayError):
    code = ErrorCode.SENDING_THROTTLED
    status = 429
    default_message = "Too many messages too quickly; slow down."


class PolicyViolation(GatewayError):
    code = ErrorCode.POLICY_VIOLATION
    status = 403
    default_message = "The message was blocked by the responsible-messaging policy."


class IdempotencyKeyReused(GatewayError):
    code = ErrorCode.IDEMPOTENCY_KEY_REUSED
    status = 422
    default_message = "This Idempotency-Key was already used with a different request body."


class IdempotencyInProgress(GatewayError):
    code = ErrorCode.IDEMPOTENCY_IN_PROGRESS
    status = 409
    default_message = "A request with this Idempotency-Key is still being processed."


class GatewaySendFailed(GatewayError):
    code = ErrorCode.GATEWAY_SEND_FAILED
    status = 502
    default_message = "The messaging provider rejected the message."


class SendingDisabled(GatewayError):
    code = ErrorCode.SENDING_DISABLED
    status = 503
    default_message = "Outbound sending is temporarily disabled by the operator."


class AuthThrottled(GatewayError):
    code = ErrorCode.AUTH_THROTTLED
    status = 429
    default_message = "Too many failed authentication attempts from this address; try again in a minute."


class InvalidCallback(GatewayError):
    code = ErrorCode.INVALID_CALLBACK
    status = 401
    default_message = "Invalid provider callback."


class Invalid3cxWebhook(GatewayError):
    code = ErrorCode.INVALID_3CX_WEBHOOK
    status = 401
    default_message = "Invalid 3CX webhook request."


class WebhookRateLimited(GatewayError):
    code = ErrorCode.WEBHOOK_RATE_LIMITED
    status = 429
    default_message = "Too many webhook requests; slow down."


class OutboundDisabled(GatewayError):
    code = ErrorCode.OUTBOUND_DISABLED
    status = 403
    default_message = "Outbound messages are disabled for this integration."


class CallEventsDisabled(GatewayError):
    code = ErrorCode.CALL_EVENTS_DISABLED
    status = 403
    default_message = "Call events are disabled for this integration."


class MissingPhone(GatewayError):
    code = ErrorCode.MISSING_PHONE
    status = 422
    default_message = "A customer phone number is required."


class MissingMessageText(GatewayError):
    code = ErrorCode.MISSING_MESSAGE_TEXT
    status = 422
    default_message = "message_text is required."


class ConversationWindowClosed(GatewayError):
    code = ErrorCode.CONVERSATION_WINDOW_CLOSED
    status = 409
    default_message = "The customer has not written to this number in the last 24 hours."


class ServiceUnavailable(GatewayError):
    code = ErrorCode.SERVICE_UNAVAILABLE
    status = 503
    default_message = "The gateway is temporarily unavailable. Try again in a moment."


# --- Refusals shown in the portal -----------------------------------------------------------------------------------


class PortalError(Exception):
    """A refusal shown to the person who asked (a portal form, an admin action, the CLI), never an API answer:
    ``message`` is the text they see."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
