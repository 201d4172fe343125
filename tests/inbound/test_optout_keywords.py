"""Opt-out keyword detection (docs/api.md "Opt-outs and suppression"): exact match after normalising, English and Arabic lists."""

from __future__ import annotations

import pytest

from whatsapp_gateway.inbound.optout import (
    ARABIC_OPT_OUT_KEYWORDS,
    ENGLISH_OPT_OUT_KEYWORDS,
    OPT_OUT,
    RESUBSCRIBE,
    confirmation_text,
    detect_keyword,
    normalise,
)


def test_the_lists_are_exactly_the_contract_keywords():
    assert ENGLISH_OPT_OUT_KEYWORDS == (
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "OPTOUT",
        "REVOKE",
    )
    assert ARABIC_OPT_OUT_KEYWORDS == ("ايقاف", "إيقاف", "توقف", "الغاء", "إلغاء", "الغاء الاشتراك")


@pytest.mark.parametrize("keyword", ENGLISH_OPT_OUT_KEYWORDS)
@pytest.mark.parametrize(
    "variant",
    [
        lambda k: k,
        lambda k: k.lower(),
        lambda k: k.capitalize(),
        lambda k: "".join(c.lower() if i % 2 else c for i, c in enumerate(k)),
        lambda k: f"  {k}  ",
        lambda k: f"\n{k.lower()}\t",
        lambda k: f"\u00a0{k}\u00a0",  # no-break spaces
        lambda k: f"\u200f{k}\u200b",  # bidi mark and zero-width space from RTL keyboards
    ],
    ids=["upper", "lower", "capitalised", "mixed", "spaces", "newline-tab", "nbsp", "invisible"],
)
def test_every_english_keyword_opts_out_in_any_case_and_spacing(keyword, variant):
    match = detect_keyword(variant(keyword))
    assert match is not None and match.action == OPT_OUT
    assert match.keyword == keyword.casefold()


@pytest.mark.parametrize("keyword", ARABIC_OPT_OUT_KEYWORDS)
def test_every_arabic_keyword_opts_out(keyword):
    for text in (keyword, f"  {keyword} ", f"\u200f{keyword}\u200f"):
        match = detect_keyword(text)
        assert match is not None and match.action == OPT_OUT and match.is_arabic


def test_inner_whitespace_of_the_arabic_phrase_is_collapsed():
    assert detect_keyword("الغاء   الاشتراك").action == OPT_OUT
    assert detect_keyword("الغاء\u00a0الاشتراك").action == OPT_OUT
    assert detect_keyword("الغاء\nالاشتراك").action == OPT_OUT


def test_tatweel_and_presentation_forms_are_normalised():
    assert detect_keyword("ايقـــاف").action == OPT_OUT  # tatweel stretch
    assert detect_keyword("ＳＴＯＰ").action == OPT_OUT  # full-width letters (NFKC)
    assert detect_keyword("\u0627\u0655\u064a\u0642\u0627\u0641").action == OPT_OUT  # decomposed hamza below


@pytest.mark.parametrize(
    "text",
    [
        "stop please",
        "please stop",
        "STOP!",
        "stop.",
        "don't stop",
        "stopp",
        "S T O P",
        "unsubscribe me",
        "ايقاف الرسائل",
        "الغاءالاشتراك",
        "cancel my order",
        "the end",
        "",
        "   ",
        "Hello",
        "start please",
    ],
)
def test_other_texts_are_not_keywords(text):
    assert detect_keyword(text) is None


@pytest.mark.parametrize("text", ["START", "start", " Start ", "UNSTOP", "unstop"])
def test_start_and_unstop_resubscribe(text):
    match = detect_keyword(text)
    assert match is not None and match.action == RESUBSCRIBE


def test_account_keywords_are_added_and_normalised_the_same_way():
    extra = ["Basta", "  NO MORE  ", "لا أريد"]
    assert detect_keyword("basta", extra_opt_out=extra).action == OPT_OUT
    assert detect_keyword("no   more", extra_opt_out=extra).keyword == "no more"
    assert detect_keyword("لا أريد", extra_opt_out=extra).action == OPT_OUT
    assert detect_keyword("basta", extra_opt_out=[]) is None
    assert detect_keyword("basta ya", extra_opt_out=extra) is None


def test_an_account_keyword_equal_to_start_makes_it_an_opt_out():
    assert detect_keyword("start", extra_opt_out=["start"]).action == OPT_OUT


def test_normalise_is_idempotent():
    for text in ("  Stop ", "الغاء  الاشتراك", "ＳＴＯＰ"):
        assert normalise(normalise(text)) == normalise(text)


def test_confirmation_says_how_to_resubscribe_in_the_customers_language():
    english = confirmation_text(business_name="Alice Co", arabic=False)
    assert "Alice Co" in english and "START" in english
    arabic = confirmation_text(business_name="Alice Co", arabic=True)
    assert "أرسل START" in arabic and english in arabic
