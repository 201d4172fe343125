"""The sandbox ``Provider``: pairing, sending and history against the simulated phone (``phone``), its callbacks
verified with the sandbox signature and parsed by ``parsing``."""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import secrets
import time
from collections.abc import Mapping

from django.conf import settings
from django.db import transaction

from whatsapp_gateway.instances.models import Instance, InstanceState
from whatsapp_gateway.lib import phone as phone_lib
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.providers.base import (
    CallbackRejected,
    ConnectResult,
    CreateResult,
    InboundMessage,
    NormalisedEvent,
    Provider,
    ProviderError,
    SendResult,
    StateResult,
    load_json,
)
from whatsapp_gateway.providers.models import SandboxMessage, SandboxSession, SandboxSessionStatus
from whatsapp_gateway.providers.sandbox.parsing import PARSERS, as_text, event_time
from whatsapp_gateway.providers.sandbox.phone import (
    MAX_SKEW_SECONDS,
    NAME,
    SIGNATURE_HEADER,
    TEST_NUMBER_NOT_ON_WHATSAPP,
    TEST_NUMBER_PROVIDER_ERROR,
    TEST_NUMBER_SLOW,
    TIMESTAMP_HEADER,
    new_pairing_code,
    new_qr_payload,
    phone_session,
    schedule_qr_rotate,
    sign,
)
from whatsapp_gateway.providers.sandbox.server import schedule_next_status

logger = logging.getLogger("whatsapp_gateway.providers.sandbox")

_SESSION_TO_STATE = {
    SandboxSessionStatus.STOPPED: InstanceState.CREATED,
    SandboxSessionStatus.QR: InstanceState.PAIRING,
    SandboxSessionStatus.OPEN: InstanceState.CONNECTED,
    SandboxSessionStatus.CLOSED: InstanceState.DISCONNECTED,
    SandboxSessionStatus.LOGGED_OUT: InstanceState.LOGGED_OUT,
}


class SandboxProvider(Provider):
    name = NAME
    supports_qr = True
    supports_pairing_code = True
    supports_typing = True
    sent_history_is_complete = True  # the simulated phone records every send in the same database, synchronously

    def create_instance(self, instance: Instance) -> CreateResult:
        SandboxSession.objects.get_or_create(instance=instance)
        return CreateResult(provider_ref=f"sandbox-{instance.public_id}")

    def connect(self, instance: Instance, *, phone_number: str | None = None) -> ConnectResult:
        with transaction.atomic():
            session = phone_session(instance, lock=True)
            if session.status == SandboxSessionStatus.OPEN:
                return ConnectResult(state=InstanceState.CONNECTED)
            lifetime = settings.GATEWAY_SANDBOX_QR_SECONDS
            session.status = SandboxSessionStatus.QR
            session.qr_seq = 1
            session.qr_payload = new_qr_payload(instance, 1)
            session.qr_expires_at = now() + dt.timedelta(seconds=lifetime)
            session.pairing_phone = phone_number or ""
            session.pairing_code = new_pairing_code() if phone_number else ""
            session.save()
            schedule_qr_rotate(instance_pk=instance.pk, seq=1, delay=lifetime)
        return ConnectResult(
            state=InstanceState.PAIRING,
            qr_payload=session.qr_payload,
            pairing_code=session.pairing_code,
            expires_at=session.qr_expires_at,
        )

    def connection_state(self, instance: Instance) -> StateResult:
        session = phone_session(instance)
        return StateResult(
            state=_SESSION_TO_STATE[SandboxSessionStatus(session.status)],
            phone_number=session.phone_number if session.status == SandboxSessionStatus.OPEN else "",
            profile_name=session.profile_name if session.status == SandboxSessionStatus.OPEN else "",
        )

    def restart(self, instance: Instance) -> None:
        """A restarted session reconnects when the phone is still linked; otherwise it waits for pairing."""
        with transaction.atomic():
            session = phone_session(instance, lock=True)
            if session.phone_number and session.status in (SandboxSessionStatus.OPEN, SandboxSessionStatus.CLOSED):
                session.status = SandboxSessionStatus.OPEN
                session.save(update_fields=["status", "updated_at"])

    def logout(self, instance: Instance) -> None:
        with transaction.atomic():
            session = phone_session(instance, lock=True)
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
        session = phone_session(instance)
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
        schedule_next_status(message)
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
        expected = "sha256=" + sign(instance.callback_token, timestamp, body)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise CallbackRejected("bad_signature")

    def parse_callback(self, instance: Instance, *, headers: Mapping[str, str], body: bytes) -> list[NormalisedEvent]:
        payload = load_json(body)
        if not isinstance(payload, dict) or payload.get("sandbox") != "v1":
            return []
        data = payload.get("data")
        if not isinstance(data, dict):
            return []
        parser = PARSERS.get(str(payload.get("type")))
        if parser is None:
            return []
        occurred_at = event_time(payload.get("timestamp"))
        event_id = as_text(payload.get("event_id"))
        try:
            return parser(data, occurred_at, event_id)
        except (TypeError, ValueError, AttributeError):
            logger.warning("sandbox callback %s has an unexpected shape; ignored", event_id)
            return []
