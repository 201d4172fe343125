"""Everything the unlocked checks and the risk history read, in one statement (it runs on every send; on PostgreSQL
each statement is a round trip).

``send_reads_load`` runs once the field checks have read the body; it fills ``ctx.reads`` with the operator's kill
switch, the instance named by the request, the number's active suppression (the same match as
``suppression_find``), and the 24-hour history the risk score looks at. The checks use these values only when they
were read for the same inputs (``SendReads.matches_*``); otherwise they read for themselves, as they do for callers
that run the checks without loading the reads first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

from django.db import connection

from whatsapp_gateway.contacts.models import Contact, Conversation
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib import pg_batch, prepared
from whatsapp_gateway.messaging import policy
from whatsapp_gateway.messaging.guard.checks import INSTANCE_FIELDS
from whatsapp_gateway.messaging.guard.context import GuardContext
from whatsapp_gateway.operations.models import OperatorSettings
from whatsapp_gateway.suppression.models import Suppression, SuppressionReason
from whatsapp_gateway.suppression.selectors import suppression_number_sql

HISTORY_HOURS = 24
RECENT_RECIPIENTS_LIMIT = 200

_INSTANCE = prepared.Part(Instance, "i", INSTANCE_FIELDS)
_SUPPRESSION = prepared.Part(Suppression, "sup", ("id", "reason", "source", "created_at"))


@dataclass(frozen=True)
class SendReads:
    sending_enabled: bool
    instance_ref: str | None  # the reference the instance was looked up by (None: given as an object)
    instance: Instance | None
    phone_e164: str
    suppression: Suppression | None
    text_hash: str
    phone_hash: str
    history_instance_id: int | None
    identical_recipients: int  # other recipients of the same text in 24 h (the account)
    recent_recipients: frozenset[str]  # recipients of the instance in 24 h (at most 200)
    # how many of them and of this number wrote to the instance; None when too few for the rule to apply
    recipients_who_wrote: int | None

    def matches_instance(self, ref: str) -> bool:
        return self.instance_ref is not None and self.instance_ref == ref

    def matches_history(self, ctx: GuardContext) -> bool:
        instance = ctx.instance
        return (
            instance is not None
            and instance.pk == self.history_instance_id
            and self.text_hash == ctx.text_hash
            and self.phone_hash == ctx.phone_hash
            and self.phone_e164 == ctx.phone_e164
        )


@cache
def _sql(vendor: str, by_ref: bool) -> str:
    aggregate = "string_agg" if vendor == "postgresql" else "group_concat"
    instances, conversations, contacts = (m._meta.db_table for m in (Instance, Conversation, Contact))
    # By reference: a public id or a live instance's name. Each of the two is looked up through its own unique
    # index (an OR of both let the planner scan every instance of the account when it misjudged the table).
    where = (
        f"i.id IN ((SELECT id FROM {instances} WHERE public_id = %(ref)s), "  # noqa: S608 - model table
        f"(SELECT id FROM {instances} WHERE account_id = %(account)s AND name = %(ref)s AND deleted_at IS NULL)) "
        "AND i.account_id = %(account)s AND i.deleted_at IS NULL ORDER BY i.name, i.id LIMIT 1"
        if by_ref
        else "i.id = %(instance)s"
    )
    # r: the instance's recipients in 24 h, as risk.history_rules reads them; "wrote" counts those of them (and the
    # number being sent to) who wrote to the instance, only once there are enough of them for the rule to apply.
    return (
        f"WITH i AS (SELECT {prepared.columns([_INSTANCE])} FROM {instances} i WHERE {where}), "  # noqa: S608 - model tables
        "r AS (SELECT DISTINCT phone_e164 FROM messaging_message WHERE instance_id = (SELECT id FROM i) AND counted "
        f"AND created_at >= %(since)s LIMIT {RECENT_RECIPIENTS_LIMIT}) "
        f"SELECT (SELECT sending_enabled FROM {OperatorSettings._meta.db_table} WHERE id = %(singleton)s), "
        f"{prepared.columns([_INSTANCE, _SUPPRESSION])}, "
        "(SELECT COUNT(DISTINCT phone_hash) FROM messaging_message WHERE account_id = %(account)s "
        "AND text_hash = %(text_hash)s AND counted AND created_at >= %(since)s AND phone_hash <> %(phone_hash)s), "
        f"(SELECT {aggregate}(phone_e164, ',') FROM r), "
        "CASE WHEN (SELECT COUNT(*) FROM r) >= %(enough)s THEN "
        f"(SELECT COUNT(DISTINCT c.phone_e164) FROM {conversations} cv JOIN {contacts} c ON c.id = cv.contact_id "
        "WHERE cv.instance_id = (SELECT id FROM i) AND cv.last_inbound_at IS NOT NULL "
        "AND (c.phone_e164 IN (SELECT phone_e164 FROM r) OR c.phone_e164 = %(phone)s)) END "
        f"FROM (SELECT 1 AS one) o LEFT JOIN i ON 1 = 1 LEFT JOIN ({suppression_number_sql()}) sup ON 1 = 1"
    )


def send_reads_load(ctx: GuardContext) -> SendReads:
    """Read, in one statement, what the unlocked checks and the risk history need (see the module doc)."""
    given = ctx.instance
    ref = ctx.raw_instance_ref.strip() if given is None and isinstance(ctx.raw_instance_ref, str) else None
    since = connection.ops.adapt_datetimefield_value(ctx.now - dt.timedelta(hours=HISTORY_HOURS))
    params = {
        "account": ctx.account.pk,
        "ref": ref or "",
        "instance": given.pk if given is not None else None,
        "singleton": OperatorSettings.SINGLETON_ID,
        "phone": ctx.phone_e164,
        "blocked": SuppressionReason.BLOCKED.value,
        "text_hash": ctx.text_hash,
        "phone_hash": ctx.phone_hash,
        "since": since,
        "enough": policy.RISK_NEVER_WROTE_MIN_RECIPIENTS - 1,
    }
    row = pg_batch.fetch(_sql(connection.vendor, given is None), params, read_only=True)[0]
    n_instance = len(_INSTANCE.concrete)
    instance = prepared.load(row[1 : 1 + n_instance], [_INSTANCE])[0] if row[1] is not None else None
    start = 1 + n_instance
    suppression = (
        prepared.load(row[start : start + len(_SUPPRESSION.concrete)], [_SUPPRESSION])[0]
        if row[start] is not None
        else None
    )
    identical, recipients, wrote = row[-3], row[-2], row[-1]
    ctx.reads = SendReads(
        sending_enabled=True if row[0] is None else bool(row[0]),
        instance_ref=ref,
        instance=instance,
        phone_e164=ctx.phone_e164,
        suppression=suppression if ctx.phone_e164 else None,
        text_hash=ctx.text_hash,
        phone_hash=ctx.phone_hash,
        history_instance_id=(given or instance).pk if (given or instance) is not None else None,
        identical_recipients=int(identical or 0),
        recent_recipients=frozenset(recipients.split(",")) if recipients else frozenset(),
        recipients_who_wrote=None if wrote is None else int(wrote),
    )
    return ctx.reads
