"""Drafting workers hand the writer finished rows: the store's row of each customer, its
contact keys and its search document; the writer adds ids and runs the SQL."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_core import Customer, Workspace
from pipeline_core.importing import ImportOptions
from pipeline_core.importing.mapping import Draft
from pipeline_core.rules.ast import MATCH_ALL
from pipeline_core.storage.registry import open_store
from pipeline_core.storage.sql.common import customer_values
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
    from pipeline_core.importing.drafting import Drafter, draft_rows
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
    assert drafter.encode is customer_values
    rows = [(2, {"name": "Ann", "email": "ann@x.org", "tags": "a;b"}), (3, {"name": ""})]
    draft, refused = draft_rows(drafter.mapper(), drafter.checks, rows, now, drafter.encode)
    assert isinstance(draft, Draft) and not isinstance(refused, Draft)
    assert draft.row == customer_values(draft.customer)
    assert draft.terms is not None and "ann" in draft.terms[0].split()


@settings(max_examples=40, deadline=None)
@given(st.lists(customers(), min_size=1, max_size=5))
def test_rows_made_beforehand_store_the_same_customers(people: list[Customer]) -> None:
    stored = []
    for given_rows in (False, True):
        store = open_store("sqlite:///:memory:")
        try:
            with store.transaction() as tx:
                rows = [customer_values(p) for p in people] if given_rows else None
                tx.insert_customers(people, rows=rows)
            with store.transaction() as tx:
                stored.append(tx.find_customers(MATCH_ALL))
        finally:
            store.close()
    assert stored[0] == stored[1]
    assert [c.name for c in stored[1]] == [p.name for p in people]


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
