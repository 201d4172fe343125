"""The content policy's judgement of one text: the classifier's verdict plus the rules that read the text alone.

Used by the send guard (with the bulk-sending rules added in ``risk.py``), by the message checker page, by
``whatsapp-gateway guard check`` and by the 3CX template form, so all of them say the same thing about a text.
No database and no Django here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from whatsapp_gateway.messaging import policy
from whatsapp_gateway.messaging.guard.classifier import AUTHENTICATION, MARKETING, Verdict, classify

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)

ALLOW = "allow"
REVIEW = "review"
BLOCK = "block"


@dataclass(frozen=True)
class ContentAssessment:
    verdict: Verdict
    score: int  # 0–100, before the bulk-sending rules
    reasons: list[str] = field(default_factory=list)
    highlights: list[tuple[int, int]] = field(default_factory=list)

    @property
    def category(self) -> str:
        return self.verdict.category

    @property
    def decision(self) -> str:
        return decision_for(self.score)


def decision_for(score: int) -> str:
    if score >= policy.RISK_BLOCK_THRESHOLD:
        return BLOCK
    if score >= policy.RISK_REVIEW_THRESHOLD:
        return REVIEW
    return ALLOW


def assess_text(text: str, purpose: str = "") -> ContentAssessment:
    """Classify ``text`` and add the text-only rules (link shorteners, many links). ``purpose`` does not shield a
    text: a promotion declared ``transactional`` or ``authentication`` is judged on its words like any other."""
    verdict = classify(text)
    score = verdict.score
    reasons = list(verdict.reasons)
    highlights = list(verdict.highlights)
    short = [t for t in verdict.tokens if t.kind == "shorturl"]
    if short:
        score += policy.RISK_LINK_SHORTENER_POINTS
        quoted = ", ".join(f"'{text[t.start : t.end][:40]}'" for t in short[:2])
        reasons.append(f"link: link shortener ({quoted}) +{policy.RISK_LINK_SHORTENER_POINTS}")
        highlights.extend((t.start, t.end) for t in short)
    links = len(_URL.findall(text))
    if links >= policy.RISK_MANY_LINKS_THRESHOLD:
        score += policy.RISK_MANY_LINKS_POINTS
        reasons.append(f"link: {links} links in one message +{policy.RISK_MANY_LINKS_POINTS}")
    if verdict.score < policy.RISK_REVIEW_THRESHOLD:
        # Links alone make a text doubtful, never blocked: carriers send short tracking links too.
        score = min(score, policy.RISK_BLOCK_THRESHOLD - 1)
    if purpose == "authentication" and verdict.category not in {AUTHENTICATION, MARKETING}:
        reasons.append("purpose: declared authentication, but the text is not a one-time code or security check")
    return ContentAssessment(verdict=verdict, score=min(score, 100), reasons=reasons, highlights=sorted(highlights))


def warm_up() -> None:
    """Load the classifier's model and signals and judge one text, so a web worker does it before its first request
    (``wsgi.py``): left to the first sends, the loading ran on several threads at once while they held the GIL, and
    every request of a new worker waited 0.5-0.8 s for it."""
    assess_text("Your order 1042 has shipped. Reply here if you have any question.", "transactional")


def highlight_segments(text: str, spans: list[tuple[int, int]]) -> list[tuple[str, bool]]:
    """The text cut into (piece, highlighted) runs, for pages that mark the words behind a verdict."""
    segments: list[tuple[str, bool]] = []
    position = 0
    for start, end in sorted(spans):
        if start < position:
            start = position
        if start >= end:
            continue
        if start > position:
            segments.append((text[position:start], False))
        segments.append((text[start:end], True))
        position = end
    if position < len(text):
        segments.append((text[position:], False))
    return segments
