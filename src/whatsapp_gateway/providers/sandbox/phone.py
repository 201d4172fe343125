"""The sandbox provider: a simulated WhatsApp phone and server, the embedded default.

No real WhatsApp message is ever sent or received. The sandbox keeps its "server-side" state in its own tables
(``SandboxSession``, ``SandboxMessage``) and reports everything that happens through signed callbacks in its own
small JSON dialect, posted through ``providers.services.callback_receive`` — the same route and parser path a real
provider's callbacks take.

Callback body: ``{"sandbox": "v1", "event_id": "sbe_…", "type": "<type>", "timestamp": <unix>, "data": {…}}`` with
types ``connection``, ``qr``, ``status``, ``message``, ``call``, ``group`` and ``chat``. Signature headers:
``X-Sandbox-Timestamp`` and ``X-Sandbox-Signature: sha256=<hex HMAC-SHA256(instance callback token,
timestamp + "." + body)>``; timestamps more than 5 minutes off are refused (replays).

Test numbers (valid numbers from the range reserved for fiction, +1 202 555 01xx):
- ``+12025550101`` is not on WhatsApp: ``send_text`` raises a permanent ``ProviderError`` (``not_on_whatsapp``);
- ``+12025550102`` makes the provider fail: a retryable ``ProviderError`` (``provider_unavailable``);
- ``+12025550103`` is a slow provider: the send takes ``GATEWAY_SANDBOX_SLOW_SECONDS`` and its receipts come ten
  times later.

The simulated phone's numbers, its session state and the callback signature live here; ``adapter`` is the
``Provider``, ``parsing`` reads the callback dialect, ``server`` pushes callbacks and runs the timers, ``simulate``
holds the portal's and the CLI's simulation buttons.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.db import transaction

from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib.errors import PortalError
from whatsapp_gateway.providers.models import SandboxMessage, SandboxSession

NAME = "sandbox"
TEST_NUMBER_NOT_ON_WHATSAPP = "+12025550101"
TEST_NUMBER_PROVIDER_ERROR = "+12025550102"
TEST_NUMBER_SLOW = "+12025550103"
TEST_NUMBERS = {
    TEST_NUMBER_NOT_ON_WHATSAPP: "Not on WhatsApp: the send fails for good (not_on_whatsapp).",
    TEST_NUMBER_PROVIDER_ERROR: "Provider error: the send fails and is retried (provider_unavailable).",
    TEST_NUMBER_SLOW: "Slow provider: the send is slow and its receipts come late.",
}
DEFAULT_CONTACT = "+12025550142"
DEFAULT_CONTACT_NAME = "Maria (sandbox contact)"
SIGNATURE_HEADER = "x-sandbox-signature"
TIMESTAMP_HEADER = "x-sandbox-timestamp"
MAX_SKEW_SECONDS = 300
_PAIRED_AREA_CODES = (415, 312, 646, 213, 617, 305, 206, 512)

STATUS_STEPS = ("sent", "delivered", "read")


class SandboxError(PortalError):
    """A simulation that does not fit the simulated phone's state (e.g. scanning when no QR is shown)."""


def fake_phone_number(instance: Instance) -> str:
    """The number the simulated phone pairs with: deterministic per instance, valid E.164, fictional range."""
    digest = int(hashlib.sha256(instance.public_id.encode()).hexdigest(), 16)
    area = _PAIRED_AREA_CODES[digest % len(_PAIRED_AREA_CODES)]
    return f"+1{area}55501{(digest // 8) % 100:02d}"


def fake_profile_name(instance: Instance) -> str:
    return f"{instance.account.name} (sandbox)"[:120]


def new_qr_payload(instance: Instance, seq: int) -> str:
    # Shaped like WhatsApp's "2@…" QR strings, but it only means something to the sandbox.
    return f"2@sandbox,{instance.public_id},{seq},{secrets.token_urlsafe(18)}"


def new_pairing_code() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTVWXYZ23456789"
    raw = "".join(secrets.choice(alphabet) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def phone_session(instance: Instance, *, lock: bool = False) -> SandboxSession:
    qs = SandboxSession.objects.select_for_update() if lock else SandboxSession.objects
    session = qs.filter(instance=instance).first()
    if session is None:
        session, _ = SandboxSession.objects.get_or_create(instance=instance)
    return session


def _jobs():
    from whatsapp_gateway.providers import tasks  # the job module imports the sandbox, which imports this module

    return tasks


def schedule_qr_rotate(*, instance_pk: int, seq: int, delay: float) -> None:
    """The next QR code of a pairing attempt, ``delay`` seconds after the current transaction commits."""
    _schedule(_jobs().sandbox_qr_rotate_task, (instance_pk, seq), delay)


def schedule_status_advance(*, message_pk: int, from_status: str, delay: float) -> None:
    """A sandbox message's next status step, ``delay`` seconds after the current transaction commits."""
    _schedule(_jobs().sandbox_status_advance_task, (message_pk, from_status), delay)


def _schedule(task, args: tuple, delay: float) -> None:
    """Enqueue a sandbox timer after the current transaction commits (immediately when ``delay`` is 0)."""

    def enqueue() -> None:
        if delay <= 0:
            task(*args)
        else:
            task.schedule(args, delay=delay)

    transaction.on_commit(enqueue, robust=True)


def sign(token: str, timestamp: str, body: bytes) -> str:
    return hmac.new(token.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def sandbox_session_for(instance: Instance) -> SandboxSession | None:
    return SandboxSession.objects.filter(instance=instance).first()


def sandbox_recent_messages(instance: Instance, limit: int = 10) -> list[SandboxMessage]:
    return list(SandboxMessage.objects.filter(instance=instance)[:limit])
