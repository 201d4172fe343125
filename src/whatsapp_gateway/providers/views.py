"""The internal provider callback route: ``/providers/{provider}/callback/{token}``.

Plain Django (not Ninja, not in OpenAPI). Thin: read the body under the cap, hand it to ``callback_receive``,
answer its receipt as JSON. Never a 500 for bad input: every refusal is a 4xx ``invalid_callback``.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from whatsapp_gateway.providers import services
from whatsapp_gateway.providers.base import CallbackRejected
from whatsapp_gateway.providers.registry import UnknownProvider, get_provider


@csrf_exempt
def callback(request: HttpRequest, provider: str, token: str) -> HttpResponse:
    if request.method == "GET":
        return _verification(request, provider, token)
    if request.method != "POST":
        response = JsonResponse(
            {"success": False, "error": "invalid_callback", "message": "Use POST.", "details": {}}, status=405
        )
        response["Allow"] = "GET, POST"
        return response
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    cap = settings.GATEWAY_CALLBACK_MAX_BYTES
    # Never read more than the cap (+1 to notice an oversized body sent without a Content-Length).
    body = b"" if declared > cap else request.read(cap + 1)
    receipt = services.callback_receive(
        provider_name=provider, token=token, headers=request.headers, body=body, declared_length=declared
    )
    return JsonResponse(receipt.body, status=receipt.status)


def _verification(request: HttpRequest, provider: str, token: str) -> HttpResponse:
    """A provider's GET handshake (e.g. Meta's ``hub.challenge``), answered by the provider adapter."""
    try:
        impl = get_provider(provider)
    except UnknownProvider:
        impl = None
    instance = services.instance_for_callback_token(provider, token) if impl is not None else None
    try:
        answer = impl.answer_verification(instance, params=request.GET) if instance is not None else None
    except CallbackRejected as exc:  # e.g. a wrong hub.verify_token: 403, and nothing is echoed
        return JsonResponse(
            {"success": False, "error": "invalid_callback", "message": "Invalid provider callback.", "details": {}},
            status=exc.status if 400 <= exc.status < 500 else 403,
        )
    if answer is None:
        return JsonResponse(
            {"success": False, "error": "invalid_callback", "message": "Invalid provider callback.", "details": {}},
            status=401 if instance is None else 405,
        )
    return HttpResponse(answer, content_type="text/plain")
