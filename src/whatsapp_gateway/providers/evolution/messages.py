"""Evolution API message records → normalised events: ``messages.upsert`` webhook records and ``findMessages``
history rows share the shape of ``prepareMessage()`` in Evolution's ``whatsapp.baileys.service.ts`` (``key``,
``pushName``, ``status``, ``message``, ``contextInfo``, ``messageType``, ``messageTimestamp``)."""

from __future__ import annotations

from typing import Any

from whatsapp_gateway.providers.base import InboundMessage, MessageStatusUpdate
from whatsapp_gateway.providers.metrics import count_ignored
from whatsapp_gateway.providers.parsing import as_bool, as_dict, as_int, as_list, as_str, phone_of, unix_time

NAME = "evolution"

# messages.update / send.message status → gateway status (None: not a customer-visible change).
STATUS_MAP: dict[str, str | None] = {
    "ERROR": "failed",
    "PENDING": None,
    "SERVER_ACK": "sent",
    "DELIVERY_ACK": "delivered",
    "READ": "read",
    "PLAYED": "read",  # a played voice note has been read
    "DELETED": None,  # deletions, and edits reported as deletions (evolution-api #2010)
}
# Baileys' numeric WAMessageStatus, which some versions pass through unrendered.
NUMERIC_STATUS = {0: "ERROR", 1: "PENDING", 2: "SERVER_ACK", 3: "DELIVERY_ACK", 4: "READ", 5: "PLAYED"}
# Message contents that carry no customer message (key distribution, receipts, edits, poll votes…).
SILENT_CONTENT = {
    "protocolMessage",
    "senderKeyDistributionMessage",
    "messageContextInfo",
    "pollUpdateMessage",
    "keepInChatMessage",
    "editedMessage",
    "encReactionMessage",
    "pinInChatMessage",
    "mediaUrl",
    "base64",
}
WRAPPERS = ("ephemeralMessage", "viewOnceMessage", "viewOnceMessageV2", "viewOnceMessageV2Extension")


def message_event(record: dict[str, Any], *, own_phone: str, count: bool = True) -> InboundMessage | None:
    """One ``messages.upsert`` / ``findMessages`` record as an ``InboundMessage``; ``None`` when it carries no
    customer message (status broadcasts, protocol messages, undecryptable stubs)."""

    def ignore(reason: str) -> None:
        if count:
            count_ignored(NAME, reason)

    key = as_dict(record.get("key"))
    remote_jid, message_id = as_str(key.get("remoteJid")), as_str(key.get("id"))
    if not remote_jid or not message_id:
        ignore("malformed")
        return None
    if remote_jid.endswith(("@broadcast", "@newsletter")):
        ignore("not_relevant")
        return None
    content = _content(as_dict(record.get("message")), key_id=message_id)
    if content is None:
        ignore("not_relevant")
        return None
    message_type, text, metadata = content
    # Evolution lifts the content's contextInfo to the top of the record (and rewrites extendedTextMessage into a
    # plain conversation), so a reply's quoted id is there (src/api/.../whatsapp.baileys.service.ts prepareMessage).
    quoted = as_str(as_dict(record.get("contextInfo")).get("stanzaId"))
    if quoted and "reply_to" not in metadata and message_type != "reaction":
        metadata = {**metadata, "reply_to": quoted}
    from_me = as_bool(key.get("fromMe"))
    is_group = remote_jid.endswith("@g.us")
    if is_group:
        sender_jid = as_str(key.get("participant")) or as_str(record.get("participant"))
        alternatives = (key.get("participantAlt"), key.get("participantPn"), record.get("participantPn"))
        chat_phone = ""
    else:
        sender_jid = remote_jid
        alternatives = (key.get("remoteJidAlt"), key.get("senderPn"), record.get("senderPn"))
        chat_phone = phone_of(remote_jid) or next((p for p in map(phone_of, alternatives) if p), "")
    sender_lid = sender_jid if sender_jid.endswith("@lid") else ""
    sender_phone = phone_of(sender_jid) or next((p for p in map(phone_of, alternatives) if p), "")
    if from_me:
        sender_jid, sender_lid, sender_phone = "", "", own_phone
    return InboundMessage(
        provider_message_id=message_id,
        chat_id=remote_jid,
        sender_id=sender_jid,
        sender_phone=sender_phone,
        sender_lid=sender_lid,
        sender_name="" if from_me else as_str(record.get("pushName")),
        chat_phone=chat_phone,
        is_group=is_group,
        from_me=from_me,
        message_type=message_type,
        text=text,
        metadata=metadata,
        occurred_at=unix_time(record.get("messageTimestamp")),
    )


def history_status(record: dict[str, Any]) -> MessageStatusUpdate | None:
    """The delivery status Evolution stored on one of our own messages (it updates ``Message.status`` on every
    ``messages.update``), so a lost delivered/read webhook is recovered by reconciliation too."""
    key = as_dict(record.get("key"))
    if not as_bool(key.get("fromMe")) or not as_str(key.get("id")):
        return None
    name = status_name(record.get("status"))
    status = STATUS_MAP.get(name) if name else None
    if status not in ("delivered", "read"):  # "sent" is implied by the message itself being in the history
        return None
    return MessageStatusUpdate(provider_message_id=as_str(key.get("id")), status=status)


def _content(message: dict[str, Any], *, key_id: str) -> tuple[str, str, dict[str, Any]] | None:
    """(message_type, text, metadata) for a Baileys message object."""
    media_url = as_str(message.get("mediaUrl"))
    for _ in range(3):  # ephemeral / view-once wrappers hold the real message
        inner = next((as_dict(as_dict(message.get(w)).get("message")) for w in WRAPPERS if message.get(w)), {})
        if not inner:
            break
        message = inner
    document_with_caption = as_dict(as_dict(message.get("documentWithCaptionMessage")).get("message"))
    if document_with_caption:
        message = document_with_caption
    metadata: dict[str, Any] = {"media_url": media_url} if media_url else {}

    if isinstance(message.get("conversation"), str):
        return "text", message["conversation"], metadata
    extended = as_dict(message.get("extendedTextMessage"))
    if extended:
        reply_to = as_str(as_dict(extended.get("contextInfo")).get("stanzaId"))
        return "text", as_str(extended.get("text")), {**metadata, **({"reply_to": reply_to} if reply_to else {})}
    for field, kind in (("imageMessage", "image"), ("videoMessage", "video"), ("stickerMessage", "sticker")):
        media = as_dict(message.get(field))
        if media:
            caption = as_str(media.get("caption"))
            meta = {**metadata, "mime_type": as_str(media.get("mimetype"))}
            if caption:
                meta["caption"] = caption
            return kind, caption, meta
    audio = as_dict(message.get("audioMessage"))
    if audio:
        meta = {**metadata, "mime_type": as_str(audio.get("mimetype")), "voice_note": as_bool(audio.get("ptt"))}
        seconds = as_int(audio.get("seconds"))
        if seconds is not None:
            meta["seconds"] = seconds
        return "audio", "", meta
    document = as_dict(message.get("documentMessage"))
    if document:
        caption = as_str(document.get("caption"))
        meta = {**metadata, "mime_type": as_str(document.get("mimetype"))}
        file_name = as_str(document.get("fileName")) or as_str(document.get("title"))
        if file_name:
            meta["file_name"] = file_name
        if caption:
            meta["caption"] = caption
        return "document", caption, meta
    location = as_dict(message.get("locationMessage")) or as_dict(message.get("liveLocationMessage"))
    if location:
        meta = {
            **metadata,
            "latitude": location.get("degreesLatitude"),
            "longitude": location.get("degreesLongitude"),
        }
        for source, target in (("name", "name"), ("address", "address")):
            if as_str(location.get(source)):
                meta[target] = location[source]
        return "location", "", meta
    contact = as_dict(message.get("contactMessage"))
    if contact:
        return "contact", "", {**metadata, "contacts": [_contact(contact)]}
    contacts = as_dict(message.get("contactsArrayMessage"))
    if contacts:
        cards = [_contact(c) for c in as_list(contacts.get("contacts")) if isinstance(c, dict)]
        return "contact", "", {**metadata, "contacts": cards}
    reaction = as_dict(message.get("reactionMessage"))
    if reaction:
        target = as_str(as_dict(reaction.get("key")).get("id"))
        emoji = as_str(reaction.get("text"))
        return "reaction", emoji, {**metadata, "emoji": emoji, "target_message_id": target}
    for field, text_key in (
        ("buttonsResponseMessage", "selectedDisplayText"),
        ("templateButtonReplyMessage", "selectedDisplayText"),
        ("listResponseMessage", "title"),
    ):
        reply = as_dict(message.get(field))
        if reply:
            return "text", as_str(reply.get(text_key)), {**metadata, "reply_kind": field}
    meaningful = [k for k in message if k not in SILENT_CONTENT]
    if not meaningful:
        return None
    return "unknown", "", {**metadata, "provider_type": meaningful[0][:60]}


def participant_jid(item: Any) -> str:
    """A group participant as a phone JID when Evolution resolved one, else as given (often an ``@lid``).

    2.3.x adds ``participantsData[] = {jid, phoneNumber, …}`` to ``group-participants.update``; ``phoneNumber`` is
    a phone JID, or — when Evolution could not resolve it — the bare user part of ``jid`` (a LID, not a phone)."""
    if isinstance(item, str):
        return item
    if not isinstance(item, dict):
        return ""
    jid = as_str(item.get("jid")) or as_str(item.get("id"))
    number = as_str(item.get("phoneNumber"))
    if number and "@" not in number and number != jid.split("@")[0] and number.lstrip("+").isdigit():
        number = f"{number.lstrip('+')}@s.whatsapp.net"
    return number if number.endswith("@s.whatsapp.net") else jid


def _contact(card: dict[str, Any]) -> dict[str, str]:
    return {"display_name": as_str(card.get("displayName")), "vcard": as_str(card.get("vcard"))[:4000]}


def status_name(value: Any) -> str | None:
    if isinstance(value, str) and value.upper() in STATUS_MAP:
        return value.upper()
    number = as_int(value)
    return NUMERIC_STATUS.get(number) if number is not None else None
