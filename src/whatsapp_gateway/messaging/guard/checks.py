"""The guard's checks, one small function each, in the order of docs/api.md "Errors".

A check returns ``None`` (allow) or a block: a ``lib.errors`` exception instance carrying the code, HTTP status,
details and headers. Checks may fill the context for later checks (the E.164 number, the instance, counts).
Authentication, the body size and JSON parsing run before these, in the API layer.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable
from functools import cache

from django.db import connection

from whatsapp_gateway.accounts.models import Module
from whatsapp_gateway.apikeys.selectors import api_key_allows_instance
from whatsapp_gateway.instances.models import Instance, InstanceState
from whatsapp_gateway.lib import errors, logs, prepared
from whatsapp_gateway.lib.crypto import keyed_hash
from whatsapp_gateway.lib.phone import InvalidPhoneNumber, normalize_e164
from whatsapp_gateway.messaging import policy
from whatsapp_gateway.messaging.guard.classifier import AUTHENTICATION
from whatsapp_gateway.messaging.guard.context import GuardContext, text_fingerprint
from whatsapp_gateway.messaging.guard.risk import content_assessment
from whatsapp_gateway.messaging.guard.usage import Window
from whatsapp_gateway.messaging.models import Message
from whatsapp_gateway.operations.killswitch import sending_is_enabled
from whatsapp_gateway.providers.registry import UnknownProvider, get_provider
from whatsapp_gateway.suppression.models import SuppressionReason, SuppressionSource
from whatsapp_gateway.suppression.selectors import suppression_find

Block = errors.GatewayError
Check = Callable[[GuardContext], Block | None]

# Which account module each source needs (portal test sends and opt-out confirmations need none).
SOURCE_MODULE = {"api": Module.API_SEND.value, "threecx": Module.THREECX.value}


def phone_hash(e164: str) -> str:
    return keyed_hash(e164, purpose="phone")


def _invalid(field: str, message: str) -> Block:
    return errors.ValidationFailed(message, details={"field": field})


def check_fields(ctx: GuardContext) -> Block | None:
    """instance_id, phone and message are present and well-formed (``validation_error`` + ``details.field``)."""
    ref = ctx.raw_instance_ref
    if isinstance(ref, Instance):
        ctx.instance = ref
    elif not isinstance(ref, str) or not ref.strip():
        return _invalid("instance_id", "instance_id is required: the instance's id (inst_…) or its name.")
    elif len(ref) > 120:
        return _invalid("instance_id", "instance_id is too long.")
    if not isinstance(ctx.raw_phone, str) or not ctx.raw_phone.strip():
        return _invalid("phone", "phone is required, e.g. +9665XXXXXXXX.")
    try:
        ctx.phone_e164 = normalize_e164(ctx.raw_phone, ctx.account.default_country)
    except InvalidPhoneNumber:
        return _invalid("phone", "phone is not a valid phone number; use the international format +<country><number>.")
    ctx.phone_hash = phone_hash(ctx.phone_e164)
    if not isinstance(ctx.raw_text, str):
        return _invalid("message", "message is required and must be text.")
    text = ctx.raw_text.strip()
    if not text:
        return _invalid("message", "message must not be empty.")
    if len(text) > policy.MESSAGE_MAX_CHARS:
        return _invalid("message", f"message is longer than {policy.MESSAGE_MAX_CHARS} characters.")
    ctx.text = text
    ctx.text_hash = text_fingerprint(text)
    if ctx.raw_purpose is not None and not isinstance(ctx.raw_purpose, str):
        return _invalid("message_purpose", "message_purpose must be a string.")
    return None


def check_purpose_present(ctx: GuardContext) -> Block | None:
    purpose = ctx.raw_purpose.strip().lower() if isinstance(ctx.raw_purpose, str) else ""
    if not purpose:
        return errors.MessagePurposeRequired(
            "message_purpose is required: one of " + ", ".join(policy.ALLOWED_PURPOSES) + ".",
            details={"field": "message_purpose"},
        )
    ctx.purpose = purpose[:40]
    return None


def check_purpose_allowed(ctx: GuardContext) -> Block | None:
    if ctx.purpose in policy.ALLOWED_PURPOSES:
        return None
    if ctx.purpose in policy.DISALLOWED_PURPOSES:
        message = f"'{ctx.purpose}' messages are not allowed on the gateway (see /acceptable-use)."
    else:
        message = f"'{ctx.purpose}' is not a known purpose; use one of " + ", ".join(policy.ALLOWED_PURPOSES) + "."
    return errors.MessagePurposeNotAllowed(message, details={"field": "message_purpose"})


INSTANCE_FIELDS = (
    "id",
    "public_id",
    "account_id",
    "name",
    "provider",
    "state",
    "is_paused",
    "paired_at",
    "deleted_at",
)


_INSTANCE_PART = prepared.Part(Instance, "i", INSTANCE_FIELDS)


@cache
def _instance_sql(vendor: str) -> str:
    return (
        f"SELECT {prepared.columns([_INSTANCE_PART])} FROM {Instance._meta.db_table} i "  # noqa: S608 - model table
        "WHERE i.account_id = %(account)s AND i.deleted_at IS NULL AND (i.public_id = %(ref)s OR i.name = %(ref)s) "
        "ORDER BY i.name, i.id LIMIT 1"
    )


def check_instance(ctx: GuardContext) -> Block | None:
    """The instance exists, is not deleted, belongs to the account and (for a scoped key) is in the key's scope.
    Every miss answers the same ``invalid_instance`` so ids of other accounts cannot be probed."""
    instance = ctx.instance
    reads = ctx.reads
    if instance is None and reads is not None and reads.matches_instance(ctx.raw_instance_ref.strip()):
        instance = reads.instance
        if instance is None:
            ctx.instance = None
            return errors.InvalidInstance(details={"field": "instance_id"})
    elif instance is None:
        ref = ctx.raw_instance_ref.strip()
        # A prepared statement (this runs on every send); not the encrypted credentials: nothing here needs them.
        with connection.cursor() as cursor:
            cursor.execute(_instance_sql(connection.vendor), {"account": ctx.account.pk, "ref": ref})
            row = cursor.fetchone()
        instance = prepared.load(row, [_INSTANCE_PART])[0] if row is not None else None
    if instance is None or instance.account_id != ctx.account.pk or instance.deleted_at is not None:
        ctx.instance = None
        return errors.InvalidInstance(details={"field": "instance_id"})
    if ctx.api_key is not None and not api_key_allows_instance(api_key=ctx.api_key, instance_id=instance.pk):
        ctx.instance = None
        return errors.InvalidInstance(details={"field": "instance_id"})
    ctx.instance = instance
    logs.annotate_request(instance_id=instance.public_id)  # the send API names it in the body, not the URL
    return None


def check_module(ctx: GuardContext) -> Block | None:
    module = SOURCE_MODULE.get(ctx.source)
    if module and not ctx.account.has_module(module):
        return errors.ModuleNotEnabled(f"The '{module}' module is not enabled for this account.")
    return None


def check_paused(ctx: GuardContext) -> Block | None:
    if ctx.account.is_paused:
        reason = f": {ctx.account.paused_reason}" if ctx.account.paused_reason else "."
        return errors.AccountPaused("Sending is paused for this account" + reason)
    if ctx.instance is not None and ctx.instance.is_paused:
        return errors.AccountPaused("Sending is paused for this instance.")
    return None


def check_connected(ctx: GuardContext) -> Block | None:
    if ctx.instance is not None and ctx.instance.state != InstanceState.CONNECTED:
        return errors.InstanceNotConnected(
            f"The instance is not connected to WhatsApp (state: {ctx.instance.state}).",
            details={"state": ctx.instance.state},
        )
    return None


def check_suppression(ctx: GuardContext) -> Block | None:
    """Suppressed numbers are refused, with two exceptions (docs/api.md "Opt-outs and suppression"): one-time codes may reach a number that
    opted out by keyword (never a blocked one) unless the account turned that off; and the single opt-out
    confirmation may reach a number whose keyword opt-out is less than five minutes old."""
    # suppression_find expands the number to every WhatsApp id and number known for the same contact.
    reads = ctx.reads
    if reads is not None and reads.phone_e164 == ctx.phone_e164:
        found = reads.suppression
    else:
        found = suppression_find(account=ctx.account, phone_e164=ctx.phone_e164)
    if found is None:
        return None
    by_keyword = found.reason == SuppressionReason.OPTED_OUT and found.source == SuppressionSource.KEYWORD
    if (
        by_keyword
        and ctx.purpose == "authentication"
        and ctx.account.allow_authentication_to_opted_out
        and content_assessment(ctx).category == AUTHENTICATION
    ):
        # Only a real one-time code or security check: the purpose alone does not open the exception.
        ctx.reasons.append("suppression_exception: one-time code to a number that opted out by keyword")
        return None
    if by_keyword and ctx.source == "opt_out_confirmation":
        window = dt.timedelta(seconds=policy.OPT_OUT_CONFIRMATION_WINDOW_SECONDS)
        if ctx.now - found.created_at <= window and not _confirmation_already_sent(ctx, since=found.created_at):
            return None
    reason = "opted out" if found.reason == SuppressionReason.OPTED_OUT else "blocked"
    return errors.RecipientSuppressed(
        f"The recipient is on your suppression list ({reason}).", details={"reasons": [f"suppressed: {reason}"]}
    )


def _confirmation_already_sent(ctx: GuardContext, *, since: dt.datetime) -> bool:
    return Message.objects.filter(
        account=ctx.account,
        phone_hash=ctx.phone_hash,
        source="opt_out_confirmation",
        counted=True,
        created_at__gte=since,
    ).exists()


def _seconds_until(moment: dt.datetime, now: dt.datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def check_plan_limits(ctx: GuardContext) -> Block | None:
    usage, plan = ctx.usage, ctx.account.plan
    if usage.account_day >= plan.daily_limit:
        return errors.DailyLimitReached(
            f"Your plan allows {plan.daily_limit} messages a day; the count resets at midnight "
            f"({ctx.account.timezone}).",
            details={"limit": plan.daily_limit, "used": usage.account_day},
            headers={"Retry-After": str(_seconds_until(usage.next_local_midnight, ctx.now))},
        )
    if usage.account_month >= plan.monthly_limit:
        return errors.MonthlyLimitReached(
            f"Your plan allows {plan.monthly_limit} messages a month; the count resets on the 1st.",
            details={"limit": plan.monthly_limit, "used": usage.account_month},
            headers={"Retry-After": str(_seconds_until(usage.next_month_start, ctx.now))},
        )
    return None


def _throttled(
    ctx: GuardContext, *, name: str, limit: int, window_seconds: int, window: Window, message: str
) -> Block | None:
    if window.used < limit:
        return None
    oldest = window.oldest or ctx.now
    retry = _seconds_until(oldest + dt.timedelta(seconds=window_seconds), ctx.now)
    return errors.SendingThrottled(
        message,
        details={"limit": limit, "used": window.used, "reasons": [name]},
        headers={
            "Retry-After": str(retry),
            "RateLimit-Policy": f'"{name}";q={limit};w={window_seconds}',
            "RateLimit": f'"{name}";r=0;t={retry}',
        },
    )


def check_velocity(ctx: GuardContext) -> Block | None:
    u = ctx.usage
    rules = [
        (
            "instance_per_minute",
            policy.INSTANCE_PER_MINUTE,
            60,
            u.instance_minute,
            f"This number may send at most {policy.INSTANCE_PER_MINUTE} messages a minute.",
        ),
        (
            "instance_per_hour",
            policy.INSTANCE_PER_HOUR,
            3600,
            u.instance_hour,
            f"This number may send at most {policy.INSTANCE_PER_HOUR} messages an hour.",
        ),
        (
            "recipient_per_10_minutes",
            policy.RECIPIENT_PER_10_MINUTES,
            600,
            u.recipient_10_minutes,
            f"At most {policy.RECIPIENT_PER_10_MINUTES} messages to one recipient in 10 minutes.",
        ),
        (
            "recipient_per_day",
            policy.RECIPIENT_PER_DAY,
            86400,
            u.recipient_day,
            f"At most {policy.RECIPIENT_PER_DAY} messages to one recipient a day.",
        ),
        (
            "duplicate_text",
            1,
            policy.DUPLICATE_WINDOW_SECONDS,
            u.duplicate,
            "The same text already went to this recipient in the last 10 minutes.",
        ),
    ]
    for name, limit, seconds, window, message in rules:
        block = _throttled(ctx, name=name, limit=limit, window_seconds=seconds, window=window, message=message)
        if block is not None:
            return block
    remaining = max(policy.INSTANCE_PER_MINUTE - u.instance_minute.used - 1, 0)
    ctx.headers = {
        "RateLimit-Policy": f'"instance_per_minute";q={policy.INSTANCE_PER_MINUTE};w=60',
        "RateLimit": f'"instance_per_minute";r={remaining};t=60',
    }
    return None


def warmup_cap(instance: Instance, now: dt.datetime) -> int | None:
    """The warm-up cap per day for a newly paired number, or ``None`` once warm-up is over."""
    if instance.paired_at is None:
        return None
    day_number = (now - instance.paired_at).days + 1
    for last_day, cap in policy.WARMUP_STEPS:
        if day_number <= last_day:
            return cap
    return None


def check_warmup(ctx: GuardContext) -> Block | None:
    cap = warmup_cap(ctx.instance, ctx.now)
    if cap is None or ctx.usage.instance_day < cap:
        return None
    retry = _seconds_until(ctx.usage.next_local_midnight, ctx.now)
    return errors.SendingThrottled(
        f"This number was paired recently and may send at most {cap} messages a day while it warms up.",
        details={"limit": cap, "used": ctx.usage.instance_day, "reasons": ["warm_up"]},
        headers={
            "Retry-After": str(retry),
            "RateLimit-Policy": f'"warm_up";q={cap};w=86400',
            "RateLimit": f'"warm_up";r=0;t={retry}',
        },
    )


def check_risk(ctx: GuardContext) -> Block | None:
    if ctx.risk_score >= policy.RISK_BLOCK_THRESHOLD:
        return errors.PolicyViolation(
            "The message looks like marketing or bulk messaging and was not sent. If you believe this is wrong, "
            "submit the text as a template for review.",
            details={
                "action": "block",
                "risk_score": ctx.risk_score,
                "category": ctx.category,
                "reasons": list(ctx.reasons),
            },
        )
    return None


def check_provider(ctx: GuardContext) -> Block | None:
    """The instance's provider must be available to take the message (``gateway_send_failed`` otherwise)."""
    try:
        get_provider(ctx.instance.provider)
    except (UnknownProvider, ImportError):
        return errors.GatewaySendFailed(f"The provider '{ctx.instance.provider}' of this instance is not available.")
    return None


def check_sending_enabled(ctx: GuardContext) -> Block | None:
    """The operator's kill switch (operations app): while it is off every send answers ``sending_disabled`` 503."""
    enabled = ctx.reads.sending_enabled if ctx.reads is not None else sending_is_enabled()
    if not enabled:
        return errors.SendingDisabled(headers={"Retry-After": "300"})
    return None


# Checks that read only committed data run before the account's row is locked; the limit checks run under it.
# The kill switch comes first: authentication has already run in the API layer.
# The send service runs them in three steps around its one read statement (``guard.reads``): the field checks
# (no database), the reads, then the kill switch, the field checks' block if any, and the record checks.
FIELD_CHECKS: list[Check] = [check_fields, check_purpose_present, check_purpose_allowed]
RECORD_CHECKS: list[Check] = [check_instance, check_module, check_paused, check_connected, check_suppression]
UNLOCKED_CHECKS: list[Check] = [check_sending_enabled, *FIELD_CHECKS, *RECORD_CHECKS]
LOCKED_CHECKS: list[Check] = [check_plan_limits, check_velocity, check_warmup, check_risk, check_provider]


def run(ctx: GuardContext, checks: Iterable[Check]) -> Block | None:
    """The first block of ``checks`` in order, or ``None`` when every check allows."""
    for check in checks:
        block = check(ctx)
        if block is not None:
            return block
    return None
