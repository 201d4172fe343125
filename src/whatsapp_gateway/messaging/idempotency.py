"""``Idempotency-Key`` (docs/api.md "Idempotency"; Stripe / IETF draft semantics), scoped by account.

The key is claimed by inserting a unique row before anything runs; the response is stored in the same transaction
that records the message. Retryable answers (429, ``instance_not_connected``, 5xx) release the key so a retry with
the same key runs again; every other answer is replayed for 24 hours.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from django.db import IntegrityError, transaction

from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.lib import errors
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.messaging import policy
from whatsapp_gateway.messaging.models import IdempotencyRecord, IdempotencyState, Message

# An in-progress claim older than this belongs to a request that died; a new request may take it over.
ABANDONED_AFTER = dt.timedelta(minutes=2)
RELEASED_STATUSES = frozenset({409, 429, 500, 502, 503, 504})


def request_fingerprint(payload: Any) -> str:
    """SHA-256 of the canonical JSON of the parsed body: the same object in any key order or spacing matches."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def validate_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > policy.IDEMPOTENCY_KEY_MAX_LENGTH or not key.isprintable():
        raise errors.ValidationFailed(
            f"Idempotency-Key must be 1–{policy.IDEMPOTENCY_KEY_MAX_LENGTH} printable characters.",
            details={"field": "Idempotency-Key"},
        )
    return key


def _take_over(record: IdempotencyRecord, *, request_hash: str, at: dt.datetime) -> bool:
    taken = IdempotencyRecord.objects.filter(pk=record.pk, created_at=record.created_at, state=record.state).update(
        request_hash=request_hash,
        state=IdempotencyState.IN_PROGRESS,
        created_at=at,
        completed_at=None,
        response_status=None,
        response_body=None,
        response_headers={},
        message=None,
    )
    return taken == 1


def idempotency_claim(*, account: Account, key: str, request_hash: str) -> IdempotencyRecord:
    """Claim ``key`` for this request, or raise: ``IdempotencyKeyReused`` (different body),
    ``IdempotencyInProgress`` (the first request is still running). A completed record with the same body is
    returned with ``state == completed``: the caller replays it."""
    at = now()
    for _ in range(3):
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    account=account, key=key, request_hash=request_hash, created_at=at
                )
        except IntegrityError:
            pass
        record = IdempotencyRecord.objects.filter(account=account, key=key).first()
        if record is None:
            continue  # released between our insert and our read: try again
        expired = record.created_at < at - dt.timedelta(hours=policy.IDEMPOTENCY_TTL_HOURS)
        abandoned = record.state == IdempotencyState.IN_PROGRESS and record.created_at < at - ABANDONED_AFTER
        if expired or abandoned:
            if _take_over(record, request_hash=request_hash, at=at):
                record.refresh_from_db()
                return record
            raise errors.IdempotencyInProgress()
        if record.request_hash != request_hash:
            raise errors.IdempotencyKeyReused()
        if record.state == IdempotencyState.IN_PROGRESS:
            raise errors.IdempotencyInProgress()
        return record
    raise errors.IdempotencyInProgress()


def idempotency_finish(
    record: IdempotencyRecord,
    *,
    status: int,
    body: dict,
    headers: dict[str, str] | None = None,
    message: Message | None = None,
) -> None:
    """Store the response (call inside the transaction that recorded the message), or release the key for
    answers a client should retry."""
    if status in RELEASED_STATUSES:
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
        return
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        state=IdempotencyState.COMPLETED,
        response_status=status,
        response_body=body,
        response_headers=headers or {},
        message=message,
        completed_at=now(),
    )


def idempotency_release(record: IdempotencyRecord) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk, state=IdempotencyState.IN_PROGRESS).delete()


def idempotency_prune(*, older_than: dt.datetime) -> int:
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=older_than).delete()
    return deleted
