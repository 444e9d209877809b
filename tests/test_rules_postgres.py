"""Rules on PostgreSQL: the same customers as Python evaluation, and Python's case folding exactly."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_core.customer import Customer
from pipeline_core.rules import Rule, bind_dates, compile_predicate
from pipeline_core.rules.casefold import fold
from pipeline_core.rules.parser import parse
from pipeline_core.storage.postgres import PostgresStore
from pipeline_core.testing import DAY, customers, rules

from .conftest import new_postgres_database
from .postgres_server import PostgresCluster

pytestmark = pytest.mark.postgres


class _Rollback(Exception):
    """Raised to roll an example's rows back."""


@pytest.fixture(scope="module")
def pg_store(postgres_cluster: PostgresCluster) -> Iterator[PostgresStore]:
    store = PostgresStore(new_postgres_database(postgres_cluster))
    yield store
    store.close()


def _agree(store: PostgresStore, people: list[Customer], rule_list: list[Rule]) -> None:
    try:
        with store.transaction() as tx:
            ids = [tx.insert_customer(person).id for person in people]
            for rule in rule_list:
                predicate = compile_predicate(rule, today=DAY)
                expected = {i for i, person in zip(ids, people, strict=True) if predicate(person)}
                found = {c.id for c in tx.find_customers(bind_dates(rule, DAY))}
                assert found == expected, rule
            raise _Rollback
    except _Rollback:
        pass


@settings(max_examples=80, deadline=None)
@given(
    people=st.lists(customers(), max_size=8),
    rule_list=st.lists(rules(), min_size=1, max_size=6),
)
def test_postgres_selects_exactly_the_customers_python_accepts(
    pg_store: PostgresStore, people: list[Customer], rule_list: list[Rule]
) -> None:
    _agree(pg_store, people, rule_list)


@pytest.mark.parametrize(
    "text",
    [
        'name ~ "strasse"',
        'name ~ "ß"',
        'field.plan ~ "FILE"',
        'folder = "100%"',
        'tags any ("a_b")',
        "created = 2026-01-15",
        "created <= 2026-01-15 and next_follow_up > 2026-01-10",
        "created within 3 days",
        'field.when on 2026-01-15 and has emails and owner = "İlkay"',
    ],
)
def test_postgres_examples(pg_store: PostgresStore, text: str) -> None:
    from datetime import UTC, date, datetime, timedelta, timezone

    late = timezone(timedelta(hours=-5))
    people = [
        Customer(
            name="Straße",
            folder="100%",
            tags=["a_b"],
            workers=["İlkay"],
            emails=["a@b.c"],
            created_at=datetime(2026, 1, 14, 22, tzinfo=late),  # the 15th in UTC
            next_follow_up=date(2026, 1, 11),
            fields={"when": datetime(2026, 1, 14, 20, tzinfo=late), "plan": "ﬁle"},
        ),
        Customer(
            name="STRASSE", folder="100", tags=["axb"], created_at=datetime(2026, 1, 16, tzinfo=UTC)
        ),
    ]
    rule = parse(text)
    _agree(pg_store, people, [rule])
    assert any(compile_predicate(rule, today=DAY)(person) for person in people)


def test_pc_casefold_folds_every_character_like_the_rules_fold(pg_store: PostgresStore) -> None:
    every = "".join(
        chr(code) for code in range(1, sys.maxunicode + 1) if not 0xD800 <= code <= 0xDFFF
    )
    with pg_store.connection() as db:
        row = db.execute("SELECT pg_temp.pc_casefold(%s)", (every,)).fetchone()
    assert row is not None and row[0] == fold(every)
    assert fold("Wébsite STRASSE Ærø") == "website strasse ærø"
