"""The rule language: parsing, printing, precedence, type checks, errors and robustness."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_core.errors import InvalidValue, RuleSyntaxError
from pipeline_core.rules import (
    MATCH_ALL,
    MAX_DEPTH,
    And,
    Catalog,
    Compare,
    Has,
    InSet,
    Not,
    Or,
    Rule,
    SetTest,
    Today,
    Within,
    parse,
    to_text,
)
from pipeline_core.testing import rules

FOLDER = InSet("folder", ("New Leads",))


@settings(max_examples=300, deadline=None)
@given(rules(max_leaves=10))
def test_printing_then_parsing_gives_the_same_rule(rule: Rule) -> None:
    text = to_text(rule)
    assert parse(text) == rule
    assert to_text(parse(text)) == text


@settings(max_examples=100, deadline=None)
@given(rules(max_leaves=4))
def test_double_negation_prints_and_parses_as_itself(rule: Rule) -> None:
    assert parse(to_text(Not(Not(rule)))) == Not(Not(rule))


def test_the_examples_of_the_issue_parse() -> None:
    assert parse(
        'folder = "New Leads" and tags any ("VIP", "Commercial") and status in ("Lead", "Prospect")'
    ) == And(
        (
            Compare("folder", "=", "New Leads"),
            SetTest("tags", "any", ("VIP", "Commercial")),
            InSet("status", ("Lead", "Prospect")),
        )
    )
    assert parse('not tags all ("Warranty") or source ~ "google"') == Or(
        (Not(SetTest("tags", "all", ("Warranty",))), Compare("source", "~", "google"))
    )
    assert parse("created >= 2026-01-01 and created < 2026-02-01") == And(
        (Compare("created", ">=", date(2026, 1, 1)), Compare("created", "<", date(2026, 2, 1)))
    )
    assert parse("created within 7 days") == Within("created", 7, "past")
    assert parse("next_follow_up within next 3 days") == Within("next_follow_up", 3, "next")
    assert parse("next_follow_up before today") == Compare("next_follow_up", "<", Today(0))
    assert parse("created after today - 30 days") == Compare("created", ">", Today(-30))
    assert parse('field.insurance_provider = "Acme" and field.policy_value > 1000') == And(
        (
            Compare("field.insurance_provider", "=", "Acme"),
            Compare("field.policy_value", ">", Decimal(1000)),
        )
    )
    assert parse("value >= 5000 and outcome = won") == And(
        (Compare("value", ">=", Decimal(5000)), Compare("outcome", "=", "won"))
    )
    assert parse("has email and not has phone") == And((Has("emails"), Not(Has("phones"))))
    assert parse('team in ("North")') == InSet("team", ("North",))
    assert parse('owner = "maria"') == Compare("owner", "=", "maria")


def test_keywords_are_case_insensitive_and_quotes_either_kind() -> None:
    assert parse("FOLDER = 'New Leads' AND NOT Tags ANY (\"x\")") == And(
        (Compare("folder", "=", "New Leads"), Not(SetTest("tags", "any", ("x",))))
    )
    assert parse("true") == MATCH_ALL
    assert parse("TRUE or false") == Or((MATCH_ALL, Not(MATCH_ALL)))


def test_escapes_in_text() -> None:
    rule = parse(r"""name = 'O\'Brien \"x\" \\ \n\t\u00e9'""")
    assert rule == Compare("name", "=", 'O\'Brien "x" \\ \n\té')
    assert parse(to_text(rule)) == rule


def test_precedence_is_not_then_and_then_or() -> None:
    a, b, c = (Has("folder"), Has("tags"), Has("team"))
    assert parse("has folder or has tags and has team") == Or((a, And((b, c))))
    assert parse("not has folder and has tags") == And((Not(a), b))
    assert parse("(has folder or has tags) and has team") == And((Or((a, b)), c))
    assert parse("has folder and (has tags and has team)") == And((a, And((b, c))))
    assert to_text(And((a, And((b, c))))) == "has folder and (has tags and has team)"
    assert to_text(Or((a, And((b, c))))) == "has folder or has tags and has team"
    assert to_text(Not(Or((a, b)))) == "not (has folder or has tags)"


def test_not_in_and_sugar() -> None:
    assert parse('status not in ("Lead")') == Not(InSet("status", ("Lead",)))
    assert parse("created on 2026-01-02") == Compare("created", "=", date(2026, 1, 2))
    assert parse("value <> 3") == Compare("value", "!=", Decimal(3))
    assert parse("value == -3.5") == Compare("value", "=", Decimal("-3.5"))
    assert parse('field."Policy Value" >= 1') == Compare("field.Policy Value", ">=", Decimal(1))
    assert to_text(Compare("field.Policy Value", ">=", Decimal(1))) == 'field."Policy Value" >= 1'


def _error(text: str, catalog: Catalog | None = None) -> RuleSyntaxError:
    with pytest.raises(RuleSyntaxError) as caught:
        parse(text, catalog or Catalog())
    return caught.value


def test_errors_name_line_column_expected_and_near_misses() -> None:
    error = _error('folder = "x"\n  and tgs any ("a")')
    assert (error.line, error.column) == (2, 7)
    assert error.found == "tgs"
    assert error.hint == "tags"
    assert "line 2, column 7" in str(error)
    assert error.pointer() == '  and tgs any ("a")\n      ^'

    error = _error('folder = "x" adn has tags')
    assert (error.column, error.hint) == (14, "and")
    assert "'and', 'or' or the end of the rule" in error.expected

    error = _error("outcome = wonn")
    assert error.hint == "won"
    error = _error("folder = Leads")
    assert error.hint == '"Leads"'
    assert _error("").reason == "the rule is empty"
    assert "not closed" in _error('name = "abc').reason
    assert "not a valid date" in _error("created > 2026-02-30").reason
    assert "unexpected character" in _error("name = `x`").reason


def test_type_errors_before_anything_runs() -> None:
    assert "cannot be compared with text" in _error('created > "2026-01-01"').reason
    assert "does not apply" in _error('value ~ "1"').reason
    assert "does not apply" in _error('tags = "VIP"').reason
    assert "does not apply" in _error('folder any ("x")').reason
    assert "does not apply" in _error("folder within 3 days").reason
    assert "lists in rules hold text only" in _error("status in (1, 2)").reason
    error = _error("value > true")
    assert (error.line, error.column) == (1, 7)


def test_custom_fields_are_checked_against_the_workspace_catalog() -> None:
    catalog = Catalog(custom={"policy_value": {"int", "decimal"}, "provider": {"text"}})
    assert parse("field.policy_value > 1000", catalog) == Compare(
        "field.policy_value", ">", Decimal(1000)
    )
    error = _error('field.provder = "Acme"', catalog)
    assert error.hint == "field.provider"
    assert "unknown custom field" in error.reason
    assert "cannot be compared with text" in _error('field.policy_value = "x"', catalog).reason
    # Without knowledge of the workspace, any custom field and kind is accepted.
    assert parse('field.anything ~ "x"') == Compare("field.anything", "~", "x")


def test_nesting_is_bounded_with_a_clear_error() -> None:
    deep = "(" * (MAX_DEPTH + 1) + "has tags" + ")" * (MAX_DEPTH + 1)
    assert "nests more than" in _error(deep).reason
    assert "nests more than" in _error("not " * 10_000 + "has tags").reason
    ok = "(" * MAX_DEPTH + "has tags" + ")" * MAX_DEPTH
    assert parse(ok) == Has("tags")
    assert parse(" or ".join(["has tags"] * 5_000)) == Or(tuple([Has("tags")] * 5_000))


_PIECES = st.sampled_from(
    [
        "(", ")", "not ", " and ", " or ", "folder", "tags", "field.", "x", '"a"', "'b",
        "= ", "~", " in ", "any", "(", ",", "2026-01-01", "today", "-", "+", "7", " days",
        "within", "has ", "\\", "\n", "é", "\u00a0", "1.5", "true", "outcome", "won",
    ]
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=60), st.lists(_PIECES, max_size=25).map("".join)))
def test_arbitrary_text_parses_or_raises_rule_syntax_error(text: str) -> None:
    try:
        rule = parse(text)
    except RuleSyntaxError as error:
        assert error.line >= 1 and error.column >= 1
        assert error.offset is not None and 0 <= error.offset <= len(text)
    else:
        assert parse(to_text(rule)) == rule


def test_non_text_rules_are_refused() -> None:
    with pytest.raises(InvalidValue):
        parse(42)  # type: ignore[arg-type]
