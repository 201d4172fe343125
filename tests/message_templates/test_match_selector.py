"""``match_approved_template``: the content guard's question, answered from a per-account cache in at most one
query, and in none for an account without approved templates."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.message_templates.conftest import approved, submit
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.message_templates import selectors
from whatsapp_gateway.message_templates.models import Template, TemplateSource, TemplateStatus
from whatsapp_gateway.message_templates.selectors import match_approved_template, template_match
from whatsapp_gateway.message_templates.services import template_disable, template_reject, template_resubmit

pytestmark = pytest.mark.django_db
TEXT = "Your order #5521 has shipped today."


def test_an_approved_template_matches_texts_with_the_same_fixed_words(owner_alice, staff_oscar):
    template = approved(owner_alice, staff_oscar)

    assert match_approved_template(owner_alice.account.pk, TEXT) == template
    assert template_match(owner_alice.account.pk, "your ORDER  A-9 has shipped today.").variables == ("a-9",)
    assert match_approved_template(owner_alice.account.pk, "Your order #5521 has shipped today. 20% off!") is None


@pytest.mark.parametrize("status_change", ["pending", "rejected", "disabled"])
def test_only_approved_templates_match(owner_alice, staff_oscar, status_change):
    template = submit(owner_alice)
    if status_change == "rejected":
        template_reject(template=template, operator=staff_oscar, reason="promotional")
    elif status_change == "disabled":
        template_disable(template=template, operator=staff_oscar, reason="misused")

    assert match_approved_template(owner_alice.account.pk, TEXT) is None


def test_another_account_s_template_never_matches(owner_alice, outsider_charlie, staff_oscar):
    approved(outsider_charlie, staff_oscar)

    assert match_approved_template(owner_alice.account.pk, TEXT) is None
    assert match_approved_template(outsider_charlie.account.pk, TEXT) is not None


def test_an_approved_marketing_template_never_lets_a_text_through(owner_alice):
    instance = Instance.objects.create(account=owner_alice.account, name="cloud-line", provider="cloud")
    Template.objects.create(
        account=owner_alice.account,
        instance=instance,
        source=TemplateSource.META,
        name="spring_sale",
        language="en",
        category="marketing",
        status=TemplateStatus.APPROVED,
        body="Spring sale: {{1}} off everything this week.",
    )

    assert match_approved_template(owner_alice.account.pk, "Spring sale: 30% off everything this week.") is None


def test_an_approved_meta_template_matches_too(owner_alice):
    instance = Instance.objects.create(account=owner_alice.account, name="cloud-line", provider="cloud")
    template = Template.objects.create(
        account=owner_alice.account,
        instance=instance,
        source=TemplateSource.META,
        name="appointment_reminder",
        language="en",
        category="utility",
        status=TemplateStatus.APPROVED,
        body="Reminder: your appointment is on {{1}} at {{2}}.",
    )

    assert (
        match_approved_template(owner_alice.account.pk, "Reminder: your appointment is on 3 May at 10:00.") == template
    )


def test_the_most_specific_template_wins(owner_alice, staff_oscar):
    approved(owner_alice, staff_oscar, name="generic", body="Your order {{1}} has {{2}} today.")
    specific = approved(owner_alice, staff_oscar, name="specific")

    assert match_approved_template(owner_alice.account.pk, TEXT) == specific


class TestCost:
    def test_an_account_without_approved_templates_costs_no_query_once_cached(
        self, owner_alice, django_assert_num_queries
    ):
        submit(owner_alice)  # pending: not matchable
        with django_assert_num_queries(1):
            assert match_approved_template(owner_alice.account.pk, TEXT) is None
        for _ in range(3):
            with django_assert_num_queries(0):
                assert match_approved_template(owner_alice.account.pk, TEXT) is None

    def test_a_match_costs_at_most_one_query_and_a_miss_none(self, owner_alice, staff_oscar, django_assert_num_queries):
        template = approved(owner_alice, staff_oscar)
        with django_assert_num_queries(1):  # cold cache: the load is the one query
            assert match_approved_template(owner_alice.account.pk, TEXT) == template
        with django_assert_num_queries(1):  # warm: only the matched row
            assert match_approved_template(owner_alice.account.pk, TEXT) == template
        with django_assert_num_queries(0):
            assert match_approved_template(owner_alice.account.pk, "Something else entirely.") is None

    def test_every_template_change_invalidates_the_cache(self, owner_alice, staff_oscar):
        assert match_approved_template(owner_alice.account.pk, TEXT) is None  # caches "none"
        template = approved(owner_alice, staff_oscar)
        assert match_approved_template(owner_alice.account.pk, TEXT) == template

        template_resubmit(
            template=template,
            actor=owner_alice.user,
            name=template.name,
            language="en",
            category="utility",
            body="Your parcel {{1}} has shipped today.",
        )
        assert match_approved_template(owner_alice.account.pk, TEXT) is None

    def test_a_stale_cache_entry_is_dropped_not_trusted(self, owner_alice, staff_oscar):
        template = approved(owner_alice, staff_oscar)
        assert match_approved_template(owner_alice.account.pk, TEXT) == template
        Template.objects.filter(pk=template.pk).update(status=TemplateStatus.PAUSED)  # behind the services' back

        assert match_approved_template(owner_alice.account.pk, TEXT) is None
        assert cache.get(f"message_templates:matchable:v1:{owner_alice.account.pk}") is None

    def test_a_warm_match_asks_neither_the_shared_cache_nor_the_database(
        self, owner_alice, staff_oscar, monkeypatch, django_assert_num_queries
    ):
        approved(owner_alice, staff_oscar)
        assert match_approved_template(owner_alice.account.pk, "Something else entirely.") is None  # warms both
        asked = []
        monkeypatch.setattr(selectors, "_cache_call", lambda *args: asked.append(args))
        with django_assert_num_queries(0):
            assert match_approved_template(owner_alice.account.pk, "Something else again.") is None
        assert asked == []

    def test_another_process_sees_a_change_within_the_local_ttl(self, owner_alice, staff_oscar, monkeypatch):
        """A template write clears this process's copy at once; another process keeps its copy for at most
        LOCAL_TTL_SECONDS. Here the other process's write is played by changing the row and the shared cache
        without touching this process's copy."""
        template = approved(owner_alice, staff_oscar)
        assert match_approved_template(owner_alice.account.pk, TEXT) == template
        Template.objects.filter(pk=template.pk).update(status=TemplateStatus.PAUSED)
        cache.delete(f"message_templates:matchable:v1:{owner_alice.account.pk}")
        clock = selectors.time.monotonic()
        monkeypatch.setattr(selectors.time, "monotonic", lambda: clock + selectors.LOCAL_TTL_SECONDS + 0.1)
        assert match_approved_template(owner_alice.account.pk, TEXT) is None
