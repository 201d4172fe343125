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
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import transaction

from whatsapp_gateway.instances.models import Instance, InstanceState
from whatsapp_gateway.lib import phone as phone_lib
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.providers.base import (
    CallbackRejected,
    CallEvent,
    ConnectionUpdate,
    ConnectResult,
    ConversationUpdate,
    CreateResult,
    GroupUpdate,
    InboundMessage,
    MessageStatusUpdate,
    NormalisedEvent,
    Provider,
    ProviderError,
    QrUpdate,
    SendResult,
    StateResult,
    load_json,
)
from whatsapp_gateway.providers.models import SandboxMessage, SandboxSession, SandboxSessionStatus

logger = logging.getLogger(__name__)

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

_CONNECTION_STATES = {
    "open": InstanceState.CONNECTED,
    "connecting": InstanceState.PAIRING,
    "close": InstanceState.DISCONNECTED,
    "logged_out": InstanceState.LOGGED_OUT,
    "failed": InstanceState.FAILED,
}
_SESSION_TO_STATE = {
    SandboxSessionStatus.STOPPED: InstanceState.CREATED,
    SandboxSessionStatus.QR: InstanceState.PAIRING,
    SandboxSessionStatus.OPEN: InstanceState.CONNECTED,
    SandboxSessionStatus.CLOSED: InstanceState.DISCONNECTED,
    SandboxSessionStatus.LOGGED_OUT: InstanceState.LOGGED_OUT,
}
STATUS_STEPS = ("sent", "delivered", "read")


class SandboxError(Exception):
    """A simulation that does not fit the simulated phone's state (e.g. scanning when no QR is shown)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def fake_phone_number(instance: Instance) -> str:
    """The number the simulated phone pairs with: deterministic per instance, valid E.164, fictional range."""
    digest = int(hashlib.sha256(instance.public_id.encode()).hexdigest(), 16)
    area = _PAIRED_AREA_CODES[digest % len(_PAIRED_AREA_CODES)]
    return f"+1{area}55501{(digest // 8) % 100:02d}"


def fake_profile_name(instance: Instance) -> str:
    return f"{instance.account.name} (sandbox)"[:120]


def _qr_payload(instance: Instance, seq: int) -> str:
    # Shaped like WhatsApp's "2@…" QR strings, but it only means something to the sandbox.
    return f"2@sandbox,{instance.public_id},{seq},{secrets.token_urlsafe(18)}"


def _pairing_code() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTVWXYZ23456789"
    raw = "".join(secrets.choice(alphabet) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def _session(instance: Instance, *, lock: bool = False) -> SandboxSession:
    qs = SandboxSession.objects.select_for_update() if lock else SandboxSession.objects
    session = qs.filter(instance=instance).first()
    if session is None:
        session, _ = SandboxSession.objects.get_or_create(instance=instance)
    return session


def _schedule(task, args: tuple, delay: float) -> None:
    """Enqueue a sandbox timer after the current transaction commits (immediately when ``delay`` is 0)."""

    def enqueue() -> None:
        if delay <= 0:
            task(*args)
        else:
            task.schedule(args, delay=delay)

    transaction.on_commit(enqueue, robust=True)


class SandboxProvider(Provider):
    name = "sandbox"
    supports_qr = True
    supports_pairing_code = True
    supports_typing = True
    sent_history_is_complete = True  # the simulated phone records every send in the same database, synchronously

    def create_instance(self, instance: Instance) -> CreateResult:
        SandboxSession.objects.get_or_create(instance=instance)
        return CreateResult(provider_ref=f"sandbox-{instance.public_id}")

    def connect(self, instance: Instance, *, phone_number: str | None = None) -> ConnectResult:
        from whatsapp_gateway.providers.tasks import sandbox_qr_rotate_task

        with transaction.atomic():
            session = _session(instance, lock=True)
            if session.status == SandboxSessionStatus.OPEN:
                return ConnectResult(state=InstanceState.CONNECTED)
            lifetime = settings.GATEWAY_SANDBOX_QR_SECONDS
            session.status = SandboxSessionStatus.QR
            session.qr_seq = 1
            session.qr_payload = _qr_payload(instance, 1)
            session.qr_expires_at = now() + dt.timedelta(seconds=lifetime)
            session.pairing_phone = phone_number or ""
            session.pairing_code = _pairing_code() if phone_number else ""
            session.save()
            _schedule(sandbox_qr_rotate_task, (instance.pk, 1), lifetime)
        return ConnectResult(
            state=InstanceState.PAIRING,
            qr_payload=session.qr_payload,
            pairing_code=session.pairing_code,
            expires_at=session.qr_expires_at,
        )

    def connection_state(self, instance: Instance) -> StateResult:
        session = _session(instance)
        return StateResult(
            state=_SESSION_TO_STATE[SandboxSessionStatus(session.status)],
            phone_number=session.phone_number if session.status == SandboxSessionStatus.OPEN else "",
            profile_name=session.profile_name if session.status == SandboxSessionStatus.OPEN else "",
        )

    def restart(self, instance: Instance) -> None:
        """A restarted session reconnects when the phone is still linked; otherwise it waits for pairing."""
        with transaction.atomic():
            session = _session(instance, lock=True)
            if session.phone_number and session.status in (SandboxSessionStatus.OPEN, SandboxSessionStatus.CLOSED):
                session.status = SandboxSessionStatus.OPEN
                session.save(update_fields=["status", "updated_at"])

    def logout(self, instance: Instance) -> None:
        with transaction.atomic():
            session = _session(instance, lock=True)
            session.status = SandboxSessionStatus.LOGGED_OUT
            session.phone_number = ""
            session.profile_name = ""
            session.qr_payload = ""
            session.pairing_code = ""
            session.qr_expires_at = None
            session.save()

    def delete_instance(self, instance: Instance) -> None:
        SandboxSession.objects.filter(instance=instance).delete()

    def send_text(self, instance: Instance, *, to: str, text: str, typing_ms: int = 0) -> SendResult:
        """Accept a message for the simulated recipient and schedule its ``sent → delivered → read`` callbacks.

        The callbacks are scheduled when the surrounding transaction commits (in tests with zero delays they run
        right then): record the returned provider message id in the same transaction that calls this.
        """
        session = _session(instance)
        if session.status != SandboxSessionStatus.OPEN:
            raise ProviderError("The sandbox phone is not connected.", permanent=False, code="not_connected")
        if to == TEST_NUMBER_NOT_ON_WHATSAPP:
            raise ProviderError(
                "The recipient is not on WhatsApp (sandbox test number).", permanent=True, code="not_on_whatsapp"
            )
        if to == TEST_NUMBER_PROVIDER_ERROR:
            raise ProviderError(
                "The sandbox provider is temporarily unavailable (test number).",
                permanent=False,
                code="provider_unavailable",
            )
        slow = to == TEST_NUMBER_SLOW
        if slow and settings.GATEWAY_SANDBOX_SLOW_SECONDS > 0:
            time.sleep(settings.GATEWAY_SANDBOX_SLOW_SECONDS)  # the simulated provider is slow to answer
        message = SandboxMessage.objects.create(
            instance=instance,
            provider_message_id=f"SBX{secrets.token_hex(10).upper()}",
            to_phone=to,
            text=text,
            slow=slow,
        )
        _schedule_next_status(message)
        return SendResult(provider_message_id=message.provider_message_id, status="sending")

    def fetch_recent_messages(self, instance: Instance, *, since: dt.datetime) -> list[NormalisedEvent]:
        """The simulated phone's sent-message history since ``since``, like a real provider's chat history: lets the
        queue's sweep reconcile a send whose answer was lost (a worker killed after the provider accepted it)."""
        return [
            InboundMessage(
                occurred_at=message.created_at,
                provider_message_id=message.provider_message_id,
                chat_id=phone_lib.e164_to_jid(message.to_phone),
                chat_phone=message.to_phone,
                from_me=True,
                text=message.text,
            )
            for message in SandboxMessage.objects.filter(instance=instance, created_at__gte=since).order_by("id")
        ]

    # --- callbacks ------------------------------------------------------------------------------------------------

    def verify_callback(self, instance: Instance, *, headers: Mapping[str, str], body: bytes) -> None:
        timestamp = headers.get(TIMESTAMP_HEADER, "")
        signature = headers.get(SIGNATURE_HEADER, "")
        if not timestamp or not signature:
            raise CallbackRejected("missing_signature")
        try:
            sent_at = int(timestamp)
        except ValueError as exc:
            raise CallbackRejected("bad_timestamp") from exc
        if abs(now().timestamp() - sent_at) > MAX_SKEW_SECONDS:
            raise CallbackRejected("stale_timestamp")
        expected = "sha256=" + _signature(instance.callback_token, timestamp, body)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise CallbackRejected("bad_signature")

    def parse_callback(self, instance: Instance, *, headers: Mapping[str, str], body: bytes) -> list[NormalisedEvent]:
        payload = load_json(body)
        if not isinstance(payload, dict) or payload.get("sandbox") != "v1":
            return []
        data = payload.get("data")
        if not isinstance(data, dict):
            return []
        parser = _PARSERS.get(str(payload.get("type")))
        if parser is None:
            return []
        occurred_at = _timestamp(payload.get("timestamp"))
        event_id = _s(payload.get("event_id"))
        try:
            return parser(data, occurred_at, event_id)
        except (TypeError, ValueError, AttributeError):
            logger.warning("sandbox callback %s has an unexpected shape; ignored", event_id)
            return []


def _signature(token: str, timestamp: str, body: bytes) -> str:
    return hmac.new(token.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _timestamp(value: Any) -> dt.datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return dt.datetime.fromtimestamp(value, tz=dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def _datetime(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _phone(value: Any) -> str:
    raw = _s(value)
    if not raw:
        return ""
    jid_phone = phone_lib.jid_to_e164(raw)
    return jid_phone or (raw if raw.startswith("+") else "")


def _parse_connection(data: dict, occurred_at, event_id: str) -> list[NormalisedEvent]:
    state = _CONNECTION_STATES.get(_s(data.get("state")))
    if state is None:
        return []
    return [
        ConnectionUpdate(
            occurred_at=occurred_at,
            state=state,
            reason=_s(data.get("reason"))[:200],
            phone_number=_phone(data.get("phone")),
            profile_name=_s(data.get("name"))[:120],
            event_id=event_id,
        )
    ]


def _parse_qr(data: dict, occurred_at, event_id: str) -> list[NormalisedEvent]:
    return [
        QrUpdate(
            occurred_at=occurred_at,
            qr_payload=_s(data.get("qr")),
            pairing_code=_s(data.get("pairing_code")),
            expires_at=_datetime(data.get("expires_at")),
            limit_reached=data.get("limit_reached") is True,
        )
    ]


def _parse_status(data: dict, occurred_at, event_id: str) -> list[NormalisedEvent]:
    status = _s(data.get("status"))
    if status not in (*STATUS_STEPS, "failed"):
        return []
    error = data.get("error") if isinstance(data.get("error"), dict) else {}
    return [
        MessageStatusUpdate(
            occurred_at=occurred_at,
            provider_message_id=_s(data.get("message_id")),
            status=status,
            error_code=_s(error.get("code")),
            error_message=_s(error.get("message")),
            recipient=_phone(data.get("to")),
        )
    ]


def _parse_message(data: dict, occurred_at, event_id: str) -> list[NormalisedEvent]:
    sender = _s(data.get("from"))
    is_group = data.get("is_group") is True
    participant = _s(data.get("participant"))
    sender_jid = participant if is_group and participant else sender
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    return [
        InboundMessage(
            occurred_at=occurred_at,
            provider_message_id=_s(data.get("id")),
            chat_id=_s(data.get("chat_id")) or sender,
            sender_id=sender_jid,
            sender_phone=_phone(sender_jid),
            sender_name=_s(data.get("from_name"))[:120],
            is_group=is_group,
            group_name=_s(data.get("group_name"))[:120],
            from_me=data.get("from_me") is True,
            message_type=_s(data.get("type")) or "text",
            text=_s(data.get("text")),
            metadata=metadata,
        )
    ]


def _parse_call(data: dict, occurred_at, event_id: str) -> list[NormalisedEvent]:
    caller = _s(data.get("from"))
    return [
        CallEvent(
            occurred_at=occurred_at,
            call_id=_s(data.get("id")),
            caller_id=caller,
            caller_phone=_phone(caller),
            is_video=data.get("is_video") is True,
            status=_s(data.get("status")) or "offer",
        )
    ]


def _parse_group(data: dict, occurred_at, event_id: str) -> list[NormalisedEvent]:
    participants = data.get("participants") if isinstance(data.get("participants"), list) else []
    return [
        GroupUpdate(
            occurred_at=occurred_at,
            group_id=_s(data.get("id")),
            group_name=_s(data.get("name"))[:120],
            action=_s(data.get("action")) or "updated",
            participants=tuple(p for p in participants if isinstance(p, str)),
            event_id=event_id,
        )
    ]


def _parse_chat(data: dict, occurred_at, event_id: str) -> list[NormalisedEvent]:
    unread = data.get("unread_count")
    archived = data.get("archived")
    return [
        ConversationUpdate(
            occurred_at=occurred_at,
            chat_id=_s(data.get("id")),
            phone=_phone(data.get("phone") or data.get("id")),
            unread_count=unread if isinstance(unread, int) and not isinstance(unread, bool) else None,
            archived=archived if isinstance(archived, bool) else None,
            event_id=event_id,
        )
    ]


_PARSERS = {
    "connection": _parse_connection,
    "qr": _parse_qr,
    "status": _parse_status,
    "message": _parse_message,
    "call": _parse_call,
    "group": _parse_group,
    "chat": _parse_chat,
}


# --- The simulated server pushing callbacks -----------------------------------------------------------------------


def callback_body(event_type: str, data: dict[str, Any], *, event_id: str | None = None) -> bytes:
    """A sandbox callback body in the sandbox's JSON dialect."""
    payload = {
        "sandbox": "v1",
        "event_id": event_id or f"sbe_{secrets.token_hex(10)}",
        "type": event_type,
        "timestamp": int(now().timestamp()),
        "data": data,
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signed_headers(instance: Instance, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """The headers the sandbox sends with ``body``: timestamp and HMAC signature keyed by the callback token."""
    stamp = str(int(now().timestamp()) if timestamp is None else timestamp)
    return {
        "content-type": "application/json",
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: "sha256=" + _signature(instance.callback_token, stamp, body),
    }


def sandbox_post(*, instance: Instance, event_type: str, data: dict[str, Any], process_now: bool = False):
    """Sign a sandbox callback and feed it through ``callback_receive`` (the route's own entry point)."""
    from whatsapp_gateway.providers.services import callback_receive

    body = callback_body(event_type, data)
    return callback_receive(
        provider_name=SandboxProvider.name,
        token=instance.callback_token,
        headers=signed_headers(instance, body),
        body=body,
        process_now=process_now,
    )


def _status_delay(message: SandboxMessage, step: int) -> float:
    delay = settings.GATEWAY_SANDBOX_STATUS_DELAYS[step]
    return delay * 10 if message.slow else delay


def _schedule_next_status(message: SandboxMessage) -> None:
    from whatsapp_gateway.providers.tasks import sandbox_status_advance_task

    step = STATUS_STEPS.index(message.status) + 1 if message.status in STATUS_STEPS else 0
    if step >= len(STATUS_STEPS):
        SandboxMessage.objects.filter(pk=message.pk).update(next_status_at=None)
        return
    delay = _status_delay(message, step)
    SandboxMessage.objects.filter(pk=message.pk).update(next_status_at=now() + dt.timedelta(seconds=delay))
    _schedule(sandbox_status_advance_task, (message.pk, message.status), delay)


def sandbox_status_advance(*, message_pk: int, from_status: str) -> str | None:
    """Move a sandbox message one step (``sent`` → ``delivered`` → ``read``) and post its status callback.

    Conditional on ``from_status`` so a timer and the sweeper never advance the same step twice."""
    message = SandboxMessage.objects.select_related("instance").filter(pk=message_pk).first()
    if message is None or message.status != from_status or from_status == STATUS_STEPS[-1]:
        return None
    step = STATUS_STEPS.index(from_status) + 1 if from_status in STATUS_STEPS else 0
    new_status = STATUS_STEPS[step]
    with transaction.atomic():
        if not SandboxMessage.objects.filter(pk=message_pk, status=from_status).update(status=new_status):
            return None
        message.status = new_status
        sandbox_post(
            instance=message.instance,
            event_type="status",
            data={"message_id": message.provider_message_id, "status": new_status, "to": message.to_phone},
        )
        _schedule_next_status(message)
    return new_status


def sandbox_qr_rotate(*, instance_pk: int, seq: int) -> bool:
    """Issue the next QR code of a pairing attempt (every ``GATEWAY_SANDBOX_QR_SECONDS``), or give up after
    ``GATEWAY_SANDBOX_QR_LIMIT`` codes (the instance becomes disconnected). No-op if pairing moved on."""
    from whatsapp_gateway.providers.tasks import sandbox_qr_rotate_task

    instance = Instance.objects.select_related("account").filter(pk=instance_pk, deleted_at__isnull=True).first()
    if instance is None:
        return False
    with transaction.atomic():
        session = _session(instance, lock=True)
        if session.status != SandboxSessionStatus.QR or session.qr_seq != seq:
            return False
        if seq >= settings.GATEWAY_SANDBOX_QR_LIMIT:
            session.status = SandboxSessionStatus.CLOSED
            session.qr_payload = ""
            session.pairing_code = ""
            session.qr_expires_at = None
            session.save()
            sandbox_post(
                instance=instance,
                event_type="connection",
                data={"state": "close", "reason": "The QR code was not scanned in time"},
            )
            return True
        lifetime = settings.GATEWAY_SANDBOX_QR_SECONDS
        session.qr_seq = seq + 1
        session.qr_payload = _qr_payload(instance, seq + 1)
        session.qr_expires_at = now() + dt.timedelta(seconds=lifetime)
        session.save()
        sandbox_post(
            instance=instance,
            event_type="qr",
            data={
                "qr": session.qr_payload,
                "pairing_code": session.pairing_code,
                "expires_at": session.qr_expires_at.isoformat(),
            },
        )
        _schedule(sandbox_qr_rotate_task, (instance.pk, seq + 1), lifetime)
    return True


def sandbox_run_due() -> int:
    """Advance every sandbox timer that is due (lost scheduled jobs, or tests moving the clock). Returns how many."""
    moment = now()
    done = 0
    for pk, status in SandboxMessage.objects.filter(next_status_at__lte=moment).values_list("pk", "status")[:500]:
        if sandbox_status_advance(message_pk=pk, from_status=status):
            done += 1
    sessions = SandboxSession.objects.filter(status=SandboxSessionStatus.QR, qr_expires_at__lte=moment)
    for instance_pk, seq in sessions.values_list("instance_id", "qr_seq")[:500]:
        if sandbox_qr_rotate(instance_pk=instance_pk, seq=seq):
            done += 1
    return done


# --- Simulations (portal buttons and ``whatsapp-gateway simulate …``) -------------------------------------------


def _require_sandbox(instance: Instance) -> None:
    if instance.provider != SandboxProvider.name:
        raise SandboxError("Simulations are only available for sandbox instances.")
    if instance.deleted_at is not None:
        raise SandboxError("This instance was deleted.")


def _require_open(instance: Instance) -> SandboxSession:
    session = _session(instance)
    if session.status != SandboxSessionStatus.OPEN:
        raise SandboxError("The sandbox phone is not connected: pair it first (Connect, then Scan QR).")
    return session


def _contact(phone: str | None, default_country: str) -> str:
    if not phone:
        return DEFAULT_CONTACT
    try:
        return phone_lib.normalize_e164(phone, default_country)
    except phone_lib.InvalidPhoneNumber as exc:
        raise SandboxError(f"Not a valid phone number: {phone}") from exc


def simulate_scan(*, instance: Instance):
    """The person scans the QR code (or enters the pairing code) with the simulated phone."""
    _require_sandbox(instance)
    with transaction.atomic():
        session = _session(instance, lock=True)
        if session.status != SandboxSessionStatus.QR:
            raise SandboxError("The instance is not showing a QR code: click Connect first.")
        session.status = SandboxSessionStatus.OPEN
        session.phone_number = session.pairing_phone or fake_phone_number(instance)
        session.profile_name = fake_profile_name(instance)
        session.qr_payload = ""
        session.pairing_code = ""
        session.qr_expires_at = None
        session.save()
    return sandbox_post(
        instance=instance,
        event_type="connection",
        data={
            "state": "open",
            "reason": "QR code scanned (sandbox)",
            "phone": phone_lib.e164_to_jid(session.phone_number),
            "name": session.profile_name,
        },
        process_now=True,
    )


def simulate_disconnect(*, instance: Instance, reason: str = "The phone lost its connection (simulated)"):
    _require_sandbox(instance)
    with transaction.atomic():
        session = _session(instance, lock=True)
        if session.status != SandboxSessionStatus.OPEN:
            raise SandboxError("The sandbox phone is not connected.")
        session.status = SandboxSessionStatus.CLOSED
        session.save(update_fields=["status", "updated_at"])
    return sandbox_post(
        instance=instance, event_type="connection", data={"state": "close", "reason": reason}, process_now=True
    )


def simulate_reconnect(*, instance: Instance):
    """The disconnected phone comes back online (it is still linked, so no new pairing is needed)."""
    _require_sandbox(instance)
    with transaction.atomic():
        session = _session(instance, lock=True)
        if session.status != SandboxSessionStatus.CLOSED or not session.phone_number:
            raise SandboxError("Only a disconnected, still linked sandbox phone can come back online.")
        session.status = SandboxSessionStatus.OPEN
        session.save(update_fields=["status", "updated_at"])
    return sandbox_post(
        instance=instance,
        event_type="connection",
        data={
            "state": "open",
            "reason": "The phone is back online (simulated)",
            "phone": phone_lib.e164_to_jid(session.phone_number),
            "name": session.profile_name,
        },
        process_now=True,
    )


def simulate_inbound(
    *, instance: Instance, from_phone: str | None = None, text: str = "Hello!", from_name: str = DEFAULT_CONTACT_NAME
):
    """A contact writes to the instance's number."""
    _require_sandbox(instance)
    _require_open(instance)
    sender = _contact(from_phone, instance.account.default_country)
    jid = phone_lib.e164_to_jid(sender)
    return sandbox_post(
        instance=instance,
        event_type="message",
        data={
            "id": f"SBXIN{secrets.token_hex(8).upper()}",
            "from": jid,
            "from_name": from_name or "",
            "chat_id": jid,
            "type": "text",
            "text": text,
        },
        process_now=True,
    )


def simulate_stop(*, instance: Instance, from_phone: str | None = None):
    return simulate_inbound(instance=instance, from_phone=from_phone, text="STOP")


def simulate_call(*, instance: Instance, from_phone: str | None = None, is_video: bool = False, missed: bool = False):
    _require_sandbox(instance)
    _require_open(instance)
    caller = phone_lib.e164_to_jid(_contact(from_phone, instance.account.default_country))
    return sandbox_post(
        instance=instance,
        event_type="call",
        data={
            "id": f"SBXCALL{secrets.token_hex(6).upper()}",
            "from": caller,
            "is_video": is_video,
            "status": "missed" if missed else "offer",
        },
        process_now=True,
    )


def _group_id(group_name: str) -> str:
    return "120363" + str(int(hashlib.sha256(group_name.encode()).hexdigest(), 16))[:12] + "@g.us"


def simulate_group_message(
    *,
    instance: Instance,
    from_phone: str | None = None,
    text: str = "Hello team!",
    group_name: str = "Sandbox team",
    from_name: str = DEFAULT_CONTACT_NAME,
):
    _require_sandbox(instance)
    _require_open(instance)
    participant = phone_lib.e164_to_jid(_contact(from_phone, instance.account.default_country))
    group = _group_id(group_name)
    return sandbox_post(
        instance=instance,
        event_type="message",
        data={
            "id": f"SBXGRP{secrets.token_hex(8).upper()}",
            "from": group,
            "chat_id": group,
            "is_group": True,
            "group_name": group_name,
            "participant": participant,
            "from_name": from_name,
            "type": "text",
            "text": text,
        },
        process_now=True,
    )


def simulate_group_update(
    *, instance: Instance, action: str = "join", participant: str | None = None, group_name: str = "Sandbox team"
):
    _require_sandbox(instance)
    _require_open(instance)
    if action not in ("created", "updated", "join", "leave", "promote", "demote"):
        raise SandboxError("action must be one of created, updated, join, leave, promote, demote")
    member = phone_lib.e164_to_jid(_contact(participant, instance.account.default_country))
    return sandbox_post(
        instance=instance,
        event_type="group",
        data={"id": _group_id(group_name), "name": group_name, "action": action, "participants": [member]},
        process_now=True,
    )


def simulate_conversation_update(
    *, instance: Instance, phone: str | None = None, unread_count: int = 0, archived: bool = False
):
    _require_sandbox(instance)
    _require_open(instance)
    contact = _contact(phone, instance.account.default_country)
    return sandbox_post(
        instance=instance,
        event_type="chat",
        data={
            "id": phone_lib.e164_to_jid(contact),
            "phone": contact,
            "unread_count": unread_count,
            "archived": archived,
        },
        process_now=True,
    )


def sandbox_session_for(instance: Instance) -> SandboxSession | None:
    return SandboxSession.objects.filter(instance=instance).first()


def sandbox_recent_messages(instance: Instance, limit: int = 10) -> list[SandboxMessage]:
    return list(SandboxMessage.objects.filter(instance=instance)[:limit])
