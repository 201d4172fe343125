"""Provider callbacks: receive (authenticate, cap, store, enqueue), process (parse, deduplicate, dispatch), sweep.

``callback_receive`` is the one entry point for every provider callback — the HTTP route and the sandbox's
simulations both call it — so sandbox traffic takes exactly the path real providers take.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.lib.crypto import constant_time_equals, keyed_hash
from whatsapp_gateway.providers import dispatch
from whatsapp_gateway.providers.base import CallbackRejected, NormalisedEvent, load_json
from whatsapp_gateway.providers.models import (
    CallbackRejection,
    CallbackStatus,
    ProcessedProviderEvent,
    ProviderCallback,
)
from whatsapp_gateway.providers.registry import UnknownProvider, get_provider

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# A pending callback is re-enqueued by the sweeper when its job has not run after this long (crash safety).
SWEEP_AFTER = dt.timedelta(seconds=60)
# Headers never stored with a callback (credentials); everything else is kept, capped, for debugging and parsing.
_SECRET_HEADER_WORDS = ("authorization", "cookie", "apikey", "api-key", "secret", "token", "password")
_MAX_HEADERS = 40


@dataclass(frozen=True)
class CallbackReceipt:
    """What the route answers: ``status`` and a JSON ``body``."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)
    callback_id: int | None = None
    duplicate: bool = False


_REJECT_MESSAGES = {
    401: "Invalid provider callback.",
    400: "The callback body must be JSON.",
    404: "Unknown provider.",
    413: "The callback body is too large.",
}


def _reject(provider_name: str, reason: str, status: int) -> CallbackReceipt:
    """Count the refusal (per provider, reason and day) and build the 4xx answer. Nothing else is stored."""
    moment = now()
    provider_key = (provider_name or "?")[:40]
    try:
        with transaction.atomic():
            updated = CallbackRejection.objects.filter(provider=provider_key, reason=reason, day=moment.date()).update(
                count=F("count") + 1, last_at=moment
            )
            if not updated:
                try:
                    with transaction.atomic():
                        CallbackRejection.objects.create(
                            provider=provider_key, reason=reason, day=moment.date(), count=1, last_at=moment
                        )
                except IntegrityError:
                    CallbackRejection.objects.filter(provider=provider_key, reason=reason, day=moment.date()).update(
                        count=F("count") + 1, last_at=moment
                    )
    except Exception:  # counting must never turn a 4xx into a 500
        logger.exception("could not count a rejected callback")
    logger.info("provider callback rejected: provider=%s reason=%s status=%s", provider_key, reason, status)
    body: dict[str, Any] = {
        "success": False,
        "error": "invalid_callback",
        "message": _REJECT_MESSAGES.get(status, "Invalid provider callback."),
        "details": {},
    }
    if status != 401:  # authentication failures do not say why (no oracle for token guessing)
        body["details"] = {"reason": reason}
    return CallbackReceipt(status=status, body=body)


def _instance_for_token(provider_name: str, token: str) -> Instance | None:
    if not token or len(token) > 200:
        return None
    instance = (
        Instance.objects.select_related("account")
        .filter(callback_token_hash=keyed_hash(token, purpose="callback"), deleted_at__isnull=True)
        .first()
    )
    if instance is None or instance.provider != provider_name:
        return None
    if not constant_time_equals(instance.callback_token or "", token):
        return None
    return instance


def instance_for_callback_token(provider_name: str, token: str) -> Instance | None:
    """The live instance whose callback token is ``token`` for ``provider_name``, else ``None``."""
    return _instance_for_token(provider_name, token)


def _stored_headers(headers: Mapping[str, str]) -> dict[str, str]:
    kept: dict[str, str] = {}
    for name, value in headers.items():
        if any(word in name for word in _SECRET_HEADER_WORDS):
            continue
        kept[name] = str(value)[:500]
        if len(kept) >= _MAX_HEADERS:
            break
    return kept


def callback_receive(
    *,
    provider_name: str,
    token: str,
    headers: Mapping[str, str],
    body: bytes,
    process_now: bool = False,
    declared_length: int = 0,
) -> CallbackReceipt:
    """Authenticate and store one provider callback, and enqueue its processing after commit.

    Checks, in order: known provider (404), the instance's callback token (keyed-hash lookup, then a constant-time
    comparison; 401), the size cap ``GATEWAY_CALLBACK_MAX_BYTES`` (413), a JSON body (400), the provider's own
    signature (``verify_callback``; 401 or what it says). Refusals are counted in ``CallbackRejection`` and store
    nothing else. A body already received for the instance (a provider retry) answers 200 without storing it
    again. ``process_now`` also processes it in this call (the sandbox's simulations use it for instant feedback;
    the job then finds it processed). Never raises.
    """
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    try:
        provider = get_provider(provider_name)
    except UnknownProvider:
        return _reject(provider_name, "unknown_provider", 404)
    instance = _instance_for_token(provider_name, token)
    if instance is None:
        return _reject(provider_name, "unknown_token", 401)
    if max(len(body), declared_length) > settings.GATEWAY_CALLBACK_MAX_BYTES:
        return _reject(provider_name, "too_large", 413)
    try:
        load_json(body)
        provider.verify_callback(instance, headers=lowered, body=body)
    except CallbackRejected as exc:
        status = exc.status if 400 <= exc.status < 500 else 401
        return _reject(provider_name, exc.reason[:40] or "rejected", status)

    digest = hashlib.sha256(body).hexdigest()
    try:
        with transaction.atomic():
            callback = ProviderCallback.objects.create(
                instance=instance,
                provider=provider_name,
                headers=_stored_headers(lowered),
                body=body.decode("utf-8"),
                body_sha256=digest,
                received_at=now(),
            )
            callback_pk = callback.pk
            transaction.on_commit(lambda: _enqueue(callback_pk), robust=True)
    except IntegrityError:
        logger.info("duplicate callback body for %s ignored", instance.public_id)
        return CallbackReceipt(status=200, body={"success": True, "duplicate": True}, duplicate=True)
    if process_now:
        callback_process(callback_id=callback_pk)
    return CallbackReceipt(
        status=200, body={"success": True, "callback_id": callback.public_id}, callback_id=callback_pk
    )


def _enqueue(callback_pk: int) -> None:
    from whatsapp_gateway.providers.tasks import callback_process_task  # the job module imports this one

    callback_process_task(callback_pk)


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 1800))


def callback_process(*, callback_id: int) -> int:
    """Process one stored callback; returns how many normalised events were dispatched.

    Claims the row with a conditional update (``pending`` → ``processed``) inside one transaction that also
    parses the body, records each event's ``dedup_key`` in ``ProcessedProviderEvent`` (insert-or-skip: an event
    already processed for the instance is skipped) and runs the registered handlers. If anything raises, the whole
    transaction rolls back and the callback stays ``pending`` with a backoff (``failed`` after ``MAX_ATTEMPTS``).
    Idempotent: a callback that is not pending is left alone.
    """
    try:
        with transaction.atomic():
            claimed = ProviderCallback.objects.filter(pk=callback_id, status=CallbackStatus.PENDING).update(
                status=CallbackStatus.PROCESSED, processed_at=now(), attempts=F("attempts") + 1
            )
            if not claimed:
                return 0
            callback = ProviderCallback.objects.select_related("instance", "instance__account").get(pk=callback_id)
            instance = callback.instance
            provider = get_provider(callback.provider)
            events = provider.parse_callback(instance, headers=callback.headers, body=callback.body.encode("utf-8"))
            dispatched, duplicates = events_process(instance=instance, events=events, callback=callback)
            ProviderCallback.objects.filter(pk=callback_id).update(
                events_count=len(events), duplicates_count=duplicates, last_error=""
            )
            Instance.objects.filter(pk=instance.pk).update(last_seen_at=now())
            return dispatched
    except Exception as exc:  # any failure: keep the callback for a retry; never lose it
        logger.exception("processing provider callback %s failed", callback_id)
        _record_failure(callback_id, exc)
        return 0


def events_process(
    *, instance: Instance, events: list[NormalisedEvent], callback: ProviderCallback | None = None
) -> tuple[int, int]:
    """Dispatch normalised events not processed before for ``instance``; returns (dispatched, duplicates).

    Call inside the caller's transaction. Each event's ``dedup_key`` is recorded in ``ProcessedProviderEvent``
    (insert-or-skip): an event already processed — by a callback or by history reconciliation — is skipped, so
    both paths share one deduplication. Events without a key are always dispatched.
    """
    dispatched = duplicates = 0
    for event in events:
        key = event.dedup_key
        if key:
            try:
                with transaction.atomic():
                    ProcessedProviderEvent.objects.create(instance=instance, dedup_key=key[:200], callback=callback)
            except IntegrityError:
                duplicates += 1
                continue
        dispatch.dispatch(instance, event)
        dispatched += 1
    return dispatched, duplicates


def _record_failure(callback_id: int, exc: Exception) -> None:
    with transaction.atomic():
        callback = ProviderCallback.objects.select_for_update().filter(pk=callback_id).first()
        if callback is None:
            return
        callback.attempts += 1
        callback.last_error = f"{type(exc).__name__}: {exc}"[:500]
        if callback.attempts >= MAX_ATTEMPTS:
            callback.status = CallbackStatus.FAILED
            callback.next_attempt_at = None
        else:
            callback.status = CallbackStatus.PENDING
            callback.next_attempt_at = now() + _backoff(callback.attempts)
        callback.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])


def callbacks_sweep() -> int:
    """Re-enqueue pending callbacks whose job was lost (or whose retry is due). Returns how many."""
    moment = now()
    due = ProviderCallback.objects.filter(status=CallbackStatus.PENDING).filter(
        next_attempt_at__lte=moment
    ) | ProviderCallback.objects.filter(
        status=CallbackStatus.PENDING, next_attempt_at__isnull=True, received_at__lte=moment - SWEEP_AFTER
    )
    ids = list(due.values_list("pk", flat=True)[:1000])
    for pk in ids:
        _enqueue(pk)
    return len(ids)


def callback_retry(*, callback: ProviderCallback) -> None:
    """Operator action: put a failed callback back in the queue."""
    ProviderCallback.objects.filter(pk=callback.pk).exclude(status=CallbackStatus.PROCESSED).update(
        status=CallbackStatus.PENDING, attempts=0, next_attempt_at=None
    )
    transaction.on_commit(lambda: _enqueue(callback.pk), robust=True)


def callbacks_prune(*, processed_days: int = 7, dedup_days: int = 30, rejection_days: int = 90) -> dict[str, int]:
    """Retention: processed callbacks after a week, dedup keys after a month, rejection counters after 90 days."""
    moment = now()
    removed_callbacks, _ = ProviderCallback.objects.filter(
        status=CallbackStatus.PROCESSED, received_at__lt=moment - dt.timedelta(days=processed_days)
    ).delete()
    removed_keys, _ = ProcessedProviderEvent.objects.filter(
        created_at__lt=moment - dt.timedelta(days=dedup_days)
    ).delete()
    removed_counters, _ = CallbackRejection.objects.filter(
        day__lt=(moment - dt.timedelta(days=rejection_days)).date()
    ).delete()
    return {"callbacks": removed_callbacks, "dedup_keys": removed_keys, "rejections": removed_counters}
