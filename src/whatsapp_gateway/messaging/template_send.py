"""Sending by template name, and the Cloud API's 24-hour window, as extra checks around the guard's own.

``POST /api/send-message`` takes ``template: {"name", "language", "variables"}`` instead of ``message``. The
template is chosen once the instance is known: a Meta template synced for that Cloud API instance goes out as a
WhatsApp template (``type: "template"``); one reviewed by our operators goes out as its rendered text on any
provider. Only approved utility and authentication templates are sent. A free-form text (a reviewed template is
one too) to a Cloud API recipient who has not written in 24 hours is refused at once: Meta would fail it later.

``send_checks(request)`` returns the guard's check lists with these checks in place; each check returns a
``lib.errors`` block or ``None``, like the guard's.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from whatsapp_gateway.contacts.models import Conversation
from whatsapp_gateway.lib import errors
from whatsapp_gateway.message_templates.models import Template, TemplateCategory, TemplateSource, TemplateStatus
from whatsapp_gateway.message_templates.selectors import template_find_for_send
from whatsapp_gateway.message_templates.text import TemplateTextError, render, variable_count
from whatsapp_gateway.messaging import policy
from whatsapp_gateway.messaging.guard import checks as guard_checks
from whatsapp_gateway.messaging.guard.checks import Check, check_fields, check_instance, check_suppression
from whatsapp_gateway.messaging.guard.content import BLOCK, assess_text
from whatsapp_gateway.messaging.guard.context import GuardContext, text_fingerprint
from whatsapp_gateway.messaging.guard.risk import history_rules, risk_assess

CLOUD = "cloud"
WINDOW = dt.timedelta(hours=24)
WINDOW_HINT = (
    "Outside the 24-hour customer-service window WhatsApp delivers only templates approved by Meta: send one with "
    '"template": {"name": ..., "language": ..., "variables": [...]} instead of "message" (see /templates).'
)
MARKETING_REASON = "template_category_marketing"
# Meta refuses parameters with new lines, tabs or more than four spaces in a row (error 132018).
_META_PARAM_FORBIDDEN = re.compile(r"[\n\t]| {5,}")


@dataclass
class TemplateRequest:
    """The ``template`` field of one send, as given and as resolved by the checks."""

    raw: Any
    name: str = ""
    language: str = ""
    variables: list[str] = field(default_factory=list)
    candidates: list[Template] = field(default_factory=list)
    chosen: Template | None = None

    @property
    def is_meta(self) -> bool:
        return self.chosen is not None and self.chosen.source == TemplateSource.META


def _invalid(message: str, **details: Any) -> errors.GatewayError:
    return errors.ValidationFailed(message, details={"field": "template", **details})


def _parse(ctx: GuardContext, req: TemplateRequest) -> errors.GatewayError | None:
    raw = req.raw
    if ctx.raw_text is not None:
        return errors.ValidationFailed("Send either message or template, not both.", details={"field": "message"})
    if not isinstance(raw, dict):
        return _invalid('template must be an object: {"name": ..., "language": ..., "variables": [...]}.')
    name, language, variables = raw.get("name"), raw.get("language"), raw.get("variables", [])
    if not isinstance(name, str) or not name.strip() or len(name) > 512:
        return _invalid("template.name is required: the template's name as shown on /templates.")
    if not isinstance(language, str) or not language.strip() or len(language) > 15:
        return _invalid("template.language is required, e.g. en, ar or pt_BR.")
    if not isinstance(variables, list) or len(variables) > 50:
        return _invalid("template.variables must be a list of texts, one per {{n}} in order.")
    if any(not isinstance(v, str | int | float) or isinstance(v, bool) for v in variables):
        return _invalid("template.variables must be texts or numbers.")
    req.name, req.language = name.strip(), language.strip()
    req.variables = [str(v).strip() for v in variables]
    req.candidates = template_find_for_send(account=ctx.account, name=req.name, language=req.language)
    if not req.candidates:
        return _invalid(f"You have no template named {req.name} in {req.language} (see /templates).")
    return None


def _choose(ctx: GuardContext, req: TemplateRequest) -> Template | errors.GatewayError:
    instance = ctx.instance
    meta = [t for t in req.candidates if t.source == TemplateSource.META]
    if instance.provider == CLOUD:
        mine = [t for t in meta if t.instance_id == instance.pk]
        if mine:
            return mine[0]
    reviewed = [t for t in req.candidates if t.source == TemplateSource.REVIEWED]
    if reviewed:
        return reviewed[0]
    owner = meta[0].instance
    if instance.provider != CLOUD:
        return _invalid(
            f"{req.name} is a Meta template: it can be sent only from a WhatsApp Cloud API instance "
            f"({owner.name}), and {instance.name} uses {instance.provider}."
        )
    return _invalid(f"{req.name} is a Meta template of the Cloud API instance {owner.name}; send it from there.")


def _needs_other_parameters(components: Any) -> bool:
    """Whether a Meta template has parameters outside its body: variables in a text header or a button URL, or
    a media header (its image, video or document is a parameter too)."""
    for component in components if isinstance(components, list) else []:
        if not isinstance(component, dict):
            continue
        kind = str(component.get("type", "")).upper()
        if kind == "HEADER" and (
            str(component.get("format", "TEXT")).upper() != "TEXT" or "{{" in str(component.get("text", ""))
        ):
            return True
        if kind == "BUTTONS" and "{{" in str(component.get("buttons", "")):
            return True
    return False


def _resolve(ctx: GuardContext, req: TemplateRequest) -> errors.GatewayError | None:
    chosen = _choose(ctx, req)
    if isinstance(chosen, errors.GatewayError):
        return chosen
    if chosen.category == TemplateCategory.MARKETING:
        return errors.PolicyViolation(
            f"{chosen.name} is a marketing template: the gateway sends only utility and authentication messages.",
            details={"action": "block", "risk_score": 100, "reasons": [MARKETING_REASON], "category": "marketing"},
        )
    if chosen.status != TemplateStatus.APPROVED:
        return _invalid(
            f"{chosen.name} ({chosen.language}) is {chosen.get_status_display().lower()}: only approved templates "
            "are sent.",
            status=chosen.status,
        )
    if chosen.source == TemplateSource.META and _needs_other_parameters(chosen.components):
        return _invalid(
            f"{chosen.name} has variables in its header or buttons, which the gateway does not fill yet; "
            "use a template whose variables are all in the body."
        )
    expected = variable_count(chosen.body)
    if len(req.variables) != expected:
        return _invalid(
            f"{chosen.name} takes {expected} variable(s); {len(req.variables)} given.",
            expected=expected,
            given=len(req.variables),
        )
    if chosen.source == TemplateSource.META and any(_META_PARAM_FORBIDDEN.search(v) for v in req.variables):
        return _invalid("Variables of a Meta template may not contain new lines, tabs or more than four spaces.")
    try:
        text = render(chosen.body, req.variables)
    except TemplateTextError as exc:
        return _invalid(str(exc))
    if not text:
        return _invalid(f"{chosen.name} has no body text the gateway can send.")
    if len(text) > policy.MESSAGE_MAX_CHARS:
        return _invalid(f"The rendered text is longer than {policy.MESSAGE_MAX_CHARS} characters.")
    req.chosen = chosen
    ctx.text, ctx.text_hash = text, text_fingerprint(text)
    return None


def window_is_open(ctx: GuardContext) -> bool:
    """Whether the recipient wrote to this instance in the last 24 hours (the Cloud API's service window)."""
    since = ctx.now - WINDOW
    return Conversation.objects.filter(
        instance=ctx.instance, contact__phone_e164=ctx.phone_e164, last_inbound_at__gte=since
    ).exists()


def send_risk_assess(ctx: GuardContext, req: TemplateRequest | None) -> None:
    """The risk score of a send. A send by the name of an approved template skips the content rules (its text was
    reviewed, by our operators or by Meta); the bulk signals over the last 24 hours still count."""
    if req is None or req.chosen is None:
        risk_assess(ctx)
        return
    ctx.category = req.chosen.category
    score, reasons = 0, []
    variables = " ".join(str(v) for v in req.variables).strip()
    if variables:
        # The template was reviewed; what fills its variables was not.
        filled = assess_text(variables)
        if filled.decision == BLOCK:
            score, reasons = filled.score, [f"template variables: {r}" for r in filled.reasons]
            ctx.category = filled.category
    more, more_reasons = history_rules(ctx)
    ctx.risk_score = min(score + more, 100)
    ctx.reasons = [*ctx.reasons, *reasons, *more_reasons]


def send_checks(req: TemplateRequest | None) -> tuple[list[Check], list[Check]]:
    """The guard's field checks and record checks (``guard.FIELD_CHECKS``, ``guard.RECORD_CHECKS``) with the
    template checks (when ``req``) and the window check in place."""

    def check_template_fields(ctx: GuardContext) -> errors.GatewayError | None:
        block = _parse(ctx, req)
        if block is None:
            # check_fields reads the text; until the instance picks the template, any candidate's body stands in.
            ctx.raw_text = req.candidates[0].body or req.name
        return block

    def check_template(ctx: GuardContext) -> errors.GatewayError | None:
        return _resolve(ctx, req)

    def check_conversation_window(ctx: GuardContext) -> errors.GatewayError | None:
        if ctx.instance.provider != CLOUD or (req is not None and req.is_meta) or ctx.source == "opt_out_confirmation":
            return None
        if window_is_open(ctx):
            return None
        return errors.ConversationWindowClosed(
            "The recipient has not written to this number in the last 24 hours, so WhatsApp would not deliver a "
            "free-form text. " + WINDOW_HINT,
            details={"hint": WINDOW_HINT},
        )

    def place(base: list[Check]) -> list[Check]:
        checks: list[Check] = []
        for check in base:
            if check is check_fields and req is not None:
                checks.append(check_template_fields)
            checks.append(check)
            if check is check_instance and req is not None:
                checks.append(check_template)
            if check is check_suppression:
                checks.append(check_conversation_window)
        return checks

    return place(guard_checks.FIELD_CHECKS), place(guard_checks.RECORD_CHECKS)
