"""The risk score: a transparent sum of named rules (numbers in ``messaging.policy``)."""

from __future__ import annotations

import datetime as dt
import re
from functools import cache

from whatsapp_gateway.inbound.models import Conversation
from whatsapp_gateway.messaging import policy
from whatsapp_gateway.messaging.guard.context import GuardContext

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)


@cache
def _english_terms() -> re.Pattern[str]:
    words = sorted(policy.MARKETING_TERMS_EN, key=len, reverse=True)
    parts = [re.escape(w) if not w[0].isalnum() else r"\b" + re.escape(w) + r"\b" for w in words]
    return re.compile("|".join(parts), re.IGNORECASE)


@cache
def _shorteners() -> re.Pattern[str]:
    hosts = "|".join(re.escape(h) for h in sorted(policy.LINK_SHORTENERS, key=len, reverse=True))
    return re.compile(rf"(?:^|[\s/(\"'])(?:https?://)?(?:www\.)?(?:{hosts})/\S", re.IGNORECASE)


def marketing_terms(text: str) -> list[str]:
    found = {m.group(0).casefold() for m in _english_terms().finditer(text)}
    found.update(term for term in policy.MARKETING_TERMS_AR if term in text)
    return sorted(found)


def text_rules(text: str) -> tuple[int, list[str]]:
    """The rules that look only at the text."""
    score, reasons = 0, []
    terms = marketing_terms(text)
    if terms:
        points = min(policy.RISK_MARKETING_POINTS_PER_TERM * len(terms), policy.RISK_MARKETING_MAX_POINTS)
        score += points
        reasons.append(f"marketing_language (+{points}): " + ", ".join(f"'{t}'" for t in terms[:6]))
    if _shorteners().search(text):
        score += policy.RISK_LINK_SHORTENER_POINTS
        reasons.append(f"link_shortener (+{policy.RISK_LINK_SHORTENER_POINTS}): the text uses a link shortener")
    links = len(_URL.findall(text))
    if links >= policy.RISK_MANY_LINKS_THRESHOLD:
        score += policy.RISK_MANY_LINKS_POINTS
        reasons.append(f"many_links (+{policy.RISK_MANY_LINKS_POINTS}): {links} links in one message")
    return score, reasons


_IDENTICAL_SQL = (
    "SELECT COUNT(DISTINCT phone_hash) FROM messaging_message WHERE account_id = %s AND text_hash = %s AND counted "
    "AND created_at >= %s AND phone_hash <> %s"
)
_RECIPIENTS_SQL = (
    "SELECT DISTINCT phone_e164 FROM messaging_message WHERE instance_id = %s AND counted AND created_at >= %s "
    "LIMIT 200"
)


def history_rules(ctx: GuardContext) -> tuple[int, list[str]]:
    """The rules that look at what the account and the instance sent in the last 24 hours (raw SQL: this runs on
    every send)."""
    from django.db import connection

    score, reasons = 0, []
    reads = ctx.reads
    wrote = None
    if reads is not None and reads.matches_history(ctx):  # read with the checks' statement (guard.reads)
        others, recipients = reads.identical_recipients, set(reads.recent_recipients)
        wrote = reads.recipients_who_wrote
    else:
        since = connection.ops.adapt_datetimefield_value(ctx.now - dt.timedelta(hours=24))
        with connection.cursor() as cursor:
            cursor.execute(_IDENTICAL_SQL, [ctx.account.pk, ctx.text_hash, since, ctx.phone_hash])
            others = int(cursor.fetchone()[0])
            cursor.execute(_RECIPIENTS_SQL, [ctx.instance.pk, since])
            recipients = {row[0] for row in cursor.fetchall()}
    if others >= policy.RISK_IDENTICAL_TEXT_RECIPIENTS:
        score += policy.RISK_IDENTICAL_TEXT_POINTS
        reasons.append(
            f"identical_text_many_recipients (+{policy.RISK_IDENTICAL_TEXT_POINTS}): the same text went to "
            f"{others} other recipients in 24 h"
        )
    recipients.add(ctx.phone_e164)
    if len(recipients) >= policy.RISK_NEVER_WROTE_MIN_RECIPIENTS:
        wrote = (
            wrote
            if wrote is not None
            else (
                Conversation.objects.filter(
                    instance=ctx.instance, contact__phone_e164__in=recipients, last_inbound_at__isnull=False
                )
                .values("contact__phone_e164")
                .distinct()
                .count()
            )
        )
        share = 1 - wrote / len(recipients)
        if share >= policy.RISK_NEVER_WROTE_SHARE:
            score += policy.RISK_NEVER_WROTE_POINTS
            reasons.append(
                f"recipients_never_wrote (+{policy.RISK_NEVER_WROTE_POINTS}): {round(share * 100)}% of "
                f"{len(recipients)} recipients in 24 h never wrote to this number"
            )
    return score, reasons


def risk_assess(ctx: GuardContext) -> None:
    """Fill ``ctx.risk_score`` (0 to 100) and ``ctx.reasons``."""
    score, reasons = text_rules(ctx.text)
    more, more_reasons = history_rules(ctx)
    ctx.risk_score = min(score + more, 100)
    ctx.reasons = [*ctx.reasons, *reasons, *more_reasons]
