"""Measuring the content policy on a labelled corpus (JSON Lines: text, language, label, note).

A text counts as blocked when the policy's decision is ``block`` (score >= 80), the decision the send API takes on
the text alone. Marketing precision and recall are about blocking; "legitimate passed" is the share of utility and
authentication texts that were not blocked (a ``review`` is sent, so it passes).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from whatsapp_gateway.messaging.guard.classifier import AUTHENTICATION, MARKETING, UTILITY
from whatsapp_gateway.messaging.guard.content import BLOCK, REVIEW, assess_text

CATEGORIES = (UTILITY, AUTHENTICATION, MARKETING)


def load_corpus(paths: list[Path]) -> list[dict]:
    rows: list[dict] = []
    for path in paths:
        files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
        for file in files:
            for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
                if not line.strip():
                    continue
                row = json.loads(line)
                if row.get("label") not in CATEGORIES or not isinstance(row.get("text"), str):
                    raise ValueError(f"{file}:{number}: needs a text and a label in {', '.join(CATEGORIES)}")
                rows.append(row)
    return rows


@dataclass
class LanguageFigures:
    marketing: int = 0
    marketing_blocked: int = 0
    legitimate: int = 0
    legitimate_blocked: int = 0
    legitimate_reviewed: int = 0

    @property
    def recall(self) -> float:
        return self.marketing_blocked / self.marketing if self.marketing else 1.0

    @property
    def precision(self) -> float:
        blocked = self.marketing_blocked + self.legitimate_blocked
        return self.marketing_blocked / blocked if blocked else 1.0

    @property
    def legitimate_passed(self) -> float:
        return 1 - self.legitimate_blocked / self.legitimate if self.legitimate else 1.0


@dataclass
class Evaluation:
    languages: dict[str, LanguageFigures] = field(default_factory=lambda: defaultdict(LanguageFigures))
    confusion: Counter = field(default_factory=Counter)  # (label, predicted category)
    blocked_without_reasons: int = 0
    missed: list[dict] = field(default_factory=list)
    wrongly_blocked: list[dict] = field(default_factory=list)

    @property
    def total(self) -> LanguageFigures:
        total = LanguageFigures()
        for figures in self.languages.values():
            for name in vars(total):
                setattr(total, name, getattr(total, name) + getattr(figures, name))
        return total


def evaluate(rows: list[dict]) -> Evaluation:
    result = Evaluation()
    for row in rows:
        assessment = assess_text(row["text"], row.get("purpose", ""))
        blocked = assessment.decision == BLOCK
        figures = result.languages[row.get("language", "?")]
        result.confusion[(row["label"], assessment.category)] += 1
        if blocked and not assessment.reasons:
            result.blocked_without_reasons += 1
        if row["label"] == MARKETING:
            figures.marketing += 1
            figures.marketing_blocked += blocked
            if not blocked:
                result.missed.append({**row, "score": assessment.score})
        else:
            figures.legitimate += 1
            figures.legitimate_blocked += blocked
            figures.legitimate_reviewed += assessment.decision == REVIEW
            if blocked:
                result.wrongly_blocked.append({**row, "score": assessment.score, "reasons": assessment.reasons})
    return result


def report(result: Evaluation) -> list[str]:
    lines = [
        f"{'language':<9}{'marketing':>10}{'blocked':>9}{'recall':>8}{'precision':>10}"
        f"{'legit':>7}{'passed':>8}{'pass %':>8}{'reviewed':>9}"
    ]

    def row(name: str, f: LanguageFigures) -> str:
        return (
            f"{name:<9}{f.marketing:>10}{f.marketing_blocked:>9}{f.recall:>8.1%}{f.precision:>10.1%}"
            f"{f.legitimate:>7}{f.legitimate - f.legitimate_blocked:>8}{f.legitimate_passed:>8.1%}"
            f"{f.legitimate_reviewed:>9}"
        )

    for language in sorted(result.languages):
        lines.append(row(language, result.languages[language]))
    lines.append(row("all", result.total))
    lines.append("")
    lines.append("confusion (rows: label, columns: predicted category)")
    lines.append(f"{'':<16}" + "".join(f"{c:>16}" for c in CATEGORIES))
    for label in CATEGORIES:
        lines.append(f"{label:<16}" + "".join(f"{result.confusion[(label, c)]:>16}" for c in CATEGORIES))
    lines.append("")
    lines.append(f"blocked without a reason: {result.blocked_without_reasons}")
    return lines
