"""WAHA message payloads → (message type, text, metadata), for every engine: WEBJS says what a message is in
``_data.type``; NOWEB and GOWS carry their engine's own message in ``_data`` and, when WAHA did not download the
media, nothing else about it (``hasMedia`` false, ``media`` null)."""

from __future__ import annotations

from typing import Any

from whatsapp_gateway.providers.parsing import as_bool, as_dict, as_list, as_str

WEBJS_MEDIA_TYPES = ("image", "video", "audio", "ptt", "document", "sticker")
# Media contents of the engine's raw message (NOWEB: Baileys, GOWS: whatsmeow; both use these field names).
ENGINE_MEDIA_FIELDS = (
    ("imageMessage", "image"),
    ("videoMessage", "video"),
    ("ptvMessage", "video"),
    ("audioMessage", "audio"),
    ("stickerMessage", "sticker"),
    ("documentMessage", "document"),
    ("documentWithCaptionMessage", "document"),
)
ENGINE_MEDIA_TYPES = {
    "image": "image",
    "video": "video",
    "gif": "video",
    "ptv": "video",
    "audio": "audio",
    "ptt": "audio",
    "document": "document",
    "sticker": "sticker",
}
MEDIA_WRAPPERS = ("ephemeralMessage", "viewOnceMessage", "viewOnceMessageV2", "viewOnceMessageV2Extension")


def message_content(
    payload: dict[str, Any], raw: dict[str, Any], *, reply_to: str = ""
) -> tuple[str, str, dict[str, Any]]:
    """(message_type, text, metadata) of one WAHA message payload; ``reply_to`` is the quoted message's bare id."""
    body = as_str(payload.get("body"))
    raw_type = as_str(raw.get("type"))
    metadata: dict[str, Any] = {"reply_to": reply_to} if reply_to else {}
    media = as_dict(payload.get("media"))
    engine_kind, engine_media = _engine_media(raw)
    if as_bool(payload.get("hasMedia")) or media or raw_type in WEBJS_MEDIA_TYPES or engine_kind:
        mime = as_str(media.get("mimetype")) or as_str(raw.get("mimetype")) or as_str(engine_media.get("mimetype"))
        caption = body or as_str(engine_media.get("caption"))
        if raw_type == "sticker" or engine_kind == "sticker" or (mime == "image/webp" and not caption):
            kind = "sticker"
        elif mime.startswith("image/") or raw_type == "image" or engine_kind == "image":
            kind = "image"
        elif mime.startswith("video/") or raw_type == "video" or engine_kind == "video":
            kind = "video"
        elif mime.startswith("audio/") or raw_type in ("audio", "ptt") or engine_kind == "audio":
            kind = "audio"
        else:
            kind = "document"
        meta: dict[str, Any] = {**metadata, "mime_type": mime}
        if kind == "audio" and (raw_type == "ptt" or as_bool(engine_media.get("ptt"))):
            meta["voice_note"] = True
        if as_str(media.get("url")):
            meta["media_url"] = media["url"]
        file_name = as_str(media.get("filename")) or as_str(engine_media.get("fileName"))
        if file_name:
            meta["file_name"] = file_name
        if caption and kind != "audio":
            meta["caption"] = caption
        return kind, caption if kind != "audio" else "", meta
    location = as_dict(payload.get("location"))
    if location:
        meta = {**metadata, "latitude": location.get("latitude"), "longitude": location.get("longitude")}
        if as_str(location.get("description")):
            meta["name"] = location["description"]
        return "location", "", meta
    cards = [c for c in as_list(payload.get("vCards")) if isinstance(c, str)]
    if cards:
        return "contact", "", {**metadata, "contacts": [{"display_name": "", "vcard": c[:4000]} for c in cards]}
    if body or raw_type in ("", "chat"):
        return "text", body, metadata
    return "unknown", "", {**metadata, "provider_type": raw_type[:60]}


def _engine_media(raw: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(kind, media content) from the engine's own message in ``_data``, for engines whose payload says nothing
    about media when WAHA did not download it (``WHATSAPP_DOWNLOAD_MEDIA=false``, and history read with
    ``downloadMedia=false``): NOWEB puts Baileys' ``WAMessage`` there (``message.imageMessage`` …), GOWS whatsmeow's
    ``events.Message`` (``Message.imageMessage`` …, ``Info.MediaType``). WEBJS has ``_data.type`` instead."""
    content = as_dict(raw.get("message")) or as_dict(raw.get("Message"))
    for _ in range(3):  # ephemeral / view-once wrappers hold the real message
        inner = next((as_dict(as_dict(content.get(w)).get("message")) for w in MEDIA_WRAPPERS if content.get(w)), {})
        if not inner:
            break
        content = inner
    for field, kind in ENGINE_MEDIA_FIELDS:
        found = as_dict(content.get(field))
        if field == "documentWithCaptionMessage":
            found = as_dict(as_dict(found.get("message")).get("documentMessage"))
        if found:
            return kind, found
    hinted = ENGINE_MEDIA_TYPES.get(as_str(as_dict(raw.get("Info")).get("MediaType")).lower())
    return (hinted, {}) if hinted else ("", {})
