"""The content classifier and the content policy's decisions, through their public functions and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from whatsapp_gateway.cli import main as cli_main
from whatsapp_gateway.messaging import policy
from whatsapp_gateway.messaging.guard import classifier
from whatsapp_gateway.messaging.guard.content import BLOCK, REVIEW, assess_text, decision_for, highlight_segments
from whatsapp_gateway.messaging.guard.evaluation import evaluate, load_corpus
from whatsapp_gateway.messaging.guard.signals import matcher
from whatsapp_gateway.messaging.guard.textfeatures import tokenize

DATA = Path(__file__).resolve().parent.parent / "data" / "guard"

# Floors on the validation split, which is never used for fitting or for choosing thresholds (docs/benchmarks.md
# has the figures). They sit just under what the shipped model measures, so a regression fails here.
VALIDATION_MARKETING_RECALL_FLOOR = 0.95
VALIDATION_LEGITIMATE_PASS_FLOOR = 0.99

# One clear promotion and one clear utility text per language (written for these tests, not in any corpus).
PROMOTIONS = {
    "en": "Mega weekend sale! Take 40% off all sneakers with code RUN40, today only. Shop now 👟",
    "ar": "عرض خاص لفترة محدودة! خصم ٤٠٪ على جميع الأحذية، تسوق الآن واستخدم كود RUN40",
    "es": "¡Gran rebaja de fin de semana! 40% de descuento en zapatillas con el código RUN40. ¡Compra ya!",
    "pt": "Promoção de fim de semana! 40% de desconto em tênis com o cupom RUN40. Aproveite, só hoje!",
    "fr": "Grosse promo ce week-end ! -40 % sur toutes les baskets avec le code RUN40. Profitez-en vite !",
    "de": "Großer Wochenend-Sale! 40 % Rabatt auf alle Sneaker mit dem Code RUN40. Jetzt zugreifen!",
    "tr": "Hafta sonu büyük indirim! Tüm spor ayakkabılarda %40 indirim, RUN40 kodunu kullan. Kaçırma!",
    "id": "Promo akhir pekan! Diskon 40% semua sepatu dengan kode RUN40. Belanja sekarang, hari ini saja!",
    "hi": "वीकेंड मेगा सेल! सभी जूतों पर 40% छूट, कोड RUN40 लगाएं। अभी खरीदें, सिर्फ आज!",
    "hi-latn": "Weekend mega sale! Sabhi shoes par 40% off, code RUN40 lagao. Abhi kharido, sirf aaj!",
}
UTILITY = {
    "en": "Hi Dana, your order #48213 has been delivered to your front door. Reply here if anything is missing.",
    "ar": "مرحباً دانة، تم توصيل طلبك رقم 48213. إذا كان هناك شيء ناقص رد على هذه الرسالة.",
    "es": "Hola Dana, tu pedido n.º 48213 fue entregado. Si falta algo, responde a este mensaje.",
    "pt": "Olá Dana, seu pedido nº 48213 foi entregue. Se faltar algo, responda esta mensagem.",
    "fr": "Bonjour Dana, votre commande n° 48213 a été livrée. Si quelque chose manque, répondez à ce message.",
    "de": "Hallo Dana, Ihre Bestellung Nr. 48213 wurde zugestellt. Falls etwas fehlt, antworten Sie hier.",
    "tr": "Merhaba Dana, 48213 numaralı siparişiniz teslim edildi. Eksik bir şey varsa bu mesaja yanıt verin.",
    "id": "Halo Dana, pesanan #48213 Anda sudah diterima. Jika ada yang kurang, balas pesan ini.",
    "hi": "नमस्ते दाना, आपका ऑर्डर #48213 डिलीवर हो गया है। कुछ कम हो तो इसी मैसेज का जवाब दें।",
    "hi-latn": "Namaste Dana, aapka order #48213 deliver ho gaya hai. Kuch missing ho to isi message pe reply karein.",
}


@pytest.mark.parametrize("language", sorted(PROMOTIONS))
def test_a_clear_promotion_is_blocked_with_quoted_reasons_in_every_language(language):
    assessment = assess_text(PROMOTIONS[language], "transactional")
    assert assessment.decision == BLOCK and assessment.category == classifier.MARKETING
    assert assessment.score >= policy.RISK_BLOCK_THRESHOLD
    assert assessment.reasons and all("'" in reason for reason in assessment.reasons[:2]), assessment.reasons
    assert assessment.highlights


@pytest.mark.parametrize("language", sorted(UTILITY))
def test_a_delivery_update_passes_in_every_language(language):
    assessment = assess_text(UTILITY[language], "transactional")
    assert assessment.decision != BLOCK and assessment.category == classifier.UTILITY, assessment.reasons


@pytest.mark.parametrize(
    "text",
    [
        "Thanks for your order #5521! Use code BACK15 for 15% off your next purchase.",
        "Tu pedido #8812 ya salió 📦 Y como agradecimiento, 20% de descuento en tu próxima compra con el código GRACIAS20.",
        "Seu código de verificação é 482913. Aproveite: indique um amigo e ganhe R$ 30 de bônus!",
    ],
)
def test_a_utility_message_that_carries_a_promotion_is_marketing(text):
    assert assess_text(text).decision == BLOCK


@pytest.mark.parametrize(
    "text",
    [
        "Hi Omar, your offer letter from Acme Logistics is attached. Please sign and return it by Friday.",
        "Free shipping was applied to your order #7731; it leaves our warehouse tomorrow.",
        "Sale order SO-20418 was confirmed by the warehouse and will be invoiced on delivery.",
        "As requested, the 10% discount was applied to invoice INV-2291. The new total is 450.00 EUR.",
        "Your trial ends on 12 March. To keep your data, export it from Settings before then.",
        "Your code is 482913. It expires in 10 minutes. Do not share it with anyone.",
    ],
)
def test_words_that_only_look_promotional_are_not_blocked(text):
    assert assess_text(text).decision != BLOCK


def test_one_time_codes_are_authentication():
    assert assess_text("482913 is your Acme login code. Never share it.").category == classifier.AUTHENTICATION
    assert assess_text("Tu código de verificación es 7731").category == classifier.AUTHENTICATION


def test_the_authentication_purpose_does_not_shield_a_promotion():
    assessment = assess_text("Flash sale! 40% off all shoes today only, shop now", "authentication")
    assert assessment.decision == BLOCK


def test_short_everyday_texts_pass():
    for text in ["Hello", "Test", "First", "Thanks!", "On my way", "Merci", "شكرا"]:
        assert assess_text(text).decision != BLOCK, text


def test_link_shorteners_add_points_and_are_quoted():
    plain = assess_text("Your parcel is on the way, track it at https://www.dhl.com/track?id=123")
    short = assess_text("Your parcel is on the way, track it at bit.ly/3xYz")
    assert short.score >= plain.score + policy.RISK_LINK_SHORTENER_POINTS - 5
    assert any(r.startswith("link: link shortener ('bit.ly/3xYz')") for r in short.reasons)


def test_score_bands_start_exactly_at_the_fitted_thresholds():
    m = classifier.model()
    assert classifier.score_for(m.block_probability, m) == policy.RISK_BLOCK_THRESHOLD
    assert classifier.score_for(m.review_probability, m) == policy.RISK_REVIEW_THRESHOLD
    assert classifier.score_for(0.0, m) == 0 and classifier.score_for(1.0, m) <= 99
    assert decision_for(79) == REVIEW and decision_for(80) == BLOCK and decision_for(49) == "allow"


def test_the_fast_score_equals_the_sum_over_every_feature():
    m = classifier.model()
    for text in [*PROMOTIONS.values(), *UTILITY.values()]:
        features = classifier.extract(text)
        full = m.bias + sum(m.weights.get(name, 0.0) * value for name, (value, _) in features.values.items())
        assert m.logit(text) == pytest.approx(full, abs=1e-9)


def test_the_verdict_is_deterministic():
    text = PROMOTIONS["fr"]
    assert assess_text(text) == assess_text(text)


def test_text_is_normalised_across_scripts_and_accents():
    kinds = [(t.norm, t.kind) for t in tokenize("ÇOK İNDİRİM %30 kod YAZ30 ١٢٣٤ ₹499 https://bit.ly/x")]
    assert ("cok", "word") in kinds and ("indirim", "word") in kinds
    assert ("<pct>", "pct") in kinds and ("<code>", "code") in kinds
    assert ("<num4>", "num4") in kinds and ("<money>", "money") in kinds and ("<shorturl>", "shorturl") in kinds


def test_arabic_signals_match_with_attached_prefixes():
    hits = {h.signal.id for h in matcher().find(tokenize("وبالخصومات الكبيرة اشتر الآن"))}
    assert {"discount_offer", "cta_buy"} <= hits


def test_highlight_segments_cover_the_text_once():
    text = "Use code BACK15 now"
    assert highlight_segments(text, [(4, 15), (9, 15)]) == [("Use ", False), ("code BACK15", True), (" now", False)]


def test_validation_split_floors_and_every_block_names_its_reasons():
    result = evaluate(load_corpus([DATA / "validation"]))
    total = result.total
    assert total.marketing >= 250 and total.legitimate >= 250
    assert result.blocked_without_reasons == 0
    assert total.recall >= VALIDATION_MARKETING_RECALL_FLOOR, total.recall
    assert total.legitimate_passed >= VALIDATION_LEGITIMATE_PASS_FLOOR, total.legitimate_passed


def test_the_corpora_are_well_formed_and_the_splits_do_not_overlap():
    dev = load_corpus([DATA / "dev"])
    validation = load_corpus([DATA / "validation"])
    assert len(dev) >= 1500
    languages = {"en", "ar", "es", "pt", "id", "hi", "fr", "tr", "de", "mixed"}
    assert {r["language"] for r in dev} == languages and {r["language"] for r in validation} == languages
    assert not {r["text"] for r in dev} & {r["text"] for r in validation}
    assert sum(bool(r.get("hard")) for r in dev) >= len(dev) / 3


def test_the_model_file_is_versioned_and_small():
    data = json.loads(classifier.MODEL_FILE.read_text(encoding="utf-8"))
    assert data["version"].startswith("guard-") and 0 < data["thresholds"]["review"] <= data["thresholds"]["block"]
    assert classifier.MODEL_FILE.stat().st_size < 3_000_000


def test_cli_check_prints_the_decision_as_json(capsys):
    cli_main(["guard", "check", PROMOTIONS["en"], "--purpose", "transactional", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert result["decision"] == "block" and result["category"] == "marketing" and result["reasons"]
    cli_main(["guard", "check", UTILITY["en"]])
    out = capsys.readouterr().out
    assert "decision:   allow" in out or "decision:   review" in out


def test_cli_eval_prints_precision_recall_per_language_and_the_confusion_matrix(capsys, tmp_path):
    corpus = tmp_path / "mini.jsonl"
    rows = [{"text": PROMOTIONS[k], "language": k, "label": "marketing"} for k in ("en", "es")]
    rows += [{"text": UTILITY[k], "language": k, "label": "utility"} for k in ("en", "es")]
    corpus.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    cli_main(["guard", "eval", str(corpus)])
    out = capsys.readouterr().out
    assert "recall" in out and "precision" in out and "confusion" in out
    assert out.count("100.0%") >= 3
