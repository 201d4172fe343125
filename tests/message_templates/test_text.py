"""Template texts: variable validation, rendering, and the matcher the content guard relies on."""

from __future__ import annotations

import pytest

from whatsapp_gateway.message_templates.text import (
    TemplateTextError,
    match_segments,
    normalise,
    render,
    segments,
    validate_body,
    variable_count,
)


def matches(body: str, text: str):
    return match_segments(segments(body), normalise(text))


class TestValidation:
    @pytest.mark.parametrize(
        "body",
        [
            "Your order {{1}} has shipped.",
            "Hi {{1}}, your appointment on {{2}} at {{3}} is confirmed.",
            "{{1}} is your verification code. Do not share it.",
            "مرحبا {{1}}، تم شحن طلبك رقم {{2}} اليوم.",
        ],
    )
    def test_it_accepts_numbered_variables_with_fixed_words(self, body):
        validate_body(body, max_chars=4096)

    @pytest.mark.parametrize(
        ("body", "why"),
        [
            ("", "empty"),
            ("Your order {{2}} has shipped.", "without gaps"),
            ("Your order {{1}} shipped on {{3}} ok", "without gaps"),
            ("Hello {{name}}, your order shipped", "numbers only"),
            ("Hello {1}}, your order shipped", "numbers only"),
            ("Dear customer {{1}}{{2}} thanks", "between two variables"),
            ("Dear customer {{1}} {{2}} thanks", "between two variables"),
            ("Hi {{1}}", "at least 3 words"),
            ("{{1}}", "at least 3 words"),
        ],
    )
    def test_it_refuses_bodies_that_cannot_be_matched_safely(self, body, why):
        with pytest.raises(TemplateTextError, match=why):
            validate_body(body, max_chars=4096)

    def test_it_refuses_a_body_over_the_limit(self):
        with pytest.raises(TemplateTextError, match="longer than 20"):
            validate_body("word " * 10, max_chars=20)

    def test_a_repeated_variable_counts_once(self):
        assert variable_count("Order {{1}} for {{2}}: order {{1}} again") == 2


class TestRender:
    def test_it_replaces_each_variable_by_number(self):
        assert render("Hi {{2}}, order {{ 1 }} shipped.", ["#55", "Sam"]) == "Hi Sam, order #55 shipped."

    @pytest.mark.parametrize("variables", [[], ["a", "b"]])
    def test_it_refuses_the_wrong_number_of_variables(self, variables):
        with pytest.raises(TemplateTextError, match=r"takes 1 variable\(s\)"):
            render("Your order {{1}} has shipped.", variables)

    def test_it_refuses_an_empty_variable(self):
        with pytest.raises(TemplateTextError, match=r"\{\{1\}\} is empty"):
            render("Your order {{1}} has shipped.", ["  "])


class TestMatch:
    BODY = "Your order {{1}} has shipped and arrives on {{2}}."

    def test_variables_match_any_non_empty_run_and_are_returned(self):
        assert matches(self.BODY, "Your order #5521 has shipped and arrives on Monday 3 May.") == (
            "#5521",
            "monday 3 may",
        )

    def test_case_and_whitespace_runs_are_normalised(self):
        assert matches(self.BODY, "YOUR  ORDER\n#1 has   shipped and arrives on today.") == ("#1", "today")

    def test_unicode_compatibility_forms_are_normalised(self):
        assert matches("Your code is {{1}} for login.", "Your code is １２３ for login.") == ("123",)

    @pytest.mark.parametrize(
        "text",
        [
            "Your order #5521 has shipped and arrives on Monday",  # the final fixed "." is missing
            "Your order #5521 has shipped, arrives on Monday.",  # a fixed word changed
            "Your order  has shipped and arrives on .",  # empty variables
            "Your orders 5 has shipped and arrives on Monday.",  # a word that only starts like the fixed one
            "Your order #5521 has shipped and arrives on Monday. Use code BACK15 for 15% off!",  # text after it
            "Hello! Your order #5521 has shipped and arrives on Monday.",  # text before it
        ],
    )
    def test_fixed_words_must_match_exactly(self, text):
        assert matches(self.BODY, text) is None

    def test_a_body_without_variables_matches_only_itself(self):
        assert matches("Thanks, we received your payment.", "thanks,  we received your payment.") == ()
        assert matches("Thanks, we received your payment.", "Thanks, we received your payment!") is None

    def test_a_fixed_part_repeated_inside_a_variable_still_matches(self):
        body = "Item {{1}} of order {{2}} is ready."
        assert matches(body, "Item blue of order cup of order 12 is ready.") == ("blue", "cup of order 12")

    def test_a_body_starting_and_ending_with_variables(self):
        body = "{{1}} is your login code for {{2}}"
        assert matches(body, "482913 is your login code for Acme") == ("482913", "acme")
        assert matches(body, " is your login code for Acme") is None

    def test_matching_is_linear_on_adversarial_text(self):
        # A backtracking regex would take O(n^k) here; the scan returns at once.
        body = "x {{1}} x {{2}} x {{3}} x {{4}} y"
        assert matches(body, "x " * 2000 + "z") is None
