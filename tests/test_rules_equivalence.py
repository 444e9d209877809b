"""Python evaluation and SQL on SQLite select exactly the same customers, for any rule."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_core.customer import Customer
from pipeline_core.rules import (
    And,
    Compare,
    Not,
    Or,
    Rule,
    SetTest,
    bind_dates,
    compile_predicate,
    compile_sql,
)
from pipeline_core.rules.parser import parse
from pipeline_core.storage.memory import MemoryStore
from pipeline_core.storage.sqlite import SqliteStore
from pipeline_core.testing import DAY, customers, rules, texts

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _sqlite_ids(people: list[Customer], rule_list: list[Rule], today: date) -> list[set[int]]:
    store = SqliteStore("sqlite:///:memory:")
    try:
        with store.transaction() as tx:
            ids = [tx.insert_customer(person).id for person in people]
            assert ids == list(range(1, len(people) + 1))
            found = []
            for rule in rule_list:
                # Both ways a SQL store gets a rule: bound first, or compiled with today.
                via_store = {c.id for c in tx.find_customers(bind_dates(rule, today))}
                compiled = compile_sql(rule, today=today)
                rows = store._db.execute(  # the same connection, inside the transaction
                    f"SELECT c.id FROM customers c WHERE {compiled.sql}", compiled.params
                )
                direct = {row[0] for row in rows}
                assert via_store == direct
                found.append(direct)
            return found
    finally:
        store.close()


def _python_ids(people: list[Customer], rule: Rule, today: date) -> set[int]:
    predicate = compile_predicate(rule, today=today)
    return {index for index, person in enumerate(people, start=1) if predicate(person)}


@SETTINGS
@given(
    people=st.lists(customers(), max_size=10),
    rule_list=st.lists(rules(), min_size=1, max_size=6),
)
def test_sql_selects_exactly_the_customers_python_accepts(
    people: list[Customer], rule_list: list[Rule]
) -> None:
    for rule, found in zip(rule_list, _sqlite_ids(people, rule_list, DAY), strict=True):
        assert found == _python_ids(people, rule, DAY), rule


@settings(max_examples=60, deadline=None)
@given(people=st.lists(customers(), max_size=8), rule=rules())
def test_memory_store_filters_like_the_predicate(people: list[Customer], rule: Rule) -> None:
    store = MemoryStore()
    with store.transaction() as tx:
        for person in people:
            tx.insert_customer(person)
        bound = bind_dates(rule, DAY)
        assert {c.id for c in tx.find_customers(bound)} == _python_ids(people, rule, DAY)
        assert tx.count_customers(bound) == len(_python_ids(people, rule, DAY))


@pytest.fixture
def folding_people() -> Iterator[list[Customer]]:
    yield [
        Customer(name="Straße", folder="100%", tags=["a_b"], workers=["İlkay"]),
        Customer(name="STRASSE", folder="100", tags=["axb"], workers=["ilkay"]),
        Customer(name="ǅemal", folder=None, fields={"plan": "ﬁle", "colours": ("CAFÉ",)}),
        Customer(name="O'Brien", source='say "hi"', fields={"plan": "File"}),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('name ~ "strasse"', {1, 2}),  # ß casefolds to ss; SQLite's lower() would not
        ('name ~ "ß"', {1, 2}),  # "ß" itself folds to "ss", so it finds STRASSE too
        ('name ~ "\\u01c4"', {3}),  # the digraph Ǆ folds like its titlecase ǅ
        ('folder = "100%"', {1}),  # % is no wildcard
        ('folder ~ "0%"', {1}),
        ('tags any ("a_b")', {1}),  # _ is no wildcard
        ('tags ~ "A_"', {1}),
        ('field.plan ~ "FILE"', {3, 4}),  # the ligature ﬁ folds to fi
        ('field.colours ~ "café"', {3}),
        ('name ~ "o\'b"', {4}),
        ("source = 'say \"hi\"'", {4}),
        ('workers ~ "i̇lkay"', {1, 2}),  # İ folds to i + combining dot, an accent, dropped
        ('field.colours ~ "cafe"', {3}),  # accents never matter: É is E
        ("not has folder", {3, 4}),
    ],
)
def test_unicode_and_wildcards_agree(
    folding_people: list[Customer], text: str, expected: set[int]
) -> None:
    rule = parse(text)
    assert _python_ids(folding_people, rule, DAY) == expected
    assert _sqlite_ids(folding_people, [rule], DAY) == [expected]


def test_relative_dates_follow_the_given_today() -> None:
    people = [
        Customer(name="old", created_at=datetime(2026, 1, 1, 23, 30, tzinfo=UTC)),
        Customer(name="new", created_at=datetime(2026, 1, 14, 0, 0, tzinfo=UTC)),
    ]
    rule = parse("created within 7 days")
    assert _python_ids(people, rule, date(2026, 1, 15)) == {2}
    assert _sqlite_ids(people, [rule], date(2026, 1, 15)) == [{2}]
    assert _python_ids(people, rule, date(2026, 1, 8)) == {1}
    assert _sqlite_ids(people, [rule], date(2026, 1, 8)) == [{1}]


@settings(max_examples=100, deadline=None)
@given(a=rules(max_leaves=3), b=rules(max_leaves=3), people=st.lists(customers(), max_size=6))
def test_de_morgan_and_double_negation(a: Rule, b: Rule, people: list[Customer]) -> None:
    pairs: list[tuple[Rule, Rule]] = [
        (Not(And((a, b))), Or((Not(a), Not(b)))),
        (Not(Or((a, b))), And((Not(a), Not(b)))),
        (Not(Not(a)), a),
    ]
    for left, right in pairs:
        assert _python_ids(people, left, DAY) == _python_ids(people, right, DAY)
    flat = [rule for pair in pairs for rule in pair]
    found = _sqlite_ids(people, flat, DAY)
    for index in range(0, len(found), 2):
        assert found[index] == found[index + 1]


_TEXT_TESTS: st.SearchStrategy[Rule] = st.one_of(
    st.builds(
        Compare,
        st.sampled_from(("name", "folder", "source", "owner", "field.plan")),
        st.sampled_from(("=", "~", "!=")),
        texts(),
    ),
    st.builds(
        Compare, st.sampled_from(("tags", "workers", "field.colours")), st.just("~"), texts()
    ),
    st.builds(
        SetTest,
        st.sampled_from(("tags", "workers", "field.colours")),
        st.sampled_from(("any", "all", "none")),
        st.lists(texts(), min_size=1, max_size=2).map(tuple),
    ),
)


@settings(max_examples=150, deadline=None)
@given(
    words=st.lists(texts().filter(str.strip), min_size=1, max_size=6),
    rule_list=st.lists(_TEXT_TESTS, min_size=1, max_size=8),
)
def test_text_tests_agree_on_any_text(words: list[str], rule_list: list[Rule]) -> None:
    """Text comparisons, where folding, quoting and wildcards bite, on text-heavy customers."""
    people = [
        Customer(
            name=word,
            folder=word,
            source=word.upper(),
            workers=[word, *words[:1]],
            tags=words[index:],
            fields={"plan": word.swapcase(), "colours": tuple(words[: index + 1])},
        )
        for index, word in enumerate(words)
    ]
    for rule, found in zip(rule_list, _sqlite_ids(people, rule_list, DAY), strict=True):
        assert found == _python_ids(people, rule, DAY), rule
