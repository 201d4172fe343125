"""Turning a message text into the tokens and features the content classifier reads.

Everything here is plain Python and deterministic, and it is the one implementation both the fitting script
(``scripts/fit_guard_model.py``) and the running guard use, so a fitted model sees exactly the features it was
fitted on.

A text becomes a list of ``Token``: a normalised form (case-folded, Latin accents and Arabic diacritics removed,
Arabic letter variants unified, digits in any script made ASCII) with the span of the original text it came from, so
a reason can quote the customer's own words. Structure the classifier should see past the particular value is
replaced by a placeholder: ``<pct>`` (a percentage), ``<money>`` (an amount with a currency), ``<code>`` (a
coupon-like letters-and-digits code), ``<ref>`` (an order or invoice reference), ``<num4>`` (a 4 to 8 digit number,
a one-time code or an order number), ``<url>`` / ``<shorturl>`` (a link, a link shortener), ``<phone>``,
``<time>``, ``<date>``, ``<email>``. Emoji stay tokens of their own.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

from whatsapp_gateway.messaging.policy import LINK_SHORTENERS

_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_LATIN_MARKS = re.compile("[\u0300-\u036f]")
_FOLD = str.maketrans(
    {
        "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي", "ی": "ي", "ک": "ك",
        "٠": "0", "١": "1", "٢": "2", "٣": "3", "٤": "4", "٥": "5", "٦": "6", "٧": "7", "٨": "8", "٩": "9",
        "۰": "0", "۱": "1", "۲": "2", "۳": "3", "۴": "4", "۵": "5", "۶": "6", "۷": "7", "۸": "8", "۹": "9",
        "०": "0", "१": "1", "२": "2", "३": "3", "४": "4", "५": "5", "६": "6", "७": "7", "८": "8", "९": "9",
        "ı": "i", "ß": "ss", "’": "'", "‘": "'", "`": "'",
    }
)  # fmt: skip

# The pieces of a text, most specific first. Word characters include Devanagari and Arabic combining marks, which
# Python's \w leaves out (it would cut Hindi words at every vowel sign).
_W = r"[\w\u0900-\u0963\u0966-\u097f\u0610-\u061a\u064b-\u065f\u0670]"
# Devanagari vowel signs and Arabic diacritics: part of a word, though Python's \w leaves them out.
_MARK = r"[\u0900-\u0903\u093a-\u094f\u0951-\u0957\u0962\u0963\u0610-\u061a\u064b-\u065f\u0670]"
_CURRENCY = (
    r"(?:[$€£¥₹₺₽₦₱]|r\$|rs\.?|inr|usd|eur|gbp|sar|aed|kwd|qar|omr|bhd|egp|jod|mad|dzd|tnd|xof|xaf|fcfa|cfa|"
    r"mxn|brl|cop|ars|clp|pen|idr|rp\.?|try|tl|chf|sr|dhs?|kd|qr|"
    r"ريال|ر\.س|رس|درهم|د\.إ|دينار|جنيه|ليرة|रु\.?|रुपये|रुपए)"
)
_CURRENCY_WORD = (
    r"(?:euros?|dollars?|d[oó]lares|reais|real|pesos?|soles|rupees?|rupiah|lira|liras|francs?|dirhams?|riyals?|"
    r"dinars?|ريال|درهم|دينار|جنيه|ليرة|रुपये|रुपए|rupaye|rupay|rs)"
)
_NUMBER = r"\d[\d.,\u066b\u066c]*\d|\d"
# A plain run of letters comes first (most of any text, and no case folding needed for it); the rest is matched
# without regard to case. ``(?=\S)`` lets the engine skip whitespace without trying every alternative.
_PIECES = re.compile(
    rf"""
    (?=\S)
    (?P<plain>(?:[^\W\d_]|{_MARK})++(?![\w\u0900-\u0963\u0966-\u097f\u0610-\u061a\u064b-\u065f\u0670.@+\-:/#$]|\s?\d))
    |(?i:
    (?P<url>(?:https?://|www\.)[^\s<>"'）)]+|\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|ly|link|me|io|co|gl|gd|at|
        to|cc|id|in|br|mx|es|fr|de|tr|sa|ae|net|org|shop|store|app|info|site|online|page|xyz|club)/[^\s<>"']*)
    |(?P<email>[\w.+-]+@[\w-]+\.[\w.-]+)
    |(?P<pct>%\s?\d+(?:[.,]\d+)?|\d+(?:[.,]\d+)?\s?(?:%|٪|pct\b|percent\b|por\s?ciento\b|por\s?cento\b|pour\s?cent\b|
        prozent\b|persen\b|yüzde\b|प्रतिशत|फीसदी))
    |(?P<money>{_CURRENCY}\s?(?:{_NUMBER})(?:\s?(?:k|mil|bin|ribu|rb|jt|juta|lakh|लाख|ألف))?
        |(?:{_NUMBER})\s?(?:k\s?)?{_CURRENCY}(?!\w)
        |(?:{_NUMBER})\s?(?:mil\s|bin\s|ribu\s|juta\s|lakh\s|hazar\s)?{_CURRENCY_WORD}\b)
    |(?P<phone>\+\d[\d\s().-]{{7,}}\d|\b0\d{{2,3}}[\s-]\d{{3}}[\s-]?\d{{3,4}}\b)
    |(?P<time>\b\d{{1,2}}[:h]\d{{2}}\b(?:\s?[ap]\.?m\.?)?|\b\d{{1,2}}\s?[ap]\.?m\.?\b)
    |(?P<date>\b\d{{1,4}}[/.-]\d{{1,2}}(?:[/.-]\d{{2,4}})?\b)
    |(?P<word>(?:{_W}|[#-](?=\w))+)
    |(?P<emoji>[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u2300-\u23FF])
    |(?P<bang>[!¡]+)
    )
    """,
    re.VERBOSE,
)
_HAS_DIGIT = re.compile(r"\d")
_URL_SCHEME = re.compile(r"^(?:https?://)?(?:www\.)?")
_MULTIBUY = re.compile(r"\d[xX]\d")
_HAS_ALPHA = re.compile(r"[^\W\d_]")
_ARABIC = re.compile("[\u0600-\u06ff]")
_ARABIC_PREFIXES = ("وبال", "وال", "بال", "فال", "كال", "لل", "ال", "و", "ف", "ب", "ل")


class Token(NamedTuple):  # a tuple: thousands are built per second on the send path
    norm: str
    start: int
    end: int
    kind: str  # word, a placeholder kind (pct, money, code, ref, num4, num, url, ...), emoji or bang


def fold(text: str) -> str:
    """The comparable form of a word or phrase: NFKC, case-folded, without Latin accents or Arabic diacritics."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_FOLD)
    if not text.isascii():
        text = _LATIN_MARKS.sub("", unicodedata.normalize("NFD", text))
        text = unicodedata.normalize("NFC", _ARABIC_MARKS.sub("", text))
    return text


@lru_cache(maxsize=65536)
def arabic_stem(word: str) -> str:
    """The word without a leading conjunction, preposition or article (و ف ب ل ال), when enough is left."""
    if not _ARABIC.match(word):
        return word
    for prefix in _ARABIC_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 3:
            return word[len(prefix) :]
    return word


@lru_cache(maxsize=65536)
def _classify_word(raw: str) -> tuple[str, str]:
    """A word piece as (kind, normalised form): codes and numbers become placeholders."""
    has_digit = _HAS_DIGIT.search(raw) is not None
    if not has_digit:
        return "word", fold(raw.lstrip("#-"))
    core = raw.lstrip("#")
    if _MULTIBUY.fullmatch(core):
        return "word", core.lower()  # 2x1, 3x2: a multi-buy offer, not a reference
    if core.isdigit():
        n = len(core)
        if raw.startswith("#"):
            return "ref", "<ref>"
        if 4 <= n <= 8:
            return "num4", "<num4>"
        return ("num", "<num>") if n < 4 else ("longnum", "<longnum>")
    letters = sum(1 for c in core if c.isalpha())
    digits = sum(1 for c in core if c.isdigit())
    if raw.startswith("#") or "-" in core or digits > letters or (letters <= 3 and digits >= 3):
        return "ref", "<ref>"  # SO-12345, INV2024-77, AB123456: references name a thing that exists
    if letters >= 3 and core.upper() == core:
        return "code", "<code>"  # BACK15, RAMADAN25, DIWALI500: made to be typed at a checkout
    return "ref", "<ref>"


_PLAIN: dict[str, str] = {}  # a plain word -> its normalised form (words recur in every message)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    append = tokens.append
    plain = _PLAIN
    for match in _PIECES.finditer(text):
        kind = match.lastgroup
        if kind == "plain":
            raw = match.group()
            norm = plain.get(raw)
            if norm is None:
                norm = fold(raw)
                if len(plain) > 100_000:
                    plain.clear()
                plain[raw] = norm
            if norm:
                append(Token(norm, match.start(), match.end(), "word"))
            continue
        start, end = match.span()
        raw = match.group()
        if kind == "word":
            kind, norm = _classify_word(raw)
            if not norm:
                continue
        elif kind == "url":
            host = _URL_SCHEME.sub("", raw.lower()).split("/", 1)[0]
            kind = "shorturl" if host in LINK_SHORTENERS else "url"
            norm = f"<{kind}>"
        elif kind == "emoji":
            norm = raw
        elif kind == "bang":
            norm = "!"
        else:
            norm = f"<{kind}>"
        append(Token(norm, start, end, kind))
    return tokens


def _bucket(value: float, edges: tuple[float, ...]) -> int:
    for i, edge in enumerate(edges):
        if value < edge:
            return i
    return len(edges)


def shape_features(text: str, tokens: list[Token]) -> list[str]:
    """Language-independent structure: how loud, how long, what kinds of values and links it carries."""
    words = [t for t in tokens if t.kind == "word"]
    letters = "".join(filter(str.isalpha, text))
    upper = sum(map(str.isupper, letters)) / len(letters) if letters else 0.0
    emoji = sum(1 for t in tokens if t.kind == "emoji")
    bangs = sum(len(text[t.start : t.end]) for t in tokens if t.kind == "bang")
    kinds = {t.kind for t in tokens}
    out = [
        f"#len{_bucket(len(words), (4, 10, 25, 60))}",
        f"#upper{_bucket(upper, (0.15, 0.35, 0.6))}",
        f"#emoji{_bucket(emoji, (1, 2, 4))}",
        f"#bang{_bucket(bangs, (1, 2, 4))}",
    ]
    out.extend(f"#has:{kind}" for kind in sorted(kinds - {"word", "emoji", "bang"}))
    return out


def word_grams(tokens: list[Token]) -> list[tuple[str, int, int]]:
    """Word unigrams and bigrams (with the index range of the tokens they cover); Arabic words also by their stem."""
    out: list[tuple[str, int, int]] = []
    norms = [t.norm for t in tokens if t.kind != "bang"]
    index = [i for i, t in enumerate(tokens) if t.kind != "bang"]
    for j, norm in enumerate(norms):
        i = index[j]
        out.append(("w:" + norm, i, i))
        stem = arabic_stem(norm)
        if stem != norm:
            out.append(("w:" + stem, i, i))
        if j + 1 < len(norms):
            out.append(("b:" + norm + " " + norms[j + 1], i, index[j + 1]))
    return out


@lru_cache(maxsize=65536)
def word_char_grams(word: str) -> tuple[str, ...]:
    """Character 3 to 5-grams of one word, with word-boundary marks (cached: words repeat across messages)."""
    padded = "<" + word + ">"
    n_chars = len(padded)
    return tuple("c:" + padded[k : k + n] for n in (3, 4, 5) for k in range(n_chars - n + 1))


def char_grams(tokens: list[Token]) -> list[tuple[str, int]]:
    """Character n-grams inside each word: they carry morphology (Turkish suffixes, German compounds, Arabic
    prefixes, Hindi spelled two ways) to words the fitting data never had."""
    out: list[tuple[str, int]] = []
    for i, token in enumerate(tokens):
        if token.kind == "word" and len(token.norm) >= 2:
            out.extend((gram, i) for gram in word_char_grams(token.norm))
    return out
