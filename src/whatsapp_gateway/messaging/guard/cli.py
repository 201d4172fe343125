"""``whatsapp-gateway guard check "TEXT"`` and ``whatsapp-gateway guard eval FILE.jsonl``: the content policy from a
terminal, without a database (nothing is sent or counted)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from whatsapp_gateway.messaging import policy
from whatsapp_gateway.messaging.guard.classifier import model
from whatsapp_gateway.messaging.guard.content import BLOCK, assess_text
from whatsapp_gateway.messaging.guard.evaluation import evaluate, load_corpus, report


def cmd_check(args: argparse.Namespace) -> int:
    text = args.text if args.text != "-" else sys.stdin.read()
    purpose = (args.purpose or "").strip().lower()
    if purpose and purpose not in policy.ALLOWED_PURPOSES:
        decision, reasons = BLOCK, [f"purpose: '{purpose}' is not an allowed purpose"]
        assessment = assess_text(text, purpose)
    else:
        assessment = assess_text(text, purpose)
        decision, reasons = assessment.decision, assessment.reasons
    result = {
        "category": assessment.category,
        "confidence": assessment.verdict.confidence,
        "risk_score": assessment.score,
        "decision": decision,
        "reasons": reasons,
        "model": assessment.verdict.model_version,
    }
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"category:   {result['category']} (confidence {result['confidence']:.0%})")
        print(f"risk score: {result['risk_score']}")
        print(f"decision:   {decision}")
        for reason in reasons:
            print(f"  - {reason}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    rows = load_corpus([Path(p) for p in args.files])
    result = evaluate(rows)
    print(f"model {model().version}, {len(rows)} texts")
    for line in report(result):
        print(line)
    if args.show_errors:
        for row in result.missed:
            print(f"missed  [{row.get('language')}] {row['score']:>3}  {row['text'][:140]!r}")
        for row in result.wrongly_blocked:
            print(f"blocked [{row.get('language')}] {row['score']:>3}  {row['text'][:140]!r}  {row['reasons'][:2]}")
    return 0


def add_parser(sub) -> None:
    guard = sub.add_parser("guard", help="the content policy: check a text, evaluate a labelled corpus")
    commands = guard.add_subparsers(dest="guard_command", required=True)
    p = commands.add_parser("check", help="classify one text: category, risk score, decision and reasons")
    p.add_argument("text", help="the message text ('-' reads it from standard input)")
    p.add_argument("--purpose", default="", help="the message_purpose the sender would declare")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_check)
    p = commands.add_parser("eval", help="precision and recall per language on labelled JSON Lines files")
    p.add_argument("files", nargs="+", help="JSONL files or folders of them (text, language, label)")
    p.add_argument("--show-errors", action="store_true", help="list the texts it got wrong")
    p.set_defaults(func=cmd_eval)
