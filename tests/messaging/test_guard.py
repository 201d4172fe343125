"""The guard pipeline through send_message: order, suppression exceptions, plan limits, velocity, warm-up, risk."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from tests.factories import make_instance, record_usage
from whatsapp_gateway.contacts.models import Contact, Conversation
from whatsapp_gateway.lib import errors
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.messaging import policy
from whatsapp_gateway.messaging.guard import classifier, content, risk
from whatsapp_gateway.messaging.models import AccountDailyUsage, DailyUsage, Message, PolicyEvent
from whatsapp_gateway.messaging.services import send_message
from whatsapp_gateway.suppression.models import Suppression

pytestmark = pytest.mark.django_db

PHONE = "+966501234567"


def send(
    account, instance="support-line", phone=PHONE, text="Your order #1042 has shipped.", purpose="transactional", **kw
):
    kw.setdefault("source", "api")
    return send_message(account=account, instance_ref=instance, phone=phone, text=text, purpose=purpose, **kw)


def blocked_code(account, **kw):
    with pytest.raises(errors.GatewayError) as info:
        send(account, **kw)
    return info.value


def suppress(account, phone=PHONE, *, reason="opted_out", source="keyword", created_at=None):
    row = Suppression.objects.create(account=account, phone_e164=phone, reason=reason, source=source, keyword="STOP")
    if created_at is not None:
        Suppression.objects.filter(pk=row.pk).update(created_at=created_at)
    return row


# --- order ---------------------------------------------------------------------------------------------------------


def test_checks_run_in_contract_order(owner_alice, alice_fake_instance):
    account = owner_alice.account
    account.is_paused = True
    account.enabled_modules = []
    account.save()
    alice_fake_instance.state = "disconnected"
    alice_fake_instance.save()
    suppress(account)
    broken = {"phone": "1", "purpose": "", "instance": "nope"}

    def save(obj, **fields):
        for name, value in fields.items():
            setattr(obj, name, value)
        obj.save()

    # Everything is wrong at once; fixing each problem reveals the next code, in the contract's order.
    steps = [
        ("validation_error", lambda: broken.pop("phone")),
        ("message_purpose_required", lambda: broken.update(purpose="marketing")),
        ("message_purpose_not_allowed", lambda: broken.pop("purpose")),
        ("invalid_instance", lambda: broken.pop("instance")),
        ("module_not_enabled", lambda: save(account, enabled_modules=["api_send"])),
        ("account_paused", lambda: save(account, is_paused=False)),
        ("instance_not_connected", lambda: save(alice_fake_instance, state="connected")),
        ("recipient_suppressed", lambda: Suppression.objects.all().delete()),
    ]
    for code, fix in steps:
        assert blocked_code(account, **broken).code == code
        fix()
    assert send(account).status == "queued"


def test_limits_come_before_velocity_and_velocity_before_risk(owner_alice, alice_fake_instance):
    account = owner_alice.account
    spam = "HUGE SALE! 50% off, limited time offer, buy now: bit.ly/x"
    record_usage(
        account=account,
        instance=alice_fake_instance,
        day=now().astimezone(dt.UTC).date(),
        count=account.plan.daily_limit,
    )
    account.timezone = "UTC"
    account.save()
    assert blocked_code(account, text=spam).code == "daily_limit_reached"
    DailyUsage.objects.all().delete()
    AccountDailyUsage.objects.all().delete()
    for i in range(policy.RECIPIENT_PER_10_MINUTES):
        send(account, text=f"Update {i}")
    assert blocked_code(account, text=spam).code == "sending_throttled"
    assert blocked_code(account, text=spam, phone="+966501234599").code == "policy_violation"


# --- suppression -----------------------------------------------------------------------------------------------------


def test_it_rejects_suppressed_recipient(owner_alice, alice_fake_instance):
    suppress(owner_alice.account)
    exc = blocked_code(owner_alice.account)
    assert (exc.code, exc.status) == ("recipient_suppressed", 403)
    assert Message.objects.get().block_code == "recipient_suppressed"


def test_authentication_may_reach_a_keyword_opt_out(owner_alice, alice_fake_instance):
    suppress(owner_alice.account)
    assert send(owner_alice.account, purpose="authentication", text="Your code is 482913").status == "queued"


def test_authentication_never_reaches_a_blocked_number(owner_alice, alice_fake_instance):
    suppress(owner_alice.account, reason="blocked", source="manual")
    assert blocked_code(owner_alice.account, purpose="authentication").code == "recipient_suppressed"


def test_the_account_can_turn_the_authentication_exception_off(owner_alice, alice_fake_instance):
    owner_alice.account.allow_authentication_to_opted_out = False
    owner_alice.account.save()
    suppress(owner_alice.account)
    assert blocked_code(owner_alice.account, purpose="authentication").code == "recipient_suppressed"


def test_one_opt_out_confirmation_may_follow_a_fresh_keyword_opt_out(owner_alice, alice_fake_instance):
    suppress(owner_alice.account)
    text = "You will get no more messages. Reply START to subscribe again."
    assert send(owner_alice.account, source="opt_out_confirmation", purpose="operational", text=text).status == "queued"
    exc = blocked_code(owner_alice.account, source="opt_out_confirmation", purpose="operational", text=text + " (2)")
    assert exc.code == "recipient_suppressed"


def test_an_old_opt_out_gets_no_confirmation(owner_alice, alice_fake_instance):
    suppress(owner_alice.account, created_at=now() - dt.timedelta(minutes=6))
    exc = blocked_code(owner_alice.account, source="opt_out_confirmation", purpose="operational")
    assert exc.code == "recipient_suppressed"


def test_suppression_matches_aliases_of_the_contact(owner_alice, alice_fake_instance):
    contact = Contact.objects.create(account=owner_alice.account, phone_e164=PHONE)
    contact.identities.create(account=owner_alice.account, wa_id="1234567@lid")
    suppress(owner_alice.account, phone="1234567@lid")
    assert blocked_code(owner_alice.account).code == "recipient_suppressed"


# --- plan limits -----------------------------------------------------------------------------------------------------


def test_daily_limit_counts_in_the_account_timezone(owner_alice, alice_fake_instance):
    account = owner_alice.account
    account.timezone = "Asia/Riyadh"  # UTC+3
    account.save()
    # 22:30 UTC on the 1st is 01:30 on the 2nd in Riyadh: yesterday's (local) usage does not count.
    with time_machine.travel(dt.datetime(2026, 3, 1, 22, 30, tzinfo=dt.UTC), tick=False):
        record_usage(account=account, instance=alice_fake_instance, day=dt.date(2026, 3, 1), count=100000)
        record_usage(
            account=account, instance=alice_fake_instance, day=dt.date(2026, 3, 2), count=account.plan.daily_limit
        )
        exc = blocked_code(account)
    assert exc.code == "daily_limit_reached" and exc.status == 429
    assert exc.details == {"limit": account.plan.daily_limit, "used": account.plan.daily_limit}
    # Next local midnight is 21:00 UTC on the 2nd.
    assert exc.headers["Retry-After"] == str(int(dt.timedelta(hours=22, minutes=30).total_seconds()))


def test_monthly_limit(owner_alice, alice_fake_instance):
    account = owner_alice.account
    account.timezone = "UTC"
    account.save()
    with time_machine.travel(dt.datetime(2026, 3, 20, 12, 0, tzinfo=dt.UTC), tick=False):
        record_usage(
            account=account, instance=alice_fake_instance, day=dt.date(2026, 3, 5), count=account.plan.monthly_limit
        )
        exc = blocked_code(account)
    assert exc.code == "monthly_limit_reached"
    assert exc.details == {"limit": account.plan.monthly_limit, "used": account.plan.monthly_limit}
    assert int(exc.headers["Retry-After"]) == int(dt.timedelta(days=11, hours=12).total_seconds())


def test_dry_runs_and_blocked_requests_do_not_count(owner_alice, alice_fake_instance):
    account = owner_alice.account
    send(account, dry_run=True)
    with pytest.raises(errors.GatewayError):
        send(account, purpose="marketing")
    assert not DailyUsage.objects.exists() and not AccountDailyUsage.objects.exists()
    send(account)
    assert DailyUsage.objects.get().count == 1 and AccountDailyUsage.objects.get().count == 1


# --- velocity ---------------------------------------------------------------------------------------------------------


def test_instance_per_minute_limit_with_retry_after_and_ratelimit_headers(owner_alice, alice_fake_instance):
    start = now()
    with time_machine.travel(start, tick=False):
        for i in range(policy.INSTANCE_PER_MINUTE):
            send(owner_alice.account, phone=f"+9665012345{i:02d}")
    with time_machine.travel(start + dt.timedelta(seconds=15), tick=False):
        exc = blocked_code(owner_alice.account, phone="+966501299999")
    assert exc.code == "sending_throttled" and exc.details["reasons"] == ["instance_per_minute"]
    assert exc.headers["Retry-After"] == "45"
    assert exc.headers["RateLimit-Policy"] == f'"instance_per_minute";q={policy.INSTANCE_PER_MINUTE};w=60'
    assert exc.headers["RateLimit"] == '"instance_per_minute";r=0;t=45'
    with time_machine.travel(start + dt.timedelta(seconds=61), tick=False):
        assert send(owner_alice.account, phone="+966501299999").status == "queued"


def test_instance_per_hour_limit(owner_alice, alice_fake_instance):
    start = now()
    for i in range(policy.INSTANCE_PER_HOUR):
        with time_machine.travel(start + dt.timedelta(seconds=4 * i), tick=False):
            send(owner_alice.account, phone=f"+966501{i:06d}", text=f"Ticket {i} updated")
    with time_machine.travel(start + dt.timedelta(seconds=4 * policy.INSTANCE_PER_HOUR), tick=False):
        exc = blocked_code(owner_alice.account, phone="+966509999999")
    assert exc.details["reasons"] == ["instance_per_hour"]


def test_recipient_limits_and_duplicates(owner_alice, alice_fake_instance):
    account = owner_alice.account
    start = now()
    with time_machine.travel(start, tick=False):
        send(account, text="Ticket 1 updated")
        assert blocked_code(account, text="ticket 1   UPDATED").details["reasons"] == ["duplicate_text"]
        for i in range(2, policy.RECIPIENT_PER_10_MINUTES + 1):
            send(account, text=f"Ticket {i} updated")
        assert blocked_code(account, text="Another").details["reasons"] == ["recipient_per_10_minutes"]
    moment = start
    for i in range(policy.RECIPIENT_PER_DAY - policy.RECIPIENT_PER_10_MINUTES):
        moment += dt.timedelta(minutes=11)
        with time_machine.travel(moment, tick=False):
            send(account, text=f"Later {i}")
    with time_machine.travel(moment + dt.timedelta(minutes=11), tick=False):
        assert blocked_code(account, text="One more").details["reasons"] == ["recipient_per_day"]


def test_warm_up_caps_a_newly_paired_number(owner_alice, fake_provider):
    instance = make_instance(
        owner_alice.account, name="new-line", provider="fake", connected=True, paired_at=now() - dt.timedelta(hours=5)
    )
    account = owner_alice.account
    account.timezone = "UTC"
    account.save()
    cap = policy.WARMUP_STEPS[0][1]
    record_usage(account=account, instance=instance, day=now().date(), count=cap)
    exc = blocked_code(account, instance="new-line")
    assert exc.code == "sending_throttled" and exc.details == {"limit": cap, "used": cap, "reasons": ["warm_up"]}
    instance.paired_at = now() - dt.timedelta(days=11)
    instance.save()
    assert send(account, instance="new-line").status == "queued"


# --- risk ---------------------------------------------------------------------------------------------------------------


def test_marketing_text_is_blocked_with_named_reasons(owner_alice, alice_fake_instance):
    exc = blocked_code(owner_alice.account, text="HUGE SALE! 50% off, limited time offer, buy now: bit.ly/x")
    assert exc.code == "policy_violation" and exc.status == 403
    assert exc.details["action"] == "block" and exc.details["risk_score"] >= policy.RISK_BLOCK_THRESHOLD
    assert exc.details["category"] == "marketing"
    reasons = exc.details["reasons"]
    assert any(r.startswith("promotion: discount offer") and "'50% off" in r for r in reasons), reasons
    assert any(r.startswith("link: link shortener ('bit.ly/x')") for r in reasons), reasons
    assert PolicyEvent.objects.get().action == "block"
    assert Message.objects.get().category == "marketing"


def test_promotion_declared_transactional_is_blocked_in_any_supported_language(owner_alice, alice_fake_instance):
    account = owner_alice.account
    texts = [
        "Thanks for your order #5521! Use code BACK15 for 15% off your next purchase.",
        "عروض حصرية! خصم لفترة محدودة على كل المنتجات، اشتر الآن",
        "¡Nueva colección de verano! 30% de descuento solo este fin de semana en tienda.es",
    ]
    for i, text in enumerate(texts):
        exc = blocked_code(account, text=text, phone=f"+96650123450{i}")
        assert exc.code == "policy_violation" and exc.details["reasons"], text


def test_doubtful_text_is_sent_and_recorded_for_review(owner_alice, alice_fake_instance, monkeypatch):
    doubtful = content.ContentAssessment(
        verdict=classifier.Verdict("marketing", 0.6, 0.6, 65, ["announcement: new product ('new')"], [], "test"),
        score=65,
        reasons=["announcement: new product ('new')"],
    )
    monkeypatch.setattr(risk, "assess_text", lambda text, purpose="": doubtful)
    outcome = send(owner_alice.account, text="Something new is coming to your branch.")
    assert outcome.status == "queued" and outcome.risk_score == 65
    event = PolicyEvent.objects.get()
    assert event.action == "review" and event.message.public_id == outcome.message_id


def test_plain_support_text_scores_low_with_no_reasons(owner_alice, alice_fake_instance):
    outcome = send(
        owner_alice.account, text="Hi Sara, your ticket #88 was resolved. Reply here if anything is unclear."
    )
    assert outcome.risk_score < policy.RISK_REVIEW_THRESHOLD and outcome.reasons == []
    assert Message.objects.get().category == "utility"
    assert not PolicyEvent.objects.exists()


def test_words_that_only_look_promotional_pass(owner_alice, alice_fake_instance):
    for i, text in enumerate(
        [
            "You are unsubscribed; reply START to undo.",
            "Hi Omar, your offer letter from Acme Logistics is attached. Please sign it by Friday.",
            "Free shipping was applied to your order #7731; it ships tomorrow.",
            "As requested, the 10% discount was applied to invoice INV-2291. New total: 450.00 EUR.",
        ]
    ):
        outcome = send(owner_alice.account, text=text, phone=f"+96650123460{i}")
        assert outcome.risk_score < policy.RISK_BLOCK_THRESHOLD, (text, outcome.reasons)


def test_authentication_purpose_does_not_shield_a_promotion(owner_alice, alice_fake_instance):
    exc = blocked_code(
        owner_alice.account, text="Flash sale! 40% off all shoes today only, shop now", purpose="authentication"
    )
    assert exc.code == "policy_violation"


def test_identical_text_to_many_recipients_and_cold_recipients_add_up(owner_alice, alice_fake_instance):
    account = owner_alice.account
    text = "Reminder: the clinic is closed on Friday."
    start = now()
    for i in range(policy.RISK_IDENTICAL_TEXT_RECIPIENTS):
        with time_machine.travel(start + dt.timedelta(minutes=4 * i), tick=False):
            send(account, phone=f"+9665012300{i:02d}", text=text)
    with time_machine.travel(start + dt.timedelta(minutes=4 * policy.RISK_IDENTICAL_TEXT_RECIPIENTS), tick=False):
        outcome = send(account, phone="+966501239999", text=text)
    bulk = [r for r in outcome.reasons if r.startswith("bulk: ")]
    assert len(bulk) == 2 and "10 other recipients" in bulk[0] and "never wrote" in bulk[1]
    bulk_points = policy.RISK_IDENTICAL_TEXT_POINTS + policy.RISK_NEVER_WROTE_POINTS
    assert bulk_points <= outcome.risk_score < bulk_points + policy.RISK_REVIEW_THRESHOLD


def test_recipients_who_wrote_first_do_not_count_as_cold(owner_alice, alice_fake_instance):
    account = owner_alice.account
    start = now()
    for i in range(policy.RISK_NEVER_WROTE_MIN_RECIPIENTS + 1):
        phone = f"+9665012300{i:02d}"
        contact = Contact.objects.create(account=account, phone_e164=phone)
        Conversation.objects.create(
            account=account, instance=alice_fake_instance, contact=contact, last_inbound_at=start
        )
        with time_machine.travel(start + dt.timedelta(minutes=4 * i), tick=False):
            outcome = send(account, phone=phone, text=f"Your ticket {i} is resolved.")
    assert outcome.risk_score < policy.RISK_REVIEW_THRESHOLD
    assert not [r for r in outcome.reasons if r.startswith("bulk: ")]


def test_portal_test_sends_and_opt_out_confirmations_need_no_module(owner_alice, alice_fake_instance):
    account = owner_alice.account
    account.enabled_modules = []
    account.save()
    assert send(account, source="portal_test").status == "queued"
    assert blocked_code(account, source="threecx", phone="+966501234500").code == "module_not_enabled"


def test_the_responsible_messaging_page_shows_the_numbers_the_guard_uses(client):
    page = client.get("/docs/responsible-messaging").content.decode()
    for name, _ in policy.RISK_RULES:
        assert name in page
    assert f"{policy.INSTANCE_PER_MINUTE} messages a minute" in page
    assert f"Below {policy.RISK_REVIEW_THRESHOLD}" in page
    assert "bit.ly" in page and "خصم" in page and "mixes utility and marketing" in page
    assert f"up\nto {policy.SEND_MAX_ATTEMPTS} times" in page or f"to {policy.SEND_MAX_ATTEMPTS} times" in page


def test_dry_runs_record_no_policy_event(owner_alice, alice_fake_instance):
    with pytest.raises(errors.PolicyViolation):
        send(owner_alice.account, text="Our exclusive offer: 20% off your next visit, book now!", dry_run=True)
    assert not PolicyEvent.objects.exists()
