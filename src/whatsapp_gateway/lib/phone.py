"""Phone numbers: parse to E.164 with phonenumbers, mask for display, map WhatsApp JIDs."""

from __future__ import annotations

import re

import phonenumbers

JID_SUFFIXES = ("@s.whatsapp.net", "@c.us", "@lid", "@g.us")


class InvalidPhoneNumber(ValueError):
    pass


def normalize_e164(raw: str, default_region: str | None = None) -> str:
    """Parse ``raw`` into E.164 (``+9665...``).

    ``+9665...`` and ``009665...`` are international; bare digits that are valid with a leading ``+`` are taken as
    international too (``9665...``); anything else is parsed in ``default_region`` (the account's country).
    """
    if not isinstance(raw, str):
        raise InvalidPhoneNumber("phone must be a string")
    text = raw.strip()
    if not text or len(text) > 32:
        raise InvalidPhoneNumber("phone is empty or too long")
    if not re.fullmatch(r"[+\d\s().\-]+", text):
        raise InvalidPhoneNumber("phone may contain only digits, spaces, dashes, dots, parentheses and a leading +")
    digits = re.sub(r"\D", "", text)
    candidates: list[tuple[str, str | None]] = []
    if text.startswith("+"):
        candidates.append(("+" + digits, None))
    elif digits.startswith("00"):
        candidates.append(("+" + digits[2:], None))
    else:
        if default_region:
            candidates.append((digits, default_region.upper()))
        candidates.append(("+" + digits, None))
    for candidate, region in candidates:
        try:
            parsed = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    raise InvalidPhoneNumber("not a valid phone number")


def is_valid(raw: str, default_region: str | None = None) -> bool:
    try:
        normalize_e164(raw, default_region)
    except InvalidPhoneNumber:
        return False
    return True


def mask(e164: str | None) -> str:
    """``+966512344321`` -> ``+9665****4321``: country code and first digit kept, last four shown."""
    if not e164:
        return ""
    if len(e164) <= 8:
        return e164[:2] + "*" * max(len(e164) - 2, 0)
    return f"{e164[:5]}****{e164[-4:]}"


def jid_to_e164(jid: str) -> str | None:
    """``9665...@s.whatsapp.net`` / ``@c.us`` -> ``+9665...``; ``@lid`` and group ids have no phone number."""
    if not jid:
        return None
    user, _, server = jid.partition("@")
    user = user.split(":")[0]  # device suffix, e.g. 9665...:12@s.whatsapp.net
    if server in ("s.whatsapp.net", "c.us") and user.isdigit():
        return "+" + user
    if not server and user.lstrip("+").isdigit():
        return "+" + user.lstrip("+")
    return None


def e164_to_jid(e164: str) -> str:
    return e164.lstrip("+") + "@s.whatsapp.net"


def mask_sender(value: str) -> str:
    """Mask an E.164 number (``+9665****4321``) or the user part of a WhatsApp id (``1038****284@lid``)."""
    if not value:
        return ""
    if "@" in value:
        user, _, server = value.partition("@")
        return f"{user[:4]}****{user[-3:]}@{server}" if len(user) > 8 else f"****@{server}"
    return mask(value)
