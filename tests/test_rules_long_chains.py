"""Long flat 'and'/'or' chains: 5,000 terms on every backend, and balanced SQL that agrees with Python.

SQLite refuses an expression tree deeper than 1000, and parses ``a OR b OR c
...`` as deep as the chain is long; ``rules.sql.chain`` nests long chains as
balanced trees so that the length no longer matters (docs/rules.md).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_core import Customer, Workspace
from pipeline_core.rules import And, Not, Or, Rule, bind_dates, compile_predicate, compile_sql
from pipeline_core.rules.parser import parse
from pipeline_core.rules.sql import FLAT_CHAIN, chain
from pipeline_core.storage.postgres import PostgresStore
from pipeline_core.storage.sqlite import SqliteStore
from pipeline_core.testing import DAY, atoms, customers

from .conftest import new_postgres_database
from .postgres_server import PostgresCluster

TERMS = 5_000

# Each atom is written for term i; customers c0..c9 meet the first ten of them. On
# PostgreSQL a "~" test inlines the case-folding function, a large expression to plan:
# one term in ten is one (docs/rules.md).
ATOMS = (
    'source = "s{i}"',
    'tags any ("t{i}")',
    'field.plan = "p{i}"',
    'emails any ("e{i}@x.org")',
    'name ~ "c{i}-"',
)


def _term(i: int) -> str:
    """Term i of a mixed chain: every tenth a "~" test, the others in turn the rest."""
    return ATOMS[-1 if i % 10 == 4 else i % (len(ATOMS) - 1)].format(i=i)


def _depth(sql: str) -> int:
    """The deepest nesting of parentheses in ``sql`` (outside quoted text, which holds none)."""
    deepest = level = 0
    for char in sql:
        if char == "(":
            level += 1
            deepest = max(deepest, level)
        elif char == ")":
            level -= 1
    return deepest


@pytest.fixture
def people(workspace: Workspace) -> list[Customer]:
    """Ten customers on the current backend; customer i meets term i of every atom."""
    workspace.init()
    return [
        workspace.customers.add(
            Customer(
                name=f"c{i}-",
                source=f"s{i}",
                tags=(f"t{i}",),
                fields={"plan": f"p{i}"},
                emails=(f"e{i}@x.org",),
            )
        )
        for i in range(10)
    ]


@pytest.mark.parametrize("op", ["or", "and"])
def test_a_5000_term_chain_runs_on_every_backend(
    workspace: Workspace, people: list[Customer], op: str
) -> None:
    # Term i tests one field against value i: an 'or' meets all ten customers, an
    # 'and' none (no one meets two terms).
    text = f" {op} ".join(_term(i) for i in range(TERMS))
    predicate = compile_predicate(parse(text), today=DAY)
    expected = [c.id for c in people if predicate(c)]
    assert len(expected) == (10 if op == "or" else 0)
    assert [c.id for c in workspace.customers.list(text)] == expected
    assert workspace.customers.count(f"not ({text})") == 10 - len(expected)
    # Each term nested two levels down.
    nested = f" {op} ".join(f"({_term(i)} and not (source = 'x'))" for i in range(TERMS))
    assert [c.id for c in workspace.customers.list(nested)] == expected


def test_a_chain_longer_than_the_flat_limit_nests_as_a_balanced_tree() -> None:
    for size in (FLAT_CHAIN + 1, 1_000, TERMS, 100_000):
        parts = [f"x{i}" for i in range(size)]
        joined = chain("OR", parts)
        # Same parts, same order: only parentheses were added.
        assert re.sub(r"[()]", "", joined) == " OR ".join(parts)
        assert _depth(joined) <= size.bit_length() + 1
    assert chain("AND", ["a", "b", "c"]) == "(a AND b AND c)"


_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

long_chains = st.tuples(
    st.sampled_from((And, Or)),
    st.lists(atoms(), min_size=FLAT_CHAIN + 1, max_size=4 * FLAT_CHAIN),
).map(lambda drawn: drawn[0](drawn[1]))
"""'and'/'or' chains longer than ``FLAT_CHAIN``: compiled as balanced trees."""


def _rules(chain_rule: Rule, inner: Rule) -> list[Rule]:
    """The chain alone, under 'not', and with another long chain as its last operand."""
    assert isinstance(chain_rule, And | Or)
    nested = type(chain_rule)((*chain_rule.operands, inner))
    return [chain_rule, Not(chain_rule), nested]


@_SETTINGS
@given(people=st.lists(customers(), max_size=10), chain_rule=long_chains, inner=long_chains)
def test_balanced_sql_on_sqlite_selects_what_python_accepts(
    people: list[Customer], chain_rule: Rule, inner: Rule
) -> None:
    store = SqliteStore("sqlite:///:memory:")
    try:
        with store.transaction() as tx:
            ids = [tx.insert_customer(person).id for person in people]
            for rule in _rules(chain_rule, inner):
                predicate = compile_predicate(rule, today=DAY)
                expected = {i for i, person in zip(ids, people, strict=True) if predicate(person)}
                assert {c.id for c in tx.find_customers(bind_dates(rule, DAY))} == expected
                compiled = compile_sql(rule, today=DAY)
                assert _depth(compiled.sql) < 60  # balanced: far from the chain's length
    finally:
        store.close()


class _Rollback(Exception):
    """Raised to roll an example's rows back."""


@pytest.mark.postgres
def test_balanced_sql_on_postgres_selects_what_python_accepts(
    postgres_cluster: PostgresCluster,
) -> None:
    store = PostgresStore(new_postgres_database(postgres_cluster))

    @settings(_SETTINGS, max_examples=15)
    @given(people=st.lists(customers(), max_size=8), chain_rule=long_chains, inner=long_chains)
    def check(people: list[Customer], chain_rule: Rule, inner: Rule) -> None:
        try:
            with store.transaction() as tx:
                ids = [tx.insert_customer(person).id for person in people]
                for rule in _rules(chain_rule, inner):
                    predicate = compile_predicate(rule, today=DAY)
                    expected = {
                        i for i, person in zip(ids, people, strict=True) if predicate(person)
                    }
                    assert {c.id for c in tx.find_customers(bind_dates(rule, DAY))} == expected
                raise _Rollback
        except _Rollback:
            pass

    try:
        check()
    finally:
        store.close()
