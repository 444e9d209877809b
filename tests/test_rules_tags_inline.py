"""A tag test read from the customers row's own ``tags`` text (SQLite) means element equality.

The board's covering indexes hold ``c.tags``; ``rules.sql`` tests a plain tag
there as text (``instr``) and falls back to ``json_each``. These properties
throw at it what text matching gets wrong: tags containing the JSON
delimiters, quotes, backslashes, spaces, other case, unicode, one tag inside
another; stored as our encoder writes them and as other JSON encoders do.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_core import Customer, Workspace
from pipeline_core.domain.flows import Column
from pipeline_core.domain.serialization import dumps
from pipeline_core.rules import And, Compare, SetTest, compile_sql
from pipeline_core.rules.sql import plain_tag

# Characters that bite: JSON's delimiters and escapes, case, accents, non-BMP.
_TRICKY = "\"\\,[] 'aAbB:{}éÉß\u0301\U0001d518\n\t"
tag_texts = st.one_of(
    st.text(alphabet=_TRICKY, min_size=1, max_size=6),
    st.sampled_from(["VIP", "vip", "V", "IP", 'VIP"', '"VIP', "a,VIP", "[VIP]", "VIP\\", "Ví"]),
    st.text(min_size=1, max_size=5),
)

ENCODERS: dict[str, Callable[[list[str]], str]] = {
    "ours": dumps,
    "json.dumps": json.dumps,  # ", " separators, \\u escapes
    "compact, raw unicode": lambda tags: json.dumps(
        tags, ensure_ascii=False, separators=(",", ":")
    ),
}


def _selected(
    stored: list[list[str]], rule: SetTest, encoder: Callable[[list[str]], str]
) -> set[int]:
    # A status test first, so that the tag test is probed per row (the board's case).
    compiled = compile_sql(And((Compare("status", "=", "Lead"), rule)))
    assert "customer_tags" not in compiled.sql
    db = sqlite3.connect(":memory:")
    try:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, status TEXT, tags TEXT)")
        db.executemany(
            "INSERT INTO customers VALUES (?, 'Lead', ?)",
            [(i, encoder(tags)) for i, tags in enumerate(stored)],
        )
        query = f"SELECT id FROM customers c WHERE {compiled.sql}"
        return {row[0] for row in db.execute(query, compiled.params)}
    finally:
        db.close()


def _expected(stored: list[list[str]], rule: SetTest) -> set[int]:
    wanted = set(rule.values)

    def held(tags: set[str]) -> bool:
        if rule.quantifier == "any":
            return bool(wanted & tags)
        if rule.quantifier == "all":
            return wanted <= tags
        return not wanted & tags

    return {i for i, tags in enumerate(stored) if held(set(tags))}


@settings(max_examples=300, deadline=None)
@given(
    stored=st.lists(st.lists(tag_texts, max_size=4, unique=True), min_size=1, max_size=6),
    values=st.lists(tag_texts, min_size=1, max_size=3),
    quantifier=st.sampled_from(("any", "all", "none")),
    encoder=st.sampled_from(sorted(ENCODERS)),
)
def test_inline_tag_tests_are_element_equality(
    stored: list[list[str]], values: list[str], quantifier: str, encoder: str
) -> None:
    """Whatever the tags and the JSON writer, the inline test selects what Python's sets do."""
    rule = SetTest("tags", quantifier, tuple(values))  # type: ignore[arg-type]
    assert _selected(stored, rule, ENCODERS[encoder]) == _expected(stored, rule)


@settings(max_examples=200, deadline=None)
@given(
    inner=st.sampled_from(["VIP", "a b", "x-y", "A"]),
    prefix=st.text(alphabet='"\\,[] aé', max_size=3),
    suffix=st.text(alphabet='"\\,[] aé', max_size=3),
)
def test_a_plain_tag_inside_a_longer_element_is_not_held(
    inner: str, prefix: str, suffix: str
) -> None:
    """``"VIP"`` inside an element such as ``a"VIP"`` or ``[VIP]`` (text found) is not the tag."""
    element = prefix + inner + suffix
    stored = [
        [element],
        [element, inner],
        [inner.lower() if inner != inner.lower() else inner.upper()],
    ]
    rule = SetTest("tags", "any", (inner,))
    for encoder in ENCODERS.values():
        assert _selected(stored, rule, encoder) == _expected(stored, rule)


@given(st.text(max_size=8))
def test_plain_tags_are_written_as_themselves_by_every_encoder(tag: str) -> None:
    """What ``plain_tag`` promises: the quoted tag is verbatim in every writer's text."""
    if plain_tag(tag):
        for encoder in ENCODERS.values():
            assert f'"{tag}"' in encoder([tag])
    else:
        assert not tag or any(not " " <= ch <= "~" or ch in '"\\,[]' for ch in tag)


def test_a_board_with_tricky_tags_counts_what_python_counts(tmp_path: Path) -> None:
    """Through the store: customers whose tags hold the delimiters, counted on a flow's board."""
    tags = [["VIP"], ['a"VIP'], ["vip"], ["[VIP]", "x"], ["x", "VIP"], ["Ví", 'q,"VIP"'], []]
    with Workspace.open(f"sqlite:///{tmp_path / 'tags.db'}") as ws:
        ws.flows.add(
            "Sales",
            rule='status = "Lead" and tags any ("VIP", "Ví")',
            columns=[Column("New", "Lead")],
        )
        for i, held in enumerate(tags):
            ws.customers.add(Customer(name=f"c{i}", tags=held))
        board = ws.flows.board("Sales")
        assert [column.count for column in board.columns] == [3]
        assert sorted(card.name for card in board.columns[0].cards) == ["c0", "c4", "c5"]
