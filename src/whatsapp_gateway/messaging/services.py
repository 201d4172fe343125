"""Messaging writes: the one send service every path uses and the message log (the status lifecycle, which moves
a message along after it is queued, is in ``lifecycle.py``).

``send_message`` is the only way a message enters the outbound queue: the API, the portal's test send, 3CX replies
and opt-out confirmations all call it, so no path can skip a guard.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction

from whatsapp_gateway.accounts.models import Account, User
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib import errors, metrics, pg_batch
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.lib.phone import InvalidPhoneNumber, jid_to_e164, normalize_e164
from whatsapp_gateway.lib.write_turn import WriteTurn, write_turn
from whatsapp_gateway.messaging import policy
from whatsapp_gateway.messaging.guard import checks as guard_checks
from whatsapp_gateway.messaging.guard.checks import check_instance, phone_hash
from whatsapp_gateway.messaging.guard.context import GuardContext, text_fingerprint
from whatsapp_gateway.messaging.guard.reads import send_reads_load
from whatsapp_gateway.messaging.guard.usage import usage_snapshot, usage_snapshot_from_row, usage_snapshot_query
from whatsapp_gateway.messaging.idempotency import (
    idempotency_claim,
    idempotency_finish,
    idempotency_release,
    request_fingerprint,
    validate_key,
)
from whatsapp_gateway.messaging.lifecycle import (
    apply_unmatched_statuses,
    conversation_touch_outbound,
    history_entry,
    message_transition,
)
from whatsapp_gateway.messaging.models import (
    GuardDecision,
    IdempotencyState,
    LogSequence,
    Message,
    MessageSource,
    MessageStatus,
    PolicyEvent,
)
from whatsapp_gateway.messaging.queue import LANE_WAKE_SQL, lane_job_enqueue, lane_wake_statement
from whatsapp_gateway.messaging.template_send import TemplateRequest, send_checks, send_risk_assess

logger = logging.getLogger(__name__)

SOURCES = frozenset(s.value for s in MessageSource) - {MessageSource.PHONE.value}


@dataclass(frozen=True)
class SendOutcome:
    """What ``send_message`` did. ``status`` is ``queued`` (or ``validated`` for a dry run). A replayed
    idempotent request carries the first response in ``http_status`` / ``body`` / ``headers``."""

    message_id: str
    log_id: int | None
    status: str
    risk_score: int
    reasons: list[str]
    http_status: int = 202
    headers: dict[str, str] = field(default_factory=dict)
    replayed: bool = False
    replay_body: dict[str, Any] | None = None

    @property
    def body(self) -> dict[str, Any]:
        if self.replay_body is not None:
            return self.replay_body
        if self.status == MessageStatus.VALIDATED:
            return {"success": True, "status": "validated", "risk_score": self.risk_score, "reasons": self.reasons}
        return {"success": True, "status": self.status, "message_id": self.message_id, "log_id": self.log_id}


_NEXT_LOG_ID_SQL = (
    "UPDATE messaging_logsequence SET last_log_id = last_log_id + 1 WHERE account_id = %s RETURNING last_log_id"
)


def _next_log_id(account_id: int) -> int:
    """Increment the account's log counter and return it. The UPDATE takes the row lock (PostgreSQL) that
    serialises every send of the account until the transaction ends; SQLite's IMMEDIATE transaction already
    holds the database's write lock."""
    for _ in range(2):
        rows = pg_batch.fetch(_NEXT_LOG_ID_SQL, [account_id])
        if rows:
            return int(rows[0][0])
        LogSequence.objects.get_or_create(account_id=account_id)
    raise RuntimeError("could not allocate a message log id")


def _lock_and_count(ctx: GuardContext, *, count: bool) -> int:
    """The account's next log number (``_next_log_id``, which takes the lock that serialises its sends) and, with
    ``count``, every limit count read under that lock into ``ctx.usage``.

    On PostgreSQL both statements travel in one pipeline (``lib.pg_batch``), one round trip. They still run one
    after the other, and under READ COMMITTED the count statement takes its snapshot when it starts, after the
    UPDATE was granted the lock: it sees every send of the account committed before ours, exactly as a separate
    statement would."""
    if not count:
        return _next_log_id(ctx.account.pk)
    if connection.vendor != "postgresql":
        log_id = _next_log_id(ctx.account.pk)
        ctx.usage = usage_snapshot(ctx)
        return log_id
    sql, params = usage_snapshot_query(ctx)
    for _ in range(2):
        log_rows, usage_rows = pg_batch.run([(_NEXT_LOG_ID_SQL, [ctx.account.pk]), (sql, params)])
        if log_rows:
            ctx.usage = usage_snapshot_from_row(ctx, usage_rows[0])
            return int(log_rows[0][0])
        LogSequence.objects.get_or_create(account_id=ctx.account.pk)
    raise RuntimeError("could not allocate a message log id")


_USAGE_UPSERT = (
    "INSERT INTO messaging_dailyusage (account_id, instance_id, day, count) VALUES (%s, %s, %s, 1) "
    "ON CONFLICT (instance_id, day) DO UPDATE SET count = messaging_dailyusage.count + 1"
)
_ACCOUNT_USAGE_UPSERT = (
    "INSERT INTO messaging_accountdailyusage (account_id, day, count) VALUES (%s, %s, 1) "
    "ON CONFLICT (account_id, day) DO UPDATE SET count = messaging_accountdailyusage.count + 1"
)


def _usage_params(*, account_id: int, instance_id: int, day: dt.date) -> list:
    """The parameters of ``_USAGE_UPSERT`` then ``_ACCOUNT_USAGE_UPSERT``."""
    return [account_id, instance_id, day.isoformat(), account_id, day.isoformat()]


def _usage_increment(*, account_id: int, instance_id: int, day: dt.date) -> None:
    """Count an accepted message in its instance's and its account's day (SQLite: PostgreSQL counts it in the
    message INSERT, ``_message_insert``)."""
    params = _usage_params(account_id=account_id, instance_id=instance_id, day=day)
    with connection.cursor() as cursor:
        cursor.execute(_USAGE_UPSERT, params[:3])
        cursor.execute(_ACCOUNT_USAGE_UPSERT, params[3:])


def send_message(
    *,
    account: Account,
    instance_ref: Instance | str | Any,
    phone: Any,
    text: Any,
    purpose: Any,
    source: str,
    api_key=None,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
    dry_run: bool = False,
    actor: User | None = None,
    client_ip: str | None = None,
    template: Any = None,
) -> SendOutcome:
    """Run the guard and queue one text message, or raise the ``lib.errors`` block.

    ``template`` (``{"name", "language", "variables"}``, instead of ``text``) sends one of the account's approved
    templates by name (``messaging.template_send``); the log keeps its rendered text.

    Contract: every call is written to the message log, accepted or blocked (blocked ones never reach a
    provider). Limits are counted under a lock on the account's log row, so they hold across processes. A dry run
    runs every guard and records a ``validated`` (or blocked) log entry without queueing or counting.
    With ``idempotency_key`` the first response is stored and replayed (``SendOutcome.replayed``) for 24 h; a
    different body raises ``IdempotencyKeyReused``, a still-running original ``IdempotencyInProgress``.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    record = None
    if idempotency_key is not None:
        key = validate_key(idempotency_key)
        if request_hash is None:
            ref = instance_ref.public_id if isinstance(instance_ref, Instance) else instance_ref
            fields = {"instance_id": ref, "phone": phone, "message": text, "message_purpose": purpose}
            if template is not None:
                fields["template"] = template
            request_hash = request_fingerprint({**fields, "dry_run": dry_run})
        record = idempotency_claim(account=account, key=key, request_hash=request_hash)
        if record.state == IdempotencyState.COMPLETED:
            body = record.response_body or {}
            return SendOutcome(
                message_id=body.get("message_id", ""),
                log_id=body.get("log_id"),
                status=body.get("status", ""),
                risk_score=body.get("risk_score", 0),
                reasons=body.get("reasons", []),
                http_status=record.response_status or 200,
                headers=dict(record.response_headers or {}),
                replayed=True,
                replay_body=body,
            )
        idempotency_key = key
    ctx = GuardContext(
        account=account,
        source=source,
        now=now(),
        raw_instance_ref=instance_ref,
        raw_phone=phone,
        raw_text=text,
        raw_purpose=purpose,
        api_key=api_key,
        dry_run=bool(dry_run),
    )
    template_request = TemplateRequest(raw=template) if template is not None else None
    try:
        return _guard_and_record(
            ctx,
            record=record,
            actor=actor,
            client_ip=client_ip,
            idempotency_key=idempotency_key,
            template_request=template_request,
        )
    except errors.GatewayError:
        raise
    except BaseException:
        if record is not None:
            idempotency_release(record)
        raise


def _guard_and_record(
    ctx: GuardContext, *, record, actor, client_ip, idempotency_key, template_request: TemplateRequest | None
) -> SendOutcome:
    # guard.UNLOCKED_CHECKS in their order, with every read they (and the risk history) need in one statement.
    field_checks, record_checks = send_checks(template_request)
    field_block = guard_checks.run(ctx, field_checks)
    send_reads_load(ctx)
    block = guard_checks.check_sending_enabled(ctx)
    if block is None:
        block = field_block if field_block is not None else guard_checks.run(ctx, record_checks)
    if block is None:
        send_risk_assess(ctx, template_request)
    elif ctx.instance is None and isinstance(ctx.raw_instance_ref, str) and ctx.raw_instance_ref.strip():
        # Blocked before the instance check: still file the log entry under the instance when it is visible.
        check_instance(ctx)

    woken = None
    with write_turn() as turn:
        # The moment the counts are taken against: on SQLite the write turn already holds the database's lock; on
        # PostgreSQL it is a moment before the account's row lock is granted, so the windows reach that much further
        # back, which can only count more.
        ctx.now = now()
        log_id = _lock_and_count(ctx, count=block is None)
        if block is None:
            block = guard_checks.run(ctx, guard_checks.LOCKED_CHECKS)
        message, lane_woken = _message_create(
            ctx,
            log_id=log_id,
            block=block,
            actor=actor,
            client_ip=client_ip,
            key=idempotency_key,
            template_request=template_request,
            # the row is the turn's last write unless an idempotency record follows: then it carries the commit
            turn=turn if record is None else None,
        )
        if block is None:
            outcome = SendOutcome(
                message_id=message.public_id,
                log_id=message.log_id,
                status=message.status,
                risk_score=message.risk_score,
                reasons=list(message.reasons),
                http_status=200 if ctx.dry_run else 202,
                headers=dict(ctx.headers),
            )
            if not ctx.dry_run:
                if connection.vendor != "postgresql":  # there the message INSERT counted it (_message_insert)
                    _usage_increment(account_id=ctx.account.pk, instance_id=ctx.instance.pk, day=ctx.usage.local_today)
                woken = ctx.instance.pk if lane_woken else None
            if record is not None:
                idempotency_finish(
                    record, status=outcome.http_status, body=outcome.body, headers=outcome.headers, message=message
                )
        elif record is not None:
            idempotency_finish(
                record, status=block.status, body=block.as_body(), headers=block.headers, message=message
            )
    if woken is not None:
        # The turn woke an idle lane: its job, once committed (inside an outer transaction, once that one commits),
        # and outside SQLite's write lock (SqliteHuey commits, and syncs, a file of its own).
        transaction.on_commit(lambda: lane_job_enqueue(woken), robust=True)
    if block is not None:
        metrics.send_recorded(outcome="blocked", code=str(block.code), source=ctx.source)
        raise block
    metrics.send_recorded(outcome="validated" if ctx.dry_run else "accepted", source=ctx.source)
    return outcome


_INSERT_SQL: dict[tuple[str, bool], str] = {}


def _message_insert(
    message: Message,
    *,
    queued_on: dt.date | None = None,
    turn: WriteTurn | None = None,
) -> bool:
    """``message.save()`` for a new row, without building the INSERT each time: on every send, inside the account's
    lock, the ORM's query compilation took about as long as the INSERT itself. Same values as ``save()`` (each
    field's ``pre_save`` and ``get_db_prep_save``); ``Message`` has no save signals.

    A queued message (``queued_on``: its day in the account's time zone) also wakes its instance's lane
    (``queue.lane_wake_statement``) and is counted in the instance's and the account's daily usage. On PostgreSQL
    these travel in the INSERT as data-modifying ``WITH`` parts, one round trip instead of four; elsewhere the lane
    statement runs before it in the same transaction and the caller runs ``_usage_increment``. Returns whether the
    lane was woken (its job is then the caller's to enqueue, after the commit).

    With ``turn`` the row is the write turn's last write: it travels with the commit (``WriteTurn.finish``)."""
    fields = [f for f in Message._meta.concrete_fields if not f.primary_key]
    batched = connection.vendor == "postgresql" and queued_on is not None
    sql = _INSERT_SQL.get((connection.vendor, batched))
    if sql is None:
        quote = connection.ops.quote_name
        sql = (
            f"INSERT INTO {quote(Message._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {quote(Message._meta.pk.column)}"
        )
        if batched:
            sql = (
                f"WITH m AS ({sql}), u AS ({_USAGE_UPSERT}), "  # noqa: S608 - our own SQL
                f"a AS ({_ACCOUNT_USAGE_UPSERT}), l AS ({LANE_WAKE_SQL}) SELECT m.*, EXISTS (SELECT 1 FROM l) FROM m"
            )
        _INSERT_SQL[(connection.vendor, batched)] = sql
    values = [f.get_db_prep_save(f.pre_save(message, True), connection) for f in fields]
    woken = False
    if batched:
        lane_params = lane_wake_statement(message.instance_id)[1]
        values += [
            *_usage_params(account_id=message.account_id, instance_id=message.instance_id, day=queued_on),
            *lane_params,
        ]
    elif queued_on is not None:
        with connection.cursor() as cursor:
            cursor.execute(*lane_wake_statement(message.instance_id))
            woken = cursor.fetchone() is not None
    rows = turn.finish(sql, values) if turn is not None else pg_batch.fetch(sql, values)
    message.pk = rows[0][0]
    message._state.adding = False
    message._state.db = connection.alias
    return bool(rows[0][1]) if batched else woken


def _decision(ctx: GuardContext, block: errors.GatewayError | None) -> str:
    if block is not None:
        return GuardDecision.BLOCK
    if ctx.risk_score >= policy.RISK_REVIEW_THRESHOLD:
        return GuardDecision.REVIEW
    return GuardDecision.ALLOW


def _message_create(
    ctx: GuardContext,
    *,
    log_id: int,
    block,
    actor,
    client_ip,
    key,
    template_request: TemplateRequest | None = None,
    turn: WriteTurn | None = None,
) -> tuple[Message, bool]:
    """The log row (and a policy event when the guard held the message for review); a queued message also wakes its
    instance's lane in the same transaction. Returns the row and whether the lane was woken (``_message_insert``)."""
    decision = _decision(ctx, block)
    if block is not None:
        status = MessageStatus.BLOCKED
    elif ctx.dry_run:
        status = MessageStatus.VALIDATED
    else:
        status = MessageStatus.QUEUED
    text = ctx.text_for_log
    instance = ctx.instance
    message = Message(
        account=ctx.account,
        log_id=log_id,
        instance=instance,
        instance_ref=ctx.instance_ref_text,
        api_key=ctx.api_key,
        actor=actor,
        client_ip=client_ip,
        source=ctx.source,
        purpose=ctx.purpose_text,
        phone_e164=ctx.phone_e164,
        phone_hash=ctx.phone_hash,
        text=text,
        text_hash=ctx.text_hash or (text_fingerprint(text) if text else ""),
        template=template_request.chosen if template_request is not None else None,
        template_variables=template_request.variables if template_request is not None else [],
        dry_run=ctx.dry_run,
        idempotency_key=key or "",
        status=status,
        decision=decision,
        block_code=str(block.code) if block is not None else "",
        block_message=block.message[:300] if block is not None else "",
        block_details=block.details if block is not None else {},
        risk_score=ctx.risk_score,
        category=ctx.category,
        reasons=list(ctx.reasons),
        counted=status == MessageStatus.QUEUED,
        provider=instance.provider if instance is not None else "",
        created_at=ctx.now,
        history=[history_entry(status, ctx.now, note=str(block.code) if block is not None else "")],
    )
    review = decision != GuardDecision.ALLOW and ctx.risk_score >= policy.RISK_REVIEW_THRESHOLD and not ctx.dry_run
    woken = _message_insert(
        message,
        queued_on=ctx.usage.local_today if status == MessageStatus.QUEUED else None,
        turn=None if review else turn,  # the policy event is written after it
    )
    if review:
        PolicyEvent.objects.create(
            account=ctx.account,
            instance=instance,
            message=message,
            action=decision,
            risk_score=ctx.risk_score,
            reasons=list(ctx.reasons),
            created_at=ctx.now,
        )
    return message, woken


def message_log_rejection(
    *,
    account: Account,
    source: str,
    error: errors.GatewayError,
    api_key=None,
    client_ip: str | None = None,
    actor: User | None = None,
) -> Message:
    """Log a request refused before its fields could be read (``invalid_json``, ``payload_too_large``, a wrong
    content type), so the customer sees it in the message log too."""
    metrics.send_recorded(outcome="blocked", code=str(error.code), source=source)
    with transaction.atomic():
        log_id = _next_log_id(account.pk)
        at = now()
        return Message.objects.create(
            account=account,
            log_id=log_id,
            api_key=api_key,
            actor=actor,
            client_ip=client_ip,
            source=source,
            status=MessageStatus.BLOCKED,
            decision=GuardDecision.BLOCK,
            block_code=str(error.code),
            block_message=error.message[:300],
            block_details=error.details,
            created_at=at,
            history=[history_entry(MessageStatus.BLOCKED, at, note=str(error.code))],
        )


def _phone_from(raw: str, default_region: str | None) -> str:
    if "@" in raw:
        return jid_to_e164(raw) or ""
    try:
        return normalize_e164(raw, default_region)
    except InvalidPhoneNumber:
        return ""


def message_record_from_phone(
    *, instance: Instance, to_phone: str, text: str, provider_message_id: str, occurred_at: dt.datetime | None
) -> Message:
    """Record a message sent from the paired phone itself (or seen echoed back from the provider) as outbound.

    Idempotent on (instance, provider message id): a message the gateway itself sent is returned unchanged. A
    gateway send whose outcome was unknown (crash after handing it to the provider) is reconciled here: it gets
    the id and moves to ``sent`` instead of being recorded twice. Not counted toward limits; emits no webhook.
    """
    at = occurred_at or now()
    account = instance.account
    phone = _phone_from(to_phone or "", account.default_country)
    body = (text or "").strip()
    with transaction.atomic():
        existing = Message.objects.filter(instance=instance, provider_message_id=provider_message_id).first()
        if existing is not None and provider_message_id:
            return existing
        unknown = (
            Message.objects.select_for_update()
            .filter(
                instance=instance, status=MessageStatus.SENDING, provider_message_id="", phone_e164=phone, text=body
            )
            .order_by("id")
            .first()
        )
        if unknown is not None and phone:
            unknown.provider_message_id = provider_message_id
            unknown.save(update_fields=["provider_message_id", "updated_at"])
            message_transition(unknown, MessageStatus.SENT, at=at, note="confirmed by the provider's echo")
            apply_unmatched_statuses(unknown)
            return unknown
        log_id = _next_log_id(account.pk)
        message = Message.objects.create(
            account=account,
            log_id=log_id,
            instance=instance,
            instance_ref=instance.public_id,
            source=MessageSource.PHONE,
            phone_e164=phone,
            phone_hash=phone_hash(phone) if phone else "",
            text=body,
            text_hash=text_fingerprint(body) if body else "",
            status=MessageStatus.SENT,
            decision=GuardDecision.ALLOW,
            provider=instance.provider,
            provider_message_id=provider_message_id,
            created_at=at,
            sent_at=at,
            history=[history_entry(MessageStatus.SENT, at, note="sent from the phone")],
        )
        if phone:
            conversation_touch_outbound(message, at=at)
        if provider_message_id:
            apply_unmatched_statuses(message)
        return message
