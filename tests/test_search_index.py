"""The SQL backends search their engine's own text index (FTS5, tsvector + GIN) and rank
exactly as the memory store's Python matching does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_core import Customer, InvalidValue, Workspace
from pipeline_core.domain.normalize import NormalizeOptions
from pipeline_core.domain.search import (
    EMAIL,
    MAX_TERM_CHARS,
    PHONE,
    TEXT,
    SearchQuery,
    index_token,
    parse_query,
    search_document,
    term_rows,
    words,
)
from pipeline_core.rules.ast import MATCH_ALL
from pipeline_core.storage.protocol import Store, new_customer
from pipeline_core.storage.registry import open_store
from pipeline_core.testing import customers, texts

from .conftest import fresh_store_url

_TOKEN = re.compile("[a-z0-9\ue000]+")


@given(st.text(), st.text())
def test_tokens_begin_with_each_other_exactly_when_terms_do(a: str, b: str) -> None:
    assert index_token(a).startswith(index_token(b)) == a.startswith(b)
    assert (index_token(a) == index_token(b)) == (a == b)
    assert a == "" or _TOKEN.fullmatch(index_token(a))


@given(customers())
def test_the_document_holds_the_terms_of_term_rows(customer: Customer) -> None:
    names, emails, tags, phones = (set(column.split()) for column in search_document(customer))
    rows = term_rows(customer)
    assert names | tags == {index_token(text) for kind, text, _ in rows if kind == TEXT}
    assert emails == {index_token(text) for kind, text, _ in rows if kind == EMAIL}
    assert phones == {text for kind, text, _ in rows if kind == PHONE}
    assert names == {index_token(word) for word in words(customer.name)}


def test_a_long_word_is_found_by_its_beginning(tmp_path: Path) -> None:
    long_word = "a" * (MAX_TERM_CHARS + 50)
    with Workspace.open(f"sqlite:///{tmp_path / 'w.db'}") as ws:
        ws.customers.add(Customer(name=f"{long_word}b"))
        assert [c.name for c in ws.customers.search(long_word + "zzz")] == [f"{long_word}b"]


@contextmanager
def _stores(*backends: str) -> Iterator[list[Store]]:
    stores = [open_store(fresh_store_url(backend)) for backend in backends]
    try:
        yield stores
    finally:
        for store in stores:
            store.close()


def _load(store: Store, people: list[Customer]) -> None:
    """Half in bulk, half one by one; then the first renamed as the last (an index rewrite)."""
    half = len(people) // 2
    with store.transaction() as tx:
        encode = tx.row_encoder()
        tx.insert_customers([new_customer(p, encode, NormalizeOptions()) for p in people[:half]])
        for person in people[half:]:
            tx.insert_customer(person)
        first = tx.get_customer(1)
        tx.update_customer(attrs.evolve(first, name=people[-1].name, tags=people[-1].tags))


def _found(store: Store, query: SearchQuery) -> list[int]:
    with store.transaction() as tx:
        return [c.id for c in tx.search_customers(query, MATCH_ALL, limit=50)]


@st.composite
def _queries(draw: st.DrawFn, people: list[Customer]) -> str:
    """Mostly a prefix of a word, tag, email or phone of the customers; sometimes any text."""
    person = draw(st.sampled_from(people))
    pool = [*words(person.name), *person.tags, *person.emails, *person.phones]
    if not pool or draw(st.integers(0, 4)) == 0:
        return draw(texts())
    picked = draw(st.sampled_from(pool))
    return picked[: draw(st.integers(1, max(1, len(picked))))]


def _agree(stores: list[Store], people: list[Customer], data: st.DataObject) -> None:
    for store in stores:
        _load(store, people)
    for _ in range(6):
        text = data.draw(_queries(people))
        contacts = data.draw(st.booleans())
        try:
            query = parse_query(text, contacts=contacts)
        except InvalidValue:
            continue
        expected, *others = (_found(store, query) for store in stores)
        for found in others:
            assert found == expected, (text, contacts)


@settings(max_examples=60, deadline=None)
@given(st.lists(customers(), min_size=1, max_size=6), st.data())
def test_sqlite_ranks_like_the_memory_store(people: list[Customer], data: st.DataObject) -> None:
    with _stores("memory", "sqlite") as stores:
        _agree(stores, people, data)


@pytest.mark.postgres
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(customers(), min_size=1, max_size=6), st.data())
def test_postgres_ranks_like_the_memory_store(people: list[Customer], data: st.DataObject) -> None:
    with _stores("memory", "postgres") as stores:
        _agree(stores, people, data)


def test_an_import_writes_one_index_row_per_customer(tmp_path: Path) -> None:
    data = tmp_path / "people.csv"
    data.write_text(
        "name,email,phone,tags\n"
        + "".join(f"Person {n},p{n}@example.org,+1 415 555 {n:04d},vip;t{n}\n" for n in range(300)),
        encoding="utf-8",
    )
    path = tmp_path / "w.db"
    with Workspace.open(f"sqlite:///{path}") as ws:
        assert ws.customers.import_file(data).created == 300
        assert [c.name for c in ws.customers.search("p17@example.org")] == ["Person 17"]
        assert [c.name for c in ws.customers.search("555 0017")] == ["Person 17"]
    import sqlite3

    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT COUNT(*) FROM search_index").fetchone() == (300,)
        assert db.execute("SELECT COUNT(*) FROM customers").fetchone() == (300,)
