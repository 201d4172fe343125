"""Typed Python client and webhook verifier for the WhatsApp Gateway API.

    from whatsapp_gateway_client import Client

    with Client("https://gateway.example.com", "wg_live_…") as client:
        result = client.send_message("demo-support-line", "+966512345678", "Your order has shipped.", "transactional")
        print(result.message_id, result.status)

See the package README (or the gateway's /docs/sdk/python) for errors, retries and webhook verification.
"""

__version__ = "0.1.0"

# After __version__, which _client reads for the User-Agent.
from whatsapp_gateway_client import errors as _errors
from whatsapp_gateway_client import events as _events
from whatsapp_gateway_client._client import AsyncClient, Client
from whatsapp_gateway_client.errors import *  # noqa: F403
from whatsapp_gateway_client.events import *  # noqa: F403
from whatsapp_gateway_client.models import Message, SendResult, StatusChange, TemplateRef
from whatsapp_gateway_client.webhooks import verify_signature, verify_webhook

__all__ = [
    "AsyncClient",
    "Client",
    "Message",
    "SendResult",
    "StatusChange",
    "TemplateRef",
    "__version__",
    "verify_signature",
    "verify_webhook",
] + [name for name in (*_errors.__all__, *_events.__all__) if name != "error_from_response"]
