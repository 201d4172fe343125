"""The message checker (``/message-checker``): the content policy's verdict on a pasted text, with the words behind
it highlighted. Nothing is sent, logged as a message or counted toward a limit."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from whatsapp_gateway.accounts.decorators import portal_view
from whatsapp_gateway.messaging import policy
from whatsapp_gateway.messaging.guard.content import BLOCK, assess_text, decision_for, highlight_segments
from whatsapp_gateway.messaging.guard.risk import approved_template_for


class CheckerForm(forms.Form):
    text = forms.CharField(
        label="Message text",
        max_length=policy.MESSAGE_MAX_CHARS,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 6, "data-testid": "checker-text"}),
    )
    purpose = forms.ChoiceField(
        label="Purpose",
        choices=[(p, p) for p in policy.ALLOWED_PURPOSES],
        initial="transactional",
        widget=forms.Select(attrs={"data-testid": "checker-purpose"}),
    )


@portal_view()
@require_http_methods(["GET", "POST"])
def checker_view(request: HttpRequest) -> HttpResponse:
    # A POST only because texts do not belong in URLs (history, logs); it changes nothing.
    form = CheckerForm(request.POST or None)
    result = None
    if request.method == "POST" and form.is_valid():
        text, purpose = form.cleaned_data["text"], form.cleaned_data["purpose"]
        assessment = assess_text(text, purpose)
        template = approved_template_for(request.account.pk, text)
        score = 0 if template is not None else assessment.score
        result = {
            "assessment": assessment,
            "score": score,
            "decision": decision_for(score),
            "confidence_pct": round(assessment.verdict.confidence * 100),
            "template": template,
            "segments": highlight_segments(text, assessment.highlights) if template is None else [(text, False)],
            "text": text,
        }
    return render(
        request,
        "messaging/checker.html",
        {"active_nav": "checker", "form": form, "result": result, "block": BLOCK, "policy": policy},
        status=400 if request.method == "POST" and not form.is_valid() else 200,
    )
