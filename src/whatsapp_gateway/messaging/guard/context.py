"""What the guard checks see: the raw request, and what earlier checks resolved (number, instance, counts)."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from whatsapp_gateway.accounts.models import Account
    from whatsapp_gateway.apikeys.models import ApiKey
    from whatsapp_gateway.instances.models import Instance
    from whatsapp_gateway.messaging.guard.content import ContentAssessment
    from whatsapp_gateway.messaging.guard.reads import SendReads
    from whatsapp_gateway.messaging.guard.usage import UsageSnapshot


def text_fingerprint(text: str) -> str:
    """The same text, ignoring case and runs of whitespace (duplicate and identical-text rules)."""
    normalised = " ".join(text.casefold().split())
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


@dataclass
class GuardContext:
    account: Account
    source: str
    now: dt.datetime
    # as given by the caller (any JSON type from the API)
    raw_instance_ref: Any
    raw_phone: Any
    raw_text: Any
    raw_purpose: Any
    api_key: ApiKey | None = None
    dry_run: bool = False
    # resolved by the checks, in order
    instance: Instance | None = None
    phone_e164: str = ""
    phone_hash: str = ""
    text: str = ""
    text_hash: str = ""
    purpose: str = ""
    risk_score: int = 0
    category: str = ""  # the content policy's category: utility, authentication or marketing
    content: ContentAssessment | None = None
    reasons: list[str] = field(default_factory=list)
    usage: UsageSnapshot | None = None
    reads: SendReads | None = None  # one statement's reads for the checks (guard.reads), when loaded
    # headers for the success response (RateLimit / RateLimit-Policy)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def instance_ref_text(self) -> str:
        if isinstance(self.raw_instance_ref, str):
            return self.raw_instance_ref[:120]
        instance = self.instance
        return instance.public_id if instance is not None else ""

    @property
    def purpose_text(self) -> str:
        return self.purpose or (self.raw_purpose.strip()[:40] if isinstance(self.raw_purpose, str) else "")

    @property
    def text_for_log(self) -> str:
        if self.text:
            return self.text
        return self.raw_text.strip()[:4096] if isinstance(self.raw_text, str) else ""
