"""Template writes: submit for review, edit and resubmit, the operator's approve / reject / disable.

Every write is audit-logged and clears the account's match cache (``selectors.template_match``). The customer
hears of an operator's decision by email (after commit) and on the templates page.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction

from whatsapp_gateway.accounts.models import Account, Membership, Role, User
from whatsapp_gateway.accounts.services import audit_record
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.lib.errors import PortalError
from whatsapp_gateway.message_templates.models import (
    Template,
    TemplateCategory,
    TemplateSource,
    TemplateStatus,
)
from whatsapp_gateway.message_templates.selectors import template_cache_key, template_local_forget
from whatsapp_gateway.message_templates.text import TemplateTextError, validate_body

logger = logging.getLogger(__name__)

# Our templates are sent as plain text, so they may be as long as a text message.
REVIEWED_BODY_MAX_CHARS = 4096


class TemplateError(PortalError):
    """A template write that is not allowed; ``message`` is shown to the customer or operator."""


def template_cache_invalidate(account_id: int) -> None:
    """Drop the account's match cache now and again after commit (a reader between the two would otherwise cache
    what the transaction is replacing)."""
    key = template_cache_key(account_id)
    template_local_forget(account_id)
    cache.delete(key)

    def after_commit() -> None:
        template_local_forget(account_id)
        cache.delete(key)

    transaction.on_commit(after_commit, robust=True)


def _check_text(*, body: str, category: str) -> str:
    if category not in (TemplateCategory.UTILITY, TemplateCategory.AUTHENTICATION):
        raise TemplateError("Only utility and authentication texts can be reviewed: marketing is never sent.")
    try:
        validate_body(body, max_chars=REVIEWED_BODY_MAX_CHARS)
    except TemplateTextError as exc:
        raise TemplateError(str(exc)) from exc
    return body.strip()


def _name_taken(*, account: Account, name: str, language: str, exclude_pk: int | None = None) -> bool:
    taken = Template.objects.filter(account=account, source=TemplateSource.REVIEWED, name=name, language=language)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    return taken.exists()


@transaction.atomic
def template_submit(
    *,
    account: Account,
    actor: User | None,
    name: str,
    language: str,
    category: str,
    body: str,
    use_case: str = "",
    from_message: str = "",
) -> Template:
    """Create a reviewed template waiting for an operator (``pending``). ``from_message`` is the public id of the
    blocked message it came from, kept in the audit entry."""
    body = _check_text(body=body, category=category)
    if _name_taken(account=account, name=name, language=language):
        raise TemplateError(f"You already have a template named {name} in {language}: edit that one instead.")
    at = now()
    template = Template.objects.create(
        account=account,
        source=TemplateSource.REVIEWED,
        name=name,
        language=language,
        category=category,
        status=TemplateStatus.PENDING,
        body=body,
        use_case=use_case.strip(),
        submitted_by=actor,
        submitted_at=at,
        created_at=at,
    )
    audit_record(
        account=account,
        action="template.submitted",
        actor=actor,
        target_type="template",
        target_id=template.public_id,
        metadata={"name": name, "language": language, "category": category, "from_message": from_message},
    )
    template_cache_invalidate(account.pk)
    return template


@transaction.atomic
def template_resubmit(
    *,
    template: Template,
    actor: User | None,
    name: str,
    language: str,
    category: str,
    body: str,
    use_case: str = "",
) -> Template:
    """Edit a reviewed template and send it for review again (``pending``). An approved template stops letting
    texts through until it is approved again."""
    template = Template.objects.select_for_update().get(pk=template.pk)
    if template.source != TemplateSource.REVIEWED:
        raise TemplateError("Templates synced from Meta are edited in Meta's WhatsApp Manager.")
    if template.status == TemplateStatus.DISABLED:
        raise TemplateError("This template was disabled by an operator and cannot be resubmitted.")
    body = _check_text(body=body, category=category)
    if _name_taken(account=template.account, name=name, language=language, exclude_pk=template.pk):
        raise TemplateError(f"You already have a template named {name} in {language}.")
    previous = {"status": template.status, "rejection_reason": template.rejection_reason}
    at = now()
    template.name, template.language, template.category = name, language, category
    template.body, template.use_case = body, use_case.strip()
    template.status = TemplateStatus.PENDING
    template.submitted_by, template.submitted_at = actor, at
    template.reviewed_by, template.reviewed_at = None, None
    template.save()
    audit_record(
        account=template.account,
        action="template.resubmitted",
        actor=actor,
        target_type="template",
        target_id=template.public_id,
        metadata={"name": name, "language": language, "category": category, "previous": previous},
    )
    template_cache_invalidate(template.account_id)
    return template


def _decide(template: Template, *, operator: User, status: str, reason: str, action: str) -> Template:
    template = Template.objects.select_for_update().select_related("account").get(pk=template.pk)
    if template.source != TemplateSource.REVIEWED:
        raise TemplateError("Templates synced from Meta are reviewed by Meta.")
    if template.status != TemplateStatus.PENDING and status != TemplateStatus.DISABLED:
        raise TemplateError(f"Only pending templates can be decided ({template.name} is {template.status}).")
    template.status = status
    template.rejection_reason = reason
    template.reviewed_by, template.reviewed_at = operator, now()
    template.save(update_fields=["status", "rejection_reason", "reviewed_by", "reviewed_at", "updated_at"])
    audit_record(
        account=template.account,
        action=action,
        actor=operator,
        target_type="template",
        target_id=template.public_id,
        metadata={"name": template.name, "language": template.language, "reason": reason},
    )
    template_cache_invalidate(template.account_id)
    template_id = template.pk
    transaction.on_commit(lambda: notify_decision(template_id=template_id), robust=True)
    return template


@transaction.atomic
def template_approve(*, template: Template, operator: User) -> Template:
    return _decide(template, operator=operator, status=TemplateStatus.APPROVED, reason="", action="template.approved")


@transaction.atomic
def template_reject(*, template: Template, operator: User, reason: str) -> Template:
    reason = reason.strip()
    if not reason:
        raise TemplateError("Say why the template is rejected: the customer sees the reason.")
    return _decide(
        template, operator=operator, status=TemplateStatus.REJECTED, reason=reason, action="template.rejected"
    )


@transaction.atomic
def template_disable(*, template: Template, operator: User, reason: str) -> Template:
    """Withdraw a reviewed template (e.g. an approved one being misused): it no longer lets texts through."""
    reason = reason.strip() or "Disabled by an operator."
    return _decide(
        template, operator=operator, status=TemplateStatus.DISABLED, reason=reason, action="template.disabled"
    )


def notify_decision(*, template_id: int) -> int:
    """Email the submitter and the account's owners the operator's decision. Returns emails sent."""
    template = Template.objects.select_related("account", "submitted_by").filter(pk=template_id).first()
    if template is None:
        return 0
    recipients = set(
        Membership.objects.filter(account=template.account, role=Role.OWNER, user__is_active=True).values_list(
            "user__email", flat=True
        )
    )
    if template.submitted_by is not None and template.submitted_by.is_active and template.submitted_by.email:
        if Membership.objects.filter(account=template.account, user=template.submitted_by).exists():
            recipients.add(template.submitted_by.email)
    if not recipients:
        return 0
    link = f"{settings.GATEWAY_BASE_URL}/templates"
    outcome = TemplateStatus(template.status).label.lower()
    body = f"Your template {template.name} ({template.language}) was {outcome}.\n\n"
    if template.status == TemplateStatus.APPROVED:
        body += (
            "Texts with the same fixed words now pass the content policy for your account, and you can send it by "
            "name with POST /api/send-message. Plan limits, suppression and bulk-sending rules still apply.\n"
        )
    else:
        body += f"Reason: {template.rejection_reason}\n\nYou can edit it and submit it again.\n"
    body += f"\n{link}\n"
    return send_mail(
        f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}Template {template.name} {outcome}",
        body,
        settings.DEFAULT_FROM_EMAIL,
        sorted(recipients),
        fail_silently=True,
    )
