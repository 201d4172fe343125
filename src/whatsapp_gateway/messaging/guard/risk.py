"""The risk score: the content policy's judgement of the text (``content.py``) plus the bulk-sending rules that look
at what the account and the instance sent in the last 24 hours (numbers in ``messaging.policy``)."""

from __future__ import annotations

import datetime as dt

from whatsapp_gateway.contacts.models import Conversation
from whatsapp_gateway.message_templates.models import Template
from whatsapp_gateway.message_templates.selectors import template_match
from whatsapp_gateway.messaging import policy
from whatsapp_gateway.messaging.guard.content import BLOCK, ContentAssessment, assess_text
from whatsapp_gateway.messaging.guard.context import GuardContext

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
            f"bulk: the same text went to {others} other recipients in 24 h +{policy.RISK_IDENTICAL_TEXT_POINTS}"
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
                f"bulk: {round(share * 100)}% of {len(recipients)} recipients in 24 h never wrote to this number "
                f"+{policy.RISK_NEVER_WROTE_POINTS}"
            )
    return score, reasons


def content_assessment(ctx: GuardContext) -> ContentAssessment:
    """The content policy's judgement of the text, computed once per send (the suppression check may need it
    before the risk score does)."""
    if ctx.content is None:
        ctx.content = assess_text(ctx.text, ctx.purpose)
    return ctx.content


def approved_template_for(account_id: int, text: str) -> Template | None:
    """The account's approved template whose fixed words ``text`` follows, if its variable parts are not a
    promotion of their own: the fixed words were reviewed, what fills the variables was not."""
    found = template_match(account_id, text)
    if found is None:
        return None
    variables = " ".join(found.variables).strip()
    if variables and assess_text(variables).decision == BLOCK:
        return None
    return found.template


def risk_assess(ctx: GuardContext) -> None:
    """Fill ``ctx.risk_score`` (0 to 100), ``ctx.category`` and ``ctx.reasons``. An approved template of the account
    whose fixed words the text follows passes the content policy; the bulk rules still apply to it."""
    template = approved_template_for(ctx.account.pk, ctx.text)
    if template is not None:
        score, reasons = 0, [f"template: approved template '{template.name}' ({template.public_id})"]
        ctx.category = template.category
    else:
        content = content_assessment(ctx)
        score, reasons = content.score, list(content.reasons)
        ctx.category = content.category
    more, more_reasons = history_rules(ctx)
    ctx.risk_score = min(score + more, 100)
    ctx.reasons = [*ctx.reasons, *reasons, *more_reasons]
