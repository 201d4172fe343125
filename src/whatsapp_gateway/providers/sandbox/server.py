"""The simulated server: signed callbacks posted through the real callback route, and the timers that move a sent
message to ``delivered`` and ``read`` and rotate a pairing QR code."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any

from django.conf import settings
from django.db import transaction

from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.providers.models import SandboxMessage, SandboxSession, SandboxSessionStatus
from whatsapp_gateway.providers.sandbox.phone import (
    NAME,
    SIGNATURE_HEADER,
    STATUS_STEPS,
    TIMESTAMP_HEADER,
    new_qr_payload,
    phone_session,
    schedule_qr_rotate,
    schedule_status_advance,
    sign,
)
from whatsapp_gateway.providers.services import callback_receive


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
        SIGNATURE_HEADER: "sha256=" + sign(instance.callback_token, stamp, body),
    }


def post_callback(*, instance: Instance, event_type: str, data: dict[str, Any], process_now: bool = False):
    """Sign a sandbox callback and feed it through ``callback_receive`` (the route's own entry point)."""
    body = callback_body(event_type, data)
    return callback_receive(
        provider_name=NAME,
        token=instance.callback_token,
        headers=signed_headers(instance, body),
        body=body,
        process_now=process_now,
    )


def _status_delay(message: SandboxMessage, step: int) -> float:
    delay = settings.GATEWAY_SANDBOX_STATUS_DELAYS[step]
    return delay * 10 if message.slow else delay


def schedule_next_status(message: SandboxMessage) -> None:
    step = STATUS_STEPS.index(message.status) + 1 if message.status in STATUS_STEPS else 0
    if step >= len(STATUS_STEPS):
        SandboxMessage.objects.filter(pk=message.pk).update(next_status_at=None)
        return
    delay = _status_delay(message, step)
    SandboxMessage.objects.filter(pk=message.pk).update(next_status_at=now() + dt.timedelta(seconds=delay))
    schedule_status_advance(message_pk=message.pk, from_status=message.status, delay=delay)


def status_advance(*, message_pk: int, from_status: str) -> str | None:
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
        post_callback(
            instance=message.instance,
            event_type="status",
            data={"message_id": message.provider_message_id, "status": new_status, "to": message.to_phone},
        )
        schedule_next_status(message)
    return new_status


def qr_rotate(*, instance_pk: int, seq: int) -> bool:
    """Issue the next QR code of a pairing attempt (every ``GATEWAY_SANDBOX_QR_SECONDS``), or give up after
    ``GATEWAY_SANDBOX_QR_LIMIT`` codes (the instance becomes disconnected). No-op if pairing moved on."""
    instance = Instance.objects.select_related("account").filter(pk=instance_pk, deleted_at__isnull=True).first()
    if instance is None:
        return False
    with transaction.atomic():
        session = phone_session(instance, lock=True)
        if session.status != SandboxSessionStatus.QR or session.qr_seq != seq:
            return False
        if seq >= settings.GATEWAY_SANDBOX_QR_LIMIT:
            session.status = SandboxSessionStatus.CLOSED
            session.qr_payload = ""
            session.pairing_code = ""
            session.qr_expires_at = None
            session.save()
            post_callback(
                instance=instance,
                event_type="connection",
                data={"state": "close", "reason": "The QR code was not scanned in time"},
            )
            return True
        lifetime = settings.GATEWAY_SANDBOX_QR_SECONDS
        session.qr_seq = seq + 1
        session.qr_payload = new_qr_payload(instance, seq + 1)
        session.qr_expires_at = now() + dt.timedelta(seconds=lifetime)
        session.save()
        post_callback(
            instance=instance,
            event_type="qr",
            data={
                "qr": session.qr_payload,
                "pairing_code": session.pairing_code,
                "expires_at": session.qr_expires_at.isoformat(),
            },
        )
        schedule_qr_rotate(instance_pk=instance.pk, seq=seq + 1, delay=lifetime)
    return True


def run_due() -> int:
    """Advance every sandbox timer that is due (lost scheduled jobs, or tests moving the clock). Returns how many."""
    moment = now()
    done = 0
    for pk, status in SandboxMessage.objects.filter(next_status_at__lte=moment).values_list("pk", "status")[:500]:
        if status_advance(message_pk=pk, from_status=status):
            done += 1
    sessions = SandboxSession.objects.filter(status=SandboxSessionStatus.QR, qr_expires_at__lte=moment)
    for instance_pk, seq in sessions.values_list("instance_id", "qr_seq")[:500]:
        if qr_rotate(instance_pk=instance_pk, seq=seq):
            done += 1
    return done
