"""Typed results of the API calls. Each keeps the answer's JSON as ``raw``, fields added later included."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Message", "SendResult", "StatusChange", "TemplateRef", "parse_datetime"]


def parse_datetime(value: Any) -> dt.datetime | None:
    """``2026-11-24T10:00:00Z`` (or any ISO 8601 string) as an aware datetime; ``None`` stays ``None``."""
    if not isinstance(value, str) or not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True)
class SendResult:
    """The answer of ``send_message``.

    Accepted (202): ``status == "queued"`` with ``message_id`` and ``log_id``. Dry run (200):
    ``status == "validated"`` with ``risk_score`` and ``reasons``, nothing queued or counted. ``replayed`` is true
    when the gateway answered from its idempotency store (the same key and body were sent before).
    """

    status: str
    message_id: str | None = None
    log_id: int | None = None
    risk_score: int | None = None
    reasons: list[str] = field(default_factory=list)
    dry_run: bool = False
    replayed: bool = False
    idempotency_key: str | None = None
    http_status: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_response(
        cls, body: dict[str, Any], *, http_status: int, replayed: bool, idempotency_key: str | None
    ) -> SendResult:
        return cls(
            status=str(body.get("status", "")),
            message_id=body.get("message_id"),
            log_id=body.get("log_id"),
            risk_score=body.get("risk_score"),
            reasons=list(body.get("reasons") or []),
            dry_run=body.get("status") == "validated",
            replayed=replayed,
            idempotency_key=idempotency_key,
            http_status=http_status,
            raw=body,
        )


@dataclass(frozen=True)
class StatusChange:
    """One step of a message's history."""

    status: str
    at: dt.datetime | None
    note: str | None = None
    error_code: str | None = None
    error_message: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StatusChange:
        return cls(
            status=str(data.get("status", "")),
            at=parse_datetime(data.get("at")),
            note=data.get("note"),
            error_code=data.get("error_code"),
            error_message=data.get("error_message"),
        )


@dataclass(frozen=True)
class TemplateRef:
    """The template a send by name used: ``source`` is ``meta`` (a WhatsApp template) or ``reviewed`` (reviewed by
    the gateway and sent as its text)."""

    name: str
    language: str
    source: str

    @classmethod
    def from_dict(cls, data: Any) -> TemplateRef | None:
        if not isinstance(data, dict):
            return None
        return cls(
            name=str(data.get("name", "")), language=str(data.get("language", "")), source=str(data.get("source", ""))
        )


@dataclass(frozen=True)
class Message:
    """The answer of ``get_message``: one message's status and history.

    ``status`` is ``queued``, ``sending``, ``sent``, ``delivered``, ``read``, ``failed``, ``blocked`` (a guard
    refused it; ``blocked_code`` says which) or ``validated`` (a dry run).
    """

    message_id: str
    log_id: int
    status: str
    instance_id: str | None
    phone: str
    message_purpose: str
    source: str
    dry_run: bool
    risk_score: int
    reasons: list[str]
    blocked_code: str | None
    error_code: str | None
    error_message: str | None
    created_at: dt.datetime | None
    sent_at: dt.datetime | None
    delivered_at: dt.datetime | None
    read_at: dt.datetime | None
    failed_at: dt.datetime | None
    history: list[StatusChange]
    template: TemplateRef | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        return cls(
            message_id=str(data.get("message_id", "")),
            log_id=int(data.get("log_id") or 0),
            status=str(data.get("status", "")),
            instance_id=data.get("instance_id"),
            phone=str(data.get("phone", "")),
            message_purpose=str(data.get("message_purpose", "")),
            source=str(data.get("source", "")),
            dry_run=bool(data.get("dry_run", False)),
            risk_score=int(data.get("risk_score") or 0),
            reasons=list(data.get("reasons") or []),
            blocked_code=data.get("blocked_code"),
            error_code=data.get("error_code"),
            error_message=data.get("error_message"),
            created_at=parse_datetime(data.get("created_at")),
            sent_at=parse_datetime(data.get("sent_at")),
            delivered_at=parse_datetime(data.get("delivered_at")),
            read_at=parse_datetime(data.get("read_at")),
            failed_at=parse_datetime(data.get("failed_at")),
            history=[StatusChange.from_dict(h) for h in data.get("history") or [] if isinstance(h, dict)],
            template=TemplateRef.from_dict(data.get("template")),
            raw=data,
        )
