"""The messaging-provider interface and the normalised events every provider's callbacks become.

Nothing outside ``providers/`` knows a provider's field names: adapters translate their HTTP API into these calls
and their callbacks into these events. Adding a provider: see ``docs/providers.md``.
"""

from __future__ import annotations

import datetime as dt
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from whatsapp_gateway.lib.text import replace_surrogates

if TYPE_CHECKING:
    from whatsapp_gateway.instances.models import Instance


class ProviderError(Exception):
    """A provider call failed. ``permanent`` errors are final (the message fails); others are retried."""

    def __init__(self, message: str, *, permanent: bool, code: str = "provider_error") -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.code = code


class CallbackRejected(Exception):
    """A callback that fails authentication or parsing. ``status`` is the 4xx the route answers."""

    def __init__(self, reason: str, *, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


# --- Results of provider calls ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateResult:
    provider_ref: str
    credentials: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ConnectResult:
    """Outcome of asking the provider to start pairing. Exactly one of qr/pairing code is usually set."""

    state: str  # an InstanceState value
    qr_payload: str = ""
    pairing_code: str = ""
    expires_at: dt.datetime | None = None


@dataclass(frozen=True)
class StateResult:
    state: str  # an InstanceState value
    phone_number: str = ""
    profile_name: str = ""
    reason: str = ""


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str
    status: str = "sent"  # "sent" when the provider confirms synchronously, else "sending"


# --- Normalised callback events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NormalisedEvent:
    """Base of every normalised event. ``dedup_key`` identifies the provider's event for deduplication."""

    occurred_at: dt.datetime | None = None

    kind: ClassVar[str] = "event"

    @property
    def dedup_key(self) -> str | None:
        return None


@dataclass(frozen=True)
class ConnectionUpdate(NormalisedEvent):
    state: str = ""  # an InstanceState value
    reason: str = ""
    phone_number: str = ""
    profile_name: str = ""
    event_id: str = ""

    kind: ClassVar[str] = "connection"

    @property
    def dedup_key(self) -> str | None:
        return f"conn:{self.event_id}" if self.event_id else None


@dataclass(frozen=True)
class QrUpdate(NormalisedEvent):
    qr_payload: str = ""
    pairing_code: str = ""
    expires_at: dt.datetime | None = None
    limit_reached: bool = False  # the provider stopped issuing QR codes (e.g. Evolution's "QR code limit reached")

    kind: ClassVar[str] = "qr"


@dataclass(frozen=True)
class MessageStatusUpdate(NormalisedEvent):
    provider_message_id: str = ""
    status: str = ""  # "sent" | "delivered" | "read" | "failed"
    error_code: str = ""
    error_message: str = ""
    recipient: str = ""  # E.164 when known

    kind: ClassVar[str] = "message_status"

    @property
    def dedup_key(self) -> str | None:
        return f"status:{self.provider_message_id}:{self.status}" if self.provider_message_id else None


@dataclass(frozen=True)
class InboundMessage(NormalisedEvent):
    """A message in a chat. ``from_me`` messages were sent from the paired phone itself (recorded as outbound)."""

    provider_message_id: str = ""
    chat_id: str = ""  # JID of the chat (person or group)
    sender_id: str = ""  # JID of the sender (participant in groups)
    sender_phone: str = ""  # E.164 when known (resolved from @lid where the provider says)
    sender_lid: str = ""  # …@lid when the provider uses one
    sender_name: str = ""
    chat_phone: str = ""  # E.164 of the other party of a one-to-one chat; for ``from_me`` messages the recipient
    is_group: bool = False
    group_name: str = ""
    from_me: bool = False
    message_type: str = "text"  # text|image|video|audio|document|sticker|location|contact|reaction|unknown
    text: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)  # caption, mime type, lat/long, reaction target…

    kind: ClassVar[str] = "inbound_message"

    @property
    def dedup_key(self) -> str | None:
        return f"msg:{self.provider_message_id}" if self.provider_message_id else None


@dataclass(frozen=True)
class CallEvent(NormalisedEvent):
    call_id: str = ""
    caller_id: str = ""
    caller_phone: str = ""
    is_video: bool = False
    status: str = "offer"  # "offer" (ringing) | "missed" | "rejected" | "accepted" | "ended"

    kind: ClassVar[str] = "call"

    @property
    def dedup_key(self) -> str | None:
        return f"call:{self.call_id}:{self.status}" if self.call_id else None


@dataclass(frozen=True)
class GroupUpdate(NormalisedEvent):
    group_id: str = ""
    group_name: str = ""
    action: str = "updated"  # created|updated|join|leave|promote|demote
    participants: tuple[str, ...] = ()
    event_id: str = ""

    kind: ClassVar[str] = "group"

    @property
    def dedup_key(self) -> str | None:
        return f"group:{self.event_id}" if self.event_id else None


@dataclass(frozen=True)
class ConversationUpdate(NormalisedEvent):
    chat_id: str = ""
    phone: str = ""
    unread_count: int | None = None
    archived: bool | None = None
    event_id: str = ""

    kind: ClassVar[str] = "conversation"

    @property
    def dedup_key(self) -> str | None:
        return f"conv:{self.event_id}" if self.event_id else None


# --- The provider interface ---------------------------------------------------------------------------------------


class Provider(ABC):
    """One messaging backend. Methods raise ``ProviderError``; they never return provider-specific shapes."""

    name: ClassVar[str]
    supports_qr: ClassVar[bool] = True
    supports_pairing_code: ClassVar[bool] = True
    supports_typing: ClassVar[bool] = False
    supports_history: ClassVar[bool] = False  # fetch_recent_messages reads the provider's message history
    # fetch_recent_messages lists every message the provider accepted, at once: a queued send that is absent from
    # it was never handed over (its worker died first) and may be re-queued without risking a duplicate.
    sent_history_is_complete: ClassVar[bool] = False
    # send_template sends a provider-approved template by name (Meta's Cloud API); others only send text.
    supports_templates: ClassVar[bool] = False

    @abstractmethod
    def create_instance(self, instance: Instance) -> CreateResult: ...

    @abstractmethod
    def connect(self, instance: Instance, *, phone_number: str | None = None) -> ConnectResult:
        """Start pairing: a QR code, or a pairing code when ``phone_number`` is given."""

    @abstractmethod
    def connection_state(self, instance: Instance) -> StateResult: ...

    @abstractmethod
    def restart(self, instance: Instance) -> None: ...

    @abstractmethod
    def logout(self, instance: Instance) -> None: ...

    @abstractmethod
    def delete_instance(self, instance: Instance) -> None: ...

    @abstractmethod
    def send_text(self, instance: Instance, *, to: str, text: str, typing_ms: int = 0) -> SendResult:
        """Send ``text`` to E.164 ``to``. Raises ``ProviderError(permanent=True)`` for e.g. not-on-WhatsApp."""

    def send_template(
        self, instance: Instance, *, to: str, name: str, language: str, variables: Sequence[str]
    ) -> SendResult:
        """Send the provider's approved template ``name`` in ``language`` with its body variables in order."""
        raise ProviderError(
            f"The {self.name} provider has no template messages.", permanent=True, code="templates_not_supported"
        )

    @abstractmethod
    def verify_callback(self, instance: Instance, *, headers: Mapping[str, str], body: bytes) -> None:
        """Check the provider's own signature, if it has one. Raises ``CallbackRejected``."""

    @abstractmethod
    def parse_callback(self, instance: Instance, *, headers: Mapping[str, str], body: bytes) -> list[NormalisedEvent]:
        """Turn one callback body into normalised events. Unknown events give ``[]``; never raises on odd JSON
        except ``CallbackRejected`` for a body that is not JSON at all."""

    def fetch_recent_messages(self, instance: Instance, *, since: dt.datetime) -> list[NormalisedEvent]:
        """Message history for reconciliation of lost callbacks; providers without one return ``[]``."""
        return []

    def answer_verification(self, instance: Instance, *, params: Mapping[str, str]) -> str | None:
        """Answer a provider's GET subscription handshake on the callback URL (e.g. Meta's ``hub.challenge``).

        Return the text to answer with 200, or ``None`` when this provider has no such handshake (405). A provider
        that has one raises ``CallbackRejected`` (status 400/403) for a request that does not pass it."""
        return None

    def callback_url(self, instance: Instance) -> str:
        """The URL this provider must post the instance's callbacks to (contains the per-instance token)."""
        from django.conf import settings

        return f"{settings.GATEWAY_BASE_URL}/providers/{self.name}/callback/{instance.callback_token}"


def load_json(body: bytes) -> Any:
    """Parse a callback body; a body that is not UTF-8 JSON (or nested too deep to parse) is refused with 400
    (``CallbackRejected``). Lone surrogates (``"\\ud800"``) become U+FFFD so the event can still be stored."""
    try:
        return replace_surrogates(json.loads(body.decode("utf-8")))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CallbackRejected("malformed_json", status=400) from exc
