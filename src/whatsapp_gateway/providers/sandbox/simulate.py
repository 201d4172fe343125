"""Simulations: what the person holding the simulated phone does (portal buttons and ``whatsapp-gateway simulate
…``)."""

from __future__ import annotations

import hashlib
import secrets

from django.db import transaction

from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib import phone as phone_lib
from whatsapp_gateway.providers.models import SandboxSession, SandboxSessionStatus
from whatsapp_gateway.providers.sandbox.phone import (
    DEFAULT_CONTACT,
    DEFAULT_CONTACT_NAME,
    NAME,
    SandboxError,
    fake_phone_number,
    fake_profile_name,
    phone_session,
)
from whatsapp_gateway.providers.sandbox.server import post_callback


def _require_sandbox(instance: Instance) -> None:
    if instance.provider != NAME:
        raise SandboxError("Simulations are only available for sandbox instances.")
    if instance.deleted_at is not None:
        raise SandboxError("This instance was deleted.")


def _require_open(instance: Instance) -> SandboxSession:
    session = phone_session(instance)
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


def scan(*, instance: Instance):
    """The person scans the QR code (or enters the pairing code) with the simulated phone."""
    _require_sandbox(instance)
    with transaction.atomic():
        session = phone_session(instance, lock=True)
        if session.status != SandboxSessionStatus.QR:
            raise SandboxError("The instance is not showing a QR code: click Connect first.")
        session.status = SandboxSessionStatus.OPEN
        session.phone_number = session.pairing_phone or fake_phone_number(instance)
        session.profile_name = fake_profile_name(instance)
        session.qr_payload = ""
        session.pairing_code = ""
        session.qr_expires_at = None
        session.save()
    return post_callback(
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


def disconnect(*, instance: Instance, reason: str = "The phone lost its connection (simulated)"):
    _require_sandbox(instance)
    with transaction.atomic():
        session = phone_session(instance, lock=True)
        if session.status != SandboxSessionStatus.OPEN:
            raise SandboxError("The sandbox phone is not connected.")
        session.status = SandboxSessionStatus.CLOSED
        session.save(update_fields=["status", "updated_at"])
    return post_callback(
        instance=instance, event_type="connection", data={"state": "close", "reason": reason}, process_now=True
    )


def reconnect(*, instance: Instance):
    """The disconnected phone comes back online (it is still linked, so no new pairing is needed)."""
    _require_sandbox(instance)
    with transaction.atomic():
        session = phone_session(instance, lock=True)
        if session.status != SandboxSessionStatus.CLOSED or not session.phone_number:
            raise SandboxError("Only a disconnected, still linked sandbox phone can come back online.")
        session.status = SandboxSessionStatus.OPEN
        session.save(update_fields=["status", "updated_at"])
    return post_callback(
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


def inbound(
    *, instance: Instance, from_phone: str | None = None, text: str = "Hello!", from_name: str = DEFAULT_CONTACT_NAME
):
    """A contact writes to the instance's number."""
    _require_sandbox(instance)
    _require_open(instance)
    sender = _contact(from_phone, instance.account.default_country)
    jid = phone_lib.e164_to_jid(sender)
    return post_callback(
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


def stop(*, instance: Instance, from_phone: str | None = None):
    return inbound(instance=instance, from_phone=from_phone, text="STOP")


def call(*, instance: Instance, from_phone: str | None = None, is_video: bool = False, missed: bool = False):
    _require_sandbox(instance)
    _require_open(instance)
    caller = phone_lib.e164_to_jid(_contact(from_phone, instance.account.default_country))
    return post_callback(
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


def group_message(
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
    return post_callback(
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


def group_update(
    *, instance: Instance, action: str = "join", participant: str | None = None, group_name: str = "Sandbox team"
):
    _require_sandbox(instance)
    _require_open(instance)
    if action not in ("created", "updated", "join", "leave", "promote", "demote"):
        raise SandboxError("action must be one of created, updated, join, leave, promote, demote")
    member = phone_lib.e164_to_jid(_contact(participant, instance.account.default_country))
    return post_callback(
        instance=instance,
        event_type="group",
        data={"id": _group_id(group_name), "name": group_name, "action": action, "participants": [member]},
        process_now=True,
    )


def conversation_update(*, instance: Instance, phone: str | None = None, unread_count: int = 0, archived: bool = False):
    _require_sandbox(instance)
    _require_open(instance)
    contact = _contact(phone, instance.account.default_country)
    return post_callback(
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
