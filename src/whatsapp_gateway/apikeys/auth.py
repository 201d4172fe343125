"""Bearer authentication for the Ninja API: ``request.auth`` is the ApiKey (with ``.account`` loaded)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from whatsapp_gateway.apikeys.models import ApiKey
from whatsapp_gateway.apikeys.services import api_key_authenticate
from whatsapp_gateway.lib import errors
from whatsapp_gateway.lib.client_ip import client_ip
from whatsapp_gateway.operations.throttle import auth_failure_record, auth_failures_exceeded, retry_after_seconds


class ApiKeyAuth(HttpBearer):
    """``Authorization: Bearer wg_live_…``. Unknown or malformed keys raise ``invalid_api_key``; revoked ones
    ``revoked_api_key`` (both 401, rendered by the API's exception handler)."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey:
        ip = client_ip(request)
        # Key guessing: after too many failures from one IP in a minute, refuse before looking the key up.
        if auth_failures_exceeded(scope="api", ip=ip):
            raise errors.AuthThrottled(headers={"Retry-After": str(retry_after_seconds())})
        try:
            return api_key_authenticate(token=token, client_ip=ip)
        except (errors.InvalidApiKey, errors.RevokedApiKey):
            auth_failure_record(scope="api", ip=ip)
            raise
