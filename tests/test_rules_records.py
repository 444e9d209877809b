"""Rules about linked records select the same customers in Python, on SQLite, on PostgreSQL
and in the memory store: the hypothesis property of test_rules_equivalence, for records."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_core import Workspace
from pipeline_core.customer import Customer
from pipeline_core.domain.clock import FixedClock
from pipeline_core.domain.records import LinkedRecord
from pipeline_core.errors import InvalidValue, RuleSyntaxError
from pipeline_core.rules import And, Not, Or, Rule, bind_dates, compile_predicate, compile_sql
from pipeline_core.rules.parser import parse
from pipeline_core.rules.printer import to_text
from pipeline_core.rules.sql import POSTGRES
from pipeline_core.storage import Store, open_store
from pipeline_core.testing import DAY, customers, rules
from pipeline_core.testing.records import linked_records, record_tests

from .conftest import new_postgres_database
from .postgres_server import PostgresCluster

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

IDS = (1, 2, 3, 4)


def mixed_rules() -> st.SearchStrategy[Rule]:
    """Record tests on their own and combined with tests of the customer's fields."""
    leaves = st.one_of(record_tests(), record_tests(), rules(max_leaves=2))

    def extend(children: st.SearchStrategy[Rule]) -> st.SearchStrategy[Rule]:
        many = st.lists(children, min_size=2, max_size=3)
        return st.one_of(children.map(Not), many.map(And), many.map(Or))

    return st.recursive(leaves, extend, max_leaves=4)


def _python_ids(
    people: list[Customer], records: list[LinkedRecord], rule: Rule, today: date
) -> set[int]:
    held: dict[int, list[LinkedRecord]] = {}
    for record in records:
        held.setdefault(record.customer_id, []).append(record)
    predicate = compile_predicate(rule, today=today, records=lambda c: held.get(c.id, []))
    # The stores number the customers 1, 2...: the records name them so.
    numbered = [attrs.evolve(person, id=index) for index, person in enumerate(people, start=1)]
    return {person.id for person in numbered if predicate(person)}


def _store_ids(
    store: Store, people: list[Customer], records: list[LinkedRecord], rule_list: list[Rule]
) -> list[set[int]]:
    found = []
    with store.transaction() as tx:
        ids = [tx.insert_customer(person).id for person in people]
        # Records name customers by position (1, 2...): the store's ids may start higher.
        tx.insert_records(
            [
                attrs.evolve(r, customer_id=ids[r.customer_id - 1])
                for r in records
                if r.customer_id <= len(people)
            ]
        )
        for rule in rule_list:
            found.append({ids.index(c.id) + 1 for c in tx.find_customers(bind_dates(rule, DAY))})
    return found


def _check(
    store: Store, people: list[Customer], records: list[LinkedRecord], rule_list: list[Rule]
) -> None:
    mine = [r for r in records if r.customer_id <= len(people)]
    for rule, found in zip(rule_list, _store_ids(store, people, records, rule_list), strict=True):
        assert found == _python_ids(people, mine, rule, DAY), to_text(rule)


people_lists = st.lists(customers(), min_size=1, max_size=len(IDS))


@SETTINGS
@given(
    people=people_lists,
    records=linked_records(IDS),
    rule_list=st.lists(mixed_rules(), min_size=1, max_size=5),
)
def test_sqlite_selects_exactly_the_customers_python_accepts(
    people: list[Customer], records: list[LinkedRecord], rule_list: list[Rule]
) -> None:
    store = open_store("sqlite:///:memory:")
    try:
        _check(store, people, records, rule_list)
    finally:
        store.close()


@settings(max_examples=60, deadline=None)
@given(
    people=people_lists,
    records=linked_records(IDS),
    rule_list=st.lists(mixed_rules(), min_size=1, max_size=4),
)
def test_the_memory_store_agrees(
    people: list[Customer], records: list[LinkedRecord], rule_list: list[Rule]
) -> None:
    _check(open_store("memory:"), people, records, rule_list)


@pytest.fixture(scope="module")
def pg_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    yield new_postgres_database(postgres_cluster)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    people=people_lists,
    records=linked_records(IDS),
    rule_list=st.lists(mixed_rules(), min_size=1, max_size=4),
)
def test_postgres_selects_exactly_the_customers_python_accepts(
    pg_url: str, people: list[Customer], records: list[LinkedRecord], rule_list: list[Rule]
) -> None:
    store = open_store(pg_url)
    try:
        _check(store, people, records, rule_list)
        with store.transaction() as tx:  # an empty store for the next example
            for table in ("linked_records", "events", "customer_fields", "customer_tags",
                          "contact_keys", "search_index", "customers"):  # fmt: skip
                tx._db.execute(f"DELETE FROM {table}")  # type: ignore[attr-defined]
    finally:
        store.close()


@given(rule=mixed_rules())
def test_record_rules_print_and_parse_back(rule: Rule) -> None:
    assert parse(to_text(rule)) == rule


@pytest.mark.parametrize(
    ("text", "sql"),
    [
        ('has invoice where state = "overdue"', "r.state = ?"),
        ("payments.total in EUR >= 1000", "SUM(r.amount_e4)"),
        ("payments.total in eur >= 1000", "r.currency = ?"),
        ("last conversation within 7 days", "max(r.moment)"),
        ("next appointment within 3 days", "r.moment >= ?"),
        ('has invoices where (state = "open" and amount > 10.5)', "r.amount_e4 > ?"),
        ("orders.count != 2", "count(*)"),
    ],
)
def test_the_issue_forms_parse_and_compile(text: str, sql: str) -> None:
    compiled = compile_sql(parse(text), today=DAY)
    assert sql in compiled.sql
    assert "overdue" not in compiled.sql  # user text only ever travels as a parameter
    assert compile_sql(parse(text), POSTGRES, today=DAY).sql.count("%s") == len(compiled.params)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("has invoice where color = 1", "a record field"),
        ('has invoice where state > "a"', "takes = or !="),
        ("payments.sum >= 1", "'total' or 'count'"),
        ("last conversation since 7 days", "'within'"),
        ("next appointment in 3 days", "'within'"),
        ("next appointment within 3 hours", "'days'"),
        ('payments.total in EUR >= "x"', "a number"),
        ("payments.total >= 1000", "adds amounts of one currency: name it"),
        ("payments.total in >= 1000", "ISO 4217"),
        ("payments.total in XYZ >= 1000", "ISO 4217"),
    ],
)
def test_bad_record_rules_say_what_was_expected(text: str, message: str) -> None:
    with pytest.raises(RuleSyntaxError, match=message):
        parse(text)


def test_a_record_rule_without_records_is_refused_in_python() -> None:
    with pytest.raises(InvalidValue, match="tests linked records"):
        compile_predicate(parse("has invoice"))(Customer(name="Ada"))


@pytest.mark.parametrize("url", ["memory:", "sqlite"])
def test_a_total_adds_only_the_amounts_of_its_currency(url: str, tmp_path: Path) -> None:
    ws = Workspace.open(f"sqlite:///{tmp_path / 'x.db'}" if url == "sqlite" else url)
    ada = ws.customers.add(Customer(name="Ada"))
    for ref, amount, currency in (("p1", "800", "EUR"), ("p2", "500", "USD"), ("p3", "150", "EUR")):
        ws.records.add(
            LinkedRecord(
                customer_id=ada.id, kind="payment", ref=ref, amount=amount, currency=currency
            )
        )
    assert [c.name for c in ws.customers.list("payments.total in EUR >= 950")] == ["Ada"]
    assert ws.customers.list("payments.total in EUR > 950") == []
    assert [c.name for c in ws.customers.list("payments.total in USD = 500")] == ["Ada"]
    assert ws.customers.list("payments.total in JPY > 0") == []
    ws.close()


def test_next_appointment_looks_ahead_and_skips_cancelled_ones(
    workspace: Workspace, clock: FixedClock
) -> None:
    now = clock.now()
    soon, later, gone = (
        workspace.customers.add(Customer(name=n)) for n in ("Soon", "Later", "Gone")
    )
    for who, ref, days, state in (
        (soon, "a1", 2, "booked"),
        (later, "a2", 5, "confirmed"),
        (gone, "a3", 1, "cancelled"),
        (gone, "a4", -1, "booked"),  # yesterday: past, not next
    ):
        start = now + timedelta(days=days)
        workspace.records.add(
            LinkedRecord(customer_id=who.id, kind="appointment", ref=ref, state=state, start=start)
        )
    names = [c.name for c in workspace.customers.list("next appointment within 3 days")]
    assert names == ["Soon"]
    assert [c.name for c in workspace.customers.list("next appointments within 5 days")] == [
        "Soon",
        "Later",
    ]
