"""Rules through the workspace: text where-clauses, relative dates, flows stored as text, explain."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings

from pipeline_core import Customer, FixedClock, Workspace
from pipeline_core.domain.flows import Column
from pipeline_core.errors import RuleSyntaxError
from pipeline_core.rules import (
    And,
    Compare,
    InSet,
    Not,
    Or,
    Rule,
    compile_predicate,
    explain,
    parse,
)
from pipeline_core.testing import DAY, rules, workspaces

from .conftest import StoreFactory

NOON = datetime(2026, 3, 10, 12, tzinfo=UTC)


@pytest.fixture
def workspace(make_store: StoreFactory) -> Workspace:
    """A fresh workspace on each backend (memory, SQLite, PostgreSQL), its clock at NOON."""
    ws = Workspace(make_store(), clock=FixedClock(NOON))
    ws.init()
    return ws


def _people(ws: Workspace) -> list[Customer]:
    clock = ws.clock
    assert isinstance(clock, FixedClock)
    added = []
    people: list[tuple[str, str, list[str], dict[str, object], int]] = [
        ("Ada", "New Leads", ["VIP"], {"provider": "Acme", "policy": 1500}, 1),
        ("Grace", "New Leads", ["Commercial"], {"provider": "acme", "policy": 900}, 10),
        ("Alan", "Partners", ["VIP", "Warranty"], {"renewal": date(2026, 3, 12)}, 40),
    ]
    for name, folder, tags, fields, days_ago in people:
        clock.current = NOON - timedelta(days=days_ago)
        added.append(ws.customers.add(Customer(name=name, folder=folder, tags=tags, fields=fields)))
    clock.current = NOON
    return added


def _names(found: list[Customer]) -> list[str]:
    return [customer.name for customer in found]


def test_where_accepts_text_and_rules(workspace: Workspace) -> None:
    _people(workspace)
    assert _names(workspace.customers.list('folder = "New Leads" and tags any ("VIP")')) == ["Ada"]
    assert _names(workspace.customers.list(InSet("folder", ("Partners",)))) == ["Alan"]
    assert workspace.customers.count("created within 7 days") == 1
    assert workspace.customers.count("created within 30 days") == 2
    assert workspace.customers.count("field.provider ~ 'ACME' and field.policy > 1000") == 1
    assert workspace.customers.count("field.renewal within next 3 days") == 1
    assert workspace.customers.count("not has field.renewal") == 2


def test_relative_dates_move_with_the_workspace_clock(workspace: Workspace) -> None:
    _people(workspace)
    clock = workspace.clock
    assert isinstance(clock, FixedClock)
    assert workspace.customers.count("created within 7 days") == 1
    clock.advance(timedelta(days=30))
    assert workspace.customers.count("created within 7 days") == 0
    assert workspace.customers.count("field.renewal before today") == 1


def test_custom_fields_are_checked_against_what_customers_hold(workspace: Workspace) -> None:
    _people(workspace)
    with pytest.raises(RuleSyntaxError) as caught:
        workspace.customers.count('field.provder = "Acme"')
    assert caught.value.hint == "field.provider"
    with pytest.raises(RuleSyntaxError, match="cannot be compared with text"):
        workspace.rules.check('field.policy = "high"')
    assert workspace.rules.check("field.policy >= 1") == Compare("field.policy", ">=", Decimal(1))
    catalog = workspace.rules.catalog()
    assert catalog.custom is not None
    assert catalog.custom["policy"] == frozenset({"number"})


def test_board_combines_the_flow_rule_with_where(workspace: Workspace) -> None:
    _people(workspace)
    workspace.flows.add(
        "Leads", 'folder = "New Leads" or tags all ("Warranty")', [Column("Lead", "Lead")]
    )
    assert workspace.flows.board("Leads").total == 3
    board = workspace.flows.board("Leads", where='tags any ("VIP")')
    assert board.total == 2
    # Newest activity first: Ada was added a day ago, Alan forty.
    assert [card.name for card in board.columns[0].cards] == ["Ada", "Alan"]


def test_flow_rules_are_stored_as_canonical_text(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'flows.db'}"
    with Workspace.open(url) as ws:
        ws.flows.add("VIP", "TAGS ANY ('VIP')  and not has   folder")
    with Workspace.open(url) as ws:
        flow = ws.flows.get("VIP")
        assert flow.rule == parse('tags any ("VIP") and not has folder')
        store = ws.store
        rows = store._db.execute("SELECT definition FROM flows")  # type: ignore[attr-defined]
        assert json.loads(rows.fetchone()[0])["rule"] == 'tags any ("VIP") and not has folder'


def test_add_flow_refuses_an_ill_typed_rule(workspace: Workspace) -> None:
    with pytest.raises(RuleSyntaxError):
        workspace.flows.add("Bad", Compare("created", "=", "yesterday"))
    assert workspace.flows.list() == []


def test_explain_says_why_a_customer_is_or_is_not_on_the_board(workspace: Workspace) -> None:
    ada, grace, alan = _people(workspace)
    workspace.flows.add(
        "VIP",
        'tags any ("VIP") and folder = "New Leads"',
        [Column("Lead", "Lead"), Column("Won", "Customer")],
    )
    why = workspace.flows.explain("VIP", ada.id)
    assert (why.on_board, why.column, why.hidden) == (True, "Lead", False)
    assert "is on the VIP board, in column 'Lead'" in why.render()

    why = workspace.flows.explain("VIP", alan.id)
    assert not why.on_board and why.column is None
    assert [child.holds for child in why.rule.children] == [True, False]
    assert why.rule.children[1].actual == 'folder: "Partners"'
    assert 'no   folder = "New Leads"    [folder: "Partners"]' in why.render()

    workspace.flows.hide("VIP", ada.id)
    why = workspace.flows.explain("VIP", ada.id)
    assert (why.on_board, why.hidden, why.rule.holds) == (False, True, True)
    assert "hidden" in why.render()
    assert workspace.flows.explain("VIP", grace.id).rule.children[0].holds is False


@settings(max_examples=40, deadline=None)
@given(ws=workspaces(), rule=rules())
def test_explain_agrees_with_the_predicate(ws: Workspace, rule: Rule) -> None:
    with ws:
        for customer in ws.customers.list():
            tree = explain(rule, customer, today=DAY)
            assert tree.holds == compile_predicate(rule, today=DAY)(customer)
            if isinstance(rule, And):
                assert tree.holds == all(child.holds for child in tree.children)
            if isinstance(rule, Or):
                assert tree.holds == any(child.holds for child in tree.children)
            if isinstance(rule, Not):
                assert tree.holds != tree.children[0].holds


def test_rule_sql_speaks_the_store_dialect(workspace: Workspace) -> None:
    compiled = workspace.rules.sql('folder = "x" and created = today')
    placeholder = "%s" if workspace.store.url.startswith("postgres") else "?"
    assert compiled.sql.count(placeholder) == len(compiled.params) == 3
    assert compiled.params[0] == "x"


def test_custom_field_kinds_lists_every_key_and_kind(make_store: StoreFactory) -> None:
    store = make_store()
    people = [
        Customer(name="a", fields={"b": 1, "a": "x", "c": (), "é": date(2026, 1, 1)}),
        Customer(name="b", fields={"b": "one", "a": "y", "d": True}),
        Customer(name="c", fields={"b": 1.5, "e": datetime(2026, 1, 1, tzinfo=UTC)}),
        Customer(name="d", fields={"b": Decimal("2.5"), "aa": "z"}),
    ]
    with store.transaction() as tx:
        for person in people:
            tx.insert_customer(person)
        assert tx.custom_field_kinds() == {
            "a": frozenset({"text"}),
            "aa": frozenset({"text"}),
            "b": frozenset({"int", "text", "float", "decimal"}),
            "c": frozenset({"list"}),
            "d": frozenset({"bool"}),
            "e": frozenset({"datetime"}),
            "é": frozenset({"date"}),
        }


def test_defined_custom_fields_are_in_the_catalog_before_anyone_holds_them(
    workspace: Workspace,
) -> None:
    from pipeline_core.domain.custom_fields import FieldDefinition

    workspace.fields.add(FieldDefinition(key="policy_value", type="decimal"))
    workspace.fields.add(
        FieldDefinition(key="colours", type="multi_select", options=("red", "blue"))
    )
    workspace.fields.add(FieldDefinition(key="insured", type="checkbox"))
    flow = workspace.flows.add(
        "Insured",
        'field.policy_value > 1000 and field.colours any ("red") and field.insured = true',
    )
    assert flow.rule == parse(
        'field.policy_value > 1000 and field.colours any ("red") and field.insured = true'
    )
    with pytest.raises(RuleSyntaxError, match="cannot be compared with text"):
        workspace.rules.check('field.policy_value = "high"')
    with pytest.raises(RuleSyntaxError) as caught:
        workspace.rules.check("field.insurd = true")
    assert caught.value.hint == "field.insured"
    workspace.customers.add(
        Customer(
            name="Ann", fields={"policy_value": "1500.50", "colours": ["red"], "insured": "yes"}
        )
    )
    assert workspace.flows.board("Insured").total == 1
