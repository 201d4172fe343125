"""Who is calling: the integration, its credential (API key or secret), the optional signature, the IP allowlist
and the per-integration rate limit. Every refusal before the caller is known is the same uniform 401."""

from __future__ import annotations

import hashlib
import hmac
import logging

from django.db import IntegrityError, transaction
from django.db.models import F

from whatsapp_gateway.lib import errors
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.lib.crypto import constant_time_equals
from whatsapp_gateway.threecx.incoming.request import (
    FORM_GENERIC,
    FORM_NATIVE,
    RATE_LIMIT_PER_MINUTE,
    SECRET_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    TIMESTAMP_TOLERANCE_SECONDS,
    PreAuthFailure,
    RequestLog,
    WebhookRequest,
)
from whatsapp_gateway.threecx.models import (
    AuthMode,
    Integration,
    RateWindow,
)
from whatsapp_gateway.threecx.services import api_key_hash, ip_allowed, secret_hash

logger = logging.getLogger("whatsapp_gateway.threecx.incoming")


def authenticate(request: WebhookRequest, log: RequestLog) -> tuple[Integration, str]:
    """Find the integration and check its credential. The log learns the integration as soon as it is known, so a
    rejection lands in that integration's event log (with the real reason)."""
    headers = request.headers
    provided_secret = (headers.get(SECRET_HEADER) or "").strip()
    authorization = (headers.get("Authorization") or "").strip()
    bearer = authorization[7:].strip() if authorization[:7].lower() == "bearer " else ""
    integration = (
        Integration.objects.select_related("account", "default_instance")
        .filter(public_id=request.integration_ref)
        .first()
    )
    if integration is None:
        # Hash anyway so an unknown id costs the same as a known one with a wrong credential.
        secret_hash(provided_secret or bearer)
        raise PreAuthFailure("unknown integration id")
    log.integration = integration
    log.form = FORM_NATIVE if provided_secret else FORM_GENERIC if bearer else ""
    if not integration.is_active:
        raise PreAuthFailure("integration is disabled")
    if not ip_allowed(request.client_ip, integration.allowed_ips):
        raise PreAuthFailure(f"client IP {request.client_ip or '?'} is not in the allowlist")
    if provided_secret:
        if not constant_time_equals(secret_hash(provided_secret), integration.secret_hash):
            raise PreAuthFailure(f"wrong {SECRET_HEADER}")
        return integration, FORM_NATIVE
    if bearer:
        if not constant_time_equals(api_key_hash(bearer), integration.api_key_hash):
            raise PreAuthFailure("wrong Bearer API key")
        return integration, FORM_GENERIC
    if authorization:
        raise PreAuthFailure("Authorization header is not a Bearer key")
    raise PreAuthFailure(f"no credentials (neither {SECRET_HEADER} nor a Bearer API key)")


def verify_signature(integration: Integration, request: WebhookRequest) -> None:
    """Optional HMAC for the native form; required in ``secret_hmac`` mode. Stale (> 300 s) timestamps fail."""
    timestamp = (request.headers.get(TIMESTAMP_HEADER) or "").strip()
    signature = (request.headers.get(SIGNATURE_HEADER) or "").strip()
    if not timestamp and not signature:
        if integration.auth_mode == AuthMode.SECRET_HMAC:
            raise PreAuthFailure("HMAC signature required (auth mode secret + HMAC) but none was sent")
        return
    if not timestamp or not signature:
        raise PreAuthFailure(f"{TIMESTAMP_HEADER} and {SIGNATURE_HEADER} must be sent together")
    try:
        sent_at = int(timestamp)
    except ValueError as exc:
        raise PreAuthFailure("malformed timestamp (expected unix seconds)") from exc
    age = int(now().timestamp()) - sent_at
    if abs(age) > TIMESTAMP_TOLERANCE_SECONDS:
        raise PreAuthFailure(f"stale timestamp ({age} s from server time; limit {TIMESTAMP_TOLERANCE_SECONDS} s)")
    expected = hmac.new(
        integration.secret_encrypted.encode("utf-8"),
        timestamp.encode("ascii") + b"." + (request.body or b""),
        hashlib.sha256,
    ).hexdigest()
    provided = signature[7:] if signature.lower().startswith("sha256=") else signature
    if not hmac.compare_digest(expected.encode(), provided.strip().lower().encode()):
        raise PreAuthFailure("signature does not match the body")


def rate_limit(integration: Integration) -> None:
    """60 requests per integration per clock minute, counted with an atomic UPDATE (shared by all processes)."""
    current = now()
    window = int(current.timestamp()) // 60
    with transaction.atomic():
        rows = RateWindow.objects.filter(integration=integration, window_start=window)
        if not rows.update(count=F("count") + 1):
            try:
                with transaction.atomic():
                    RateWindow.objects.create(integration=integration, window_start=window, count=1)
            except IntegrityError:  # another process created this minute's row first
                rows.update(count=F("count") + 1)
            else:
                RateWindow.objects.filter(integration=integration, window_start__lt=window - 1).delete()
        count = rows.values_list("count", flat=True).first() or 0
    if count > RATE_LIMIT_PER_MINUTE:
        retry_after = 60 - int(current.timestamp()) % 60
        raise errors.WebhookRateLimited(
            f"More than {RATE_LIMIT_PER_MINUTE} requests a minute for this integration; retry in {retry_after} s.",
            details={"limit": RATE_LIMIT_PER_MINUTE, "used": count},
            headers={"Retry-After": str(retry_after)},
        )
