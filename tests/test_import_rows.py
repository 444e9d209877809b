"""Drafting workers hand the writer finished rows (lean drafts): the store's rows of each
customer, its contact keys and its search document, and no ``Customer``; the writer adds
ids and runs the SQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_core import Customer, Workspace
from pipeline_core.domain.normalize import NormalizeOptions, index_keys
from pipeline_core.importing import ImportOptions
from pipeline_core.importing.mapping import LeanDraft
from pipeline_core.rules.ast import MATCH_ALL
from pipeline_core.storage.postgres import PostgresStore
from pipeline_core.storage.protocol import Store, new_customer
from pipeline_core.storage.registry import open_store
from pipeline_core.storage.sql.common import customer_rows
from pipeline_core.storage.sqlite import SqliteStore
from pipeline_core.testing import customers

from .conftest import fresh_store_url

MESSY = (
    "name,email,phone,tags,status\n"
    "Ann Smith,ann@x.org,+1 415 555 0101,vip,Lead\n"
    "ANN SMITH,ANN@X.ORG,,new,Lead\n"  # a duplicate of line 2 within the batch: merged
    "Bob,not-an-email,,,Lead\n"  # rejected
    ",nobody@x.org,,,Lead\n"  # rejected: no name
    "José Ñúñez,jn@x.org,020 7946 0018,a;b,Lead\n"
    "Zoë,z@x.org,+44 20 7946 0019,,Nope\n"  # rejected: unknown status
)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
@pytest.mark.parametrize("workers", [0, 1])
def test_an_import_of_finished_rows_stores_what_the_memory_store_does(
    backend: str, workers: int, tmp_path: Path
) -> None:
    source = tmp_path / "messy.csv"
    source.write_text(MESSY, encoding="utf-8")
    options = ImportOptions(workers=workers, on_duplicate="merge", batch_size=3)
    results = []
    for url in ("memory:", fresh_store_url(backend)):
        with Workspace.open(url) as ws:
            summary = ws.customers.import_file(source, options)
            stored = [
                attrs.evolve(c, created_at=None, updated_at=None) for c in ws.customers.list()
            ]
            found = [c.name for c in ws.customers.search("nunez")]
            results.append((summary.created, summary.merged, summary.rejected, stored, found))
    assert results[0] == results[1]
    assert results[1][:3] == (2, 1, 3)


def test_a_drafting_worker_makes_the_rows_the_store_would(tmp_path: Path) -> None:
    from pipeline_core.importing.drafting import Drafter, draft_rows, lean, prepared
    from pipeline_core.workspace import duplicates
    from pipeline_core.workspace.import_engine import row_checks

    with Workspace.open(f"sqlite:///{tmp_path / 'w.db'}") as ws, ws.session() as s:
        drafter = Drafter(
            file="f.csv",
            mapping={},
            keep_unknown=False,
            region=None,
            normalize=duplicates.settings(s).normalize_options,
            checks=row_checks(s),
            encode=s.row_encoder(),
        )
        now = s.now()
    assert drafter.encode is customer_rows
    rows = [(2, {"name": "Ann", "email": "ann@x.org", "tags": "a;b"}), (3, {"name": ""})]
    draft, refused = draft_rows(drafter.mapper(), drafter.checks, rows, now, drafter.encode)
    assert isinstance(draft, LeanDraft) and not isinstance(refused, LeanDraft)
    # What the writer drafts again from the same cells and stamp is the worker's customer.
    again = prepared(drafter.mapper(), drafter.checks, 2, rows[0][1], now)
    assert lean(again, customer_rows) == draft
    assert draft.rows == customer_rows(again.customer)
    assert draft.rows[1] == ("a", "b") and draft.status == again.customer.status
    assert "ann" in draft.document[0].split()
    assert [key.key for key in draft.keys] == ["ann@x.org"]


def _tables(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables a new customer writes (SQL stores), as text."""
    if not isinstance(store, SqliteStore | PostgresStore):
        return {}
    # SQLite's FTS5 table keys its rows by rowid (the customer's id).
    document_id = "rowid" if isinstance(store, SqliteStore) else "customer_id"
    tables = {
        "customers": "SELECT * FROM customers ORDER BY id",
        "customer_tags": "SELECT customer_id, tag FROM customer_tags ORDER BY 1, 2",
        "customer_fields": "SELECT * FROM customer_fields ORDER BY 1, 2",
        "contact_keys": "SELECT kind, key, customer_id FROM contact_keys ORDER BY 1, 2, 3",
        "search_index": f"SELECT {document_id}, names, emails, tags, phones FROM search_index"
        " ORDER BY 1",
    }
    with store.connection() as db:
        return {
            name: [tuple(map(str, row)) for row in db.execute(sql).fetchall()]
            for name, sql in tables.items()
        }


@pytest.mark.parametrize(
    ("backend", "examples"), [("memory", 40), ("sqlite", 40), ("postgres", 15)]
)
def test_the_lean_path_stores_exactly_what_insert_customer_would(
    backend: str, examples: int
) -> None:
    @settings(max_examples=examples, deadline=None)
    @given(st.lists(customers(), min_size=1, max_size=5))
    def check(people: list[Customer]) -> None:
        seen = []
        for lean in (False, True):
            store = open_store(fresh_store_url(backend))
            try:
                with store.transaction() as tx:
                    if lean:
                        encode = tx.row_encoder()
                        made = [new_customer(p, encode, NormalizeOptions()) for p in people]
                        ids = tx.insert_customers(made)
                    else:
                        ids = [tx.insert_customer(p).id for p in people]
                keys = [key for p in people for key in index_keys(p, NormalizeOptions())]
                with store.transaction() as tx:
                    found = tx.find_customers(MATCH_ALL)
                    holders = sorted(tx.find_by_keys(keys), key=repr)
                seen.append((ids, found, holders, _tables(store)))
            finally:
                store.close()
        assert seen[0] == seen[1]
        assert [c.name for c in seen[1][1]] == [p.name for p in people]

    check()


def test_a_bulk_load_sizes_sqlites_page_cache_to_the_import_within_a_bound(
    tmp_path: Path,
) -> None:
    from pipeline_core.storage.sqlite import (
        BULK_CACHE_BYTES_PER_ROW,
        BULK_CACHE_KIB,
        BULK_CHECKPOINT_PAGES,
        CACHE_KIB,
        SqliteStore,
    )

    store = open_store(f"sqlite:///{tmp_path / 'w.db'}")
    assert isinstance(store, SqliteStore)
    try:
        with store.connection() as db:
            assert db.execute("PRAGMA cache_size").fetchone() == (-CACHE_KIB,)
        with store.transaction() as tx:
            tx.prepare_bulk_load(100_000)
        with store.connection() as db:
            wanted = CACHE_KIB + 100_000 * BULK_CACHE_BYTES_PER_ROW // 1024
            assert db.execute("PRAGMA cache_size").fetchone() == (-wanted,)
            assert db.execute("PRAGMA wal_autocheckpoint").fetchone() == (BULK_CHECKPOINT_PAGES,)
        with store.transaction() as tx:
            tx.prepare_bulk_load(100_000_000)
        with store.connection() as db:
            assert db.execute("PRAGMA cache_size").fetchone() == (-BULK_CACHE_KIB,)
    finally:
        store.close()


@pytest.mark.postgres
def test_a_bulk_load_on_postgres_skips_the_wal_flush_of_that_transaction_only() -> None:
    from pipeline_core.storage.postgres import PostgresStore, PostgresTransaction

    store = open_store(fresh_store_url("postgres"))
    assert isinstance(store, PostgresStore)
    try:
        with store.connection() as db:
            # The test cluster itself runs with it off: turn it on for this session.
            db.execute("SET synchronous_commit TO on")
            db.commit()
            with db.transaction():
                PostgresTransaction(db).prepare_bulk_load(1000)
                assert db.execute("SHOW synchronous_commit").fetchone() == ("off",)
            assert db.execute("SHOW synchronous_commit").fetchone() == ("on",)
            db.rollback()
    finally:
        store.close()
