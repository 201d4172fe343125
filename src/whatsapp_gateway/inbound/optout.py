"""Opt-out keyword detection (docs/api.md "Opt-outs and suppression"): pure functions, no database.

A message is a keyword when its whole text, normalised, equals one keyword. Normalising means:

1. Unicode NFKC (full-width Latin letters become ASCII; Arabic presentation forms become the base letters;
   a decomposed alef + hamza-below becomes U+0625);
2. dropping invisible format characters (zero-width spaces and joiners, bidi marks such as U+200F that RTL
   keyboards insert, the BOM) and the Arabic tatweel U+0640 (a purely visual stretch of a word);
3. trimming, and collapsing every run of inner whitespace (spaces, tabs, newlines, no-break spaces) to one space,
   so ``الغاء   الاشتراك`` equals ``الغاء الاشتراك``;
4. case-folding (``Stop``, ``sToP`` and ``STOP`` are the same).

Nothing else is removed: punctuation and extra words make it an ordinary message (``stop please``, ``STOP!`` and
``don't stop`` are not opt-outs), because a false opt-out silences a customer who is still talking to you.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

OPT_OUT = "opt_out"
RESUBSCRIBE = "resubscribe"

# The built-in lists, exactly as docs/api.md "Opt-outs and suppression" names them.
ENGLISH_OPT_OUT_KEYWORDS: tuple[str, ...] = (
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "OPTOUT",
    "REVOKE",
)
ARABIC_OPT_OUT_KEYWORDS: tuple[str, ...] = ("ايقاف", "إيقاف", "توقف", "الغاء", "إلغاء", "الغاء الاشتراك")
RESUBSCRIBE_KEYWORDS: tuple[str, ...] = ("START", "UNSTOP")

_TATWEEL = "\u0640"
_WHITESPACE = re.compile(r"\s+")
MAX_KEYWORD_LENGTH = 60


def normalise(text: str) -> str:
    """The canonical form keyword matching compares (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text or "")
    text = "".join(ch for ch in text if ch != _TATWEEL and unicodedata.category(ch) != "Cf")
    return _WHITESPACE.sub(" ", text).strip().casefold()


BUILTIN_OPT_OUT: frozenset[str] = frozenset(normalise(k) for k in ENGLISH_OPT_OUT_KEYWORDS + ARABIC_OPT_OUT_KEYWORDS)
BUILTIN_RESUBSCRIBE: frozenset[str] = frozenset(normalise(k) for k in RESUBSCRIBE_KEYWORDS)


@dataclass(frozen=True)
class KeywordMatch:
    action: str  # OPT_OUT | RESUBSCRIBE
    keyword: str  # the normalised keyword that matched

    @property
    def is_arabic(self) -> bool:
        return any("\u0600" <= ch <= "\u06ff" for ch in self.keyword)


def opt_out_keywords(extra: Iterable[str] = ()) -> frozenset[str]:
    """The built-in opt-out keywords plus the account's own, all normalised."""
    return BUILTIN_OPT_OUT | frozenset(k for k in (normalise(x) for x in extra or ()) if k)


def detect_keyword(text: str, *, extra_opt_out: Iterable[str] = ()) -> KeywordMatch | None:
    """``KeywordMatch`` when ``text`` is exactly an opt-out or re-subscribe keyword, else ``None``.

    Opt-out wins: an account keyword that equals ``START`` makes ``START`` an opt-out for that account.
    """
    candidate = normalise(text)
    if not candidate or len(candidate) > MAX_KEYWORD_LENGTH:
        return None
    if candidate in opt_out_keywords(extra_opt_out):
        return KeywordMatch(action=OPT_OUT, keyword=candidate)
    if candidate in BUILTIN_RESUBSCRIBE:
        return KeywordMatch(action=RESUBSCRIBE, keyword=candidate)
    return None


def confirmation_text(*, business_name: str, arabic: bool) -> str:
    """The one reply an opted-out number gets (when the account keeps confirmations on)."""
    english = (
        f"You have been unsubscribed and will no longer receive messages from {business_name} on WhatsApp. "
        "Reply START to subscribe again."
    )
    if not arabic:
        return english
    return f"تم إلغاء اشتراكك ولن تصلك رسائل من {business_name} على واتساب. أرسل START لإعادة الاشتراك.\n\n{english}"
