"""``POST /integrations/3cx/webhook/{integration_id}``: what 3CX (or middleware) sends us (docs/api.md "3CX integration").

Two request forms share the route, told apart by the credential:

* **native JSON** — ``X-WhatsApp-Gateway-3CX-Secret: <secret>`` (optionally signed with
  ``X-WhatsApp-Gateway-Timestamp`` + ``X-WhatsApp-Gateway-Signature``), body ``{"event_type": …}``;
* **stock 3CX Generic SMS** — ``Authorization: Bearer <integration API key>``, body ``{"from", "to", "text"}``,
  answered in the Telnyx shape ``{"data": {"id", "record_type": "message", "status": "queued"}}``.

Checks run in the contract's order: pre-auth (unknown/disabled integration, IP allowlist, credential, stale
timestamp, signature — all the same 401, the real reason only in the event log), 256 KB cap, 60 requests/minute
per integration, JSON, module, outbound/call-event toggles, phone, text, purpose, the 24 h window, then the send
guard (``messaging.services.send_message``, exactly as the API). Every request leaves one sanitised row in the
integration's event log.

Nothing runs inside one big transaction on purpose: the send service records blocked attempts in the message log
itself, and a rollback here must not erase them. Each ledger write (rate window, fingerprint, cooldown) is its own
small atomic statement, which is what keeps them correct across processes.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from whatsapp_gateway.accounts.models import Module
from whatsapp_gateway.lib import errors
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.lib.text import surrogate_path
from whatsapp_gateway.lib.throttle import auth_attempt_passed, auth_attempt_start, retry_after_seconds
from whatsapp_gateway.threecx.incoming.auth import authenticate, rate_limit, verify_signature
from whatsapp_gateway.threecx.incoming.event_log import sanitised_summary, write_log
from whatsapp_gateway.threecx.incoming.events import handle_generic, handle_native
from whatsapp_gateway.threecx.incoming.request import (
    FORM_GENERIC,
    FORM_NATIVE,
    MAX_BODY_BYTES,
    UNIFORM_401,
    PreAuthFailure,
    RequestLog,
    WebhookRequest,
    WebhookResponse,
)
from whatsapp_gateway.threecx.incoming.sending import message_log_rejection
from whatsapp_gateway.threecx.models import (
    Decision,
    Integration,
)

logger = logging.getLogger("whatsapp_gateway.threecx.incoming")


def webhook_handle(request: WebhookRequest) -> WebhookResponse:
    """Authenticate, check and act on one webhook request; always returns the HTTP answer (never raises)."""
    log = RequestLog()
    attempt = auth_attempt_start(scope="threecx", ip=request.client_ip)
    if not attempt.allowed:
        # Secret or key guessing from this address: refused before any lookup until the minute is over.
        exc = errors.WebhookRateLimited(headers={"Retry-After": str(retry_after_seconds())})
        return WebhookResponse(status=exc.status, body=exc.as_body(), headers=dict(exc.headers))
    failed_auth = False
    try:
        response = _handle(request, log)
    except PreAuthFailure as failure:
        failed_auth = True
        log.decision, log.code, log.reason = (
            Decision.REJECTED,
            str(errors.ErrorCode.INVALID_3CX_WEBHOOK),
            failure.reason,
        )
        response = WebhookResponse(status=401, body=dict(UNIFORM_401))
    except errors.GatewayError as exc:
        log.decision, log.code = Decision.REJECTED, str(exc.code)
        log.reason = log.reason or exc.message[:300]
        response = WebhookResponse(status=exc.status, body=exc.as_body(), headers=dict(exc.headers))
        if log.intends_send and not log.send_called and log.integration is not None:
            message_log_rejection(log.integration, exc, request)
    except Exception:
        logger.exception("3CX webhook failed for %s", request.integration_ref[:60])
        log.decision, log.code, log.reason = Decision.REJECTED, str(errors.ErrorCode.INTERNAL_ERROR), "internal error"
        exc = errors.InternalError()
        response = WebhookResponse(status=500, body=exc.as_body())
    if not failed_auth:  # a failed authentication keeps its throttle slot
        auth_attempt_passed(attempt)
    write_log(request, log, response)
    return response


# --- The pipeline ------------------------------------------------------------------------------------------------


def _handle(request: WebhookRequest, log: RequestLog) -> WebhookResponse:
    integration, form = authenticate(request, log)
    Integration.objects.filter(pk=integration.pk).update(last_request_at=now())
    if request.body_too_large or request.body is None or len(request.body) > MAX_BODY_BYTES:
        raise errors.PayloadTooLarge("The request body is over 256 KB.")
    if form == FORM_NATIVE:
        verify_signature(integration, request)
    rate_limit(integration)
    data = _parse_json(request.body)
    log.summary = sanitised_summary(data)
    account = integration.account
    if not account.has_module(Module.THREECX):
        raise errors.ModuleNotEnabled("The 3CX integration module is not enabled for this account.")
    if form == FORM_GENERIC:
        return handle_generic(integration, data, log, request)
    return handle_native(integration, data, log, request)


def _parse_json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise errors.InvalidJson() from exc
    if not isinstance(data, dict):
        raise errors.InvalidJson()
    field = surrogate_path(data)
    if field is not None:  # a "\ud800" escape: text no database can store
        raise errors.ValidationFailed(f"{field} is not valid Unicode text.", details={"field": field})
    return data
