"""Bearer authentication for the Ninja API: ``request.auth`` is the ApiKey (with ``.account`` loaded)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from whatsapp_gateway.apikeys.models import ApiKey
from whatsapp_gateway.apikeys.services import api_key_authenticate, api_key_known_active
from whatsapp_gateway.lib import errors
from whatsapp_gateway.lib.client_ip import client_ip
from whatsapp_gateway.lib.throttle import (
    auth_attempt_passed,
    auth_attempt_start,
    auth_failures_exceeded,
    retry_after_seconds,
)


class ApiKeyAuth(HttpBearer):
    """``Authorization: Bearer wg_live_…``. Unknown or malformed keys raise ``invalid_api_key``; revoked ones
    ``revoked_api_key`` (both 401, rendered by the API's exception handler)."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey:
        ip = client_ip(request)
        if api_key_known_active(token):
            # Verified by this process seconds ago: no guess, so no slot to take and give back (one read of the
            # address's count instead of two writes); the address still waits once it is throttled.
            if auth_failures_exceeded(scope="api", ip=ip):
                raise errors.AuthThrottled(headers={"Retry-After": str(retry_after_seconds())})
            try:
                return api_key_authenticate(token=token, client_ip=ip)
            except (errors.InvalidApiKey, errors.RevokedApiKey):
                auth_attempt_start(scope="api", ip=ip)  # revoked meanwhile: a failure after all, so it keeps a slot
                raise
        # Key guessing: after too many failures from one IP in a minute, refuse before looking the key up.
        attempt = auth_attempt_start(scope="api", ip=ip)
        if not attempt.allowed:
            raise errors.AuthThrottled(headers={"Retry-After": str(retry_after_seconds())})
        try:
            api_key = api_key_authenticate(token=token, client_ip=ip)
        except (errors.InvalidApiKey, errors.RevokedApiKey):
            raise  # the failure keeps its slot
        except Exception:
            auth_attempt_passed(attempt)
            raise
        auth_attempt_passed(attempt)
        return api_key
