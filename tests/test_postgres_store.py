"""PostgreSQL specifics against the real throwaway server: opening, refusing, timeouts."""

from __future__ import annotations

import socket
import time

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_core import Customer, StoreError, Workspace
from pipeline_core.storage import SCHEMA_VERSION, open_store
from pipeline_core.storage.pg_copy import copy_text

from .conftest import new_postgres_database
from .postgres_server import PostgresCluster


def test_fresh_database_becomes_a_store(postgres_cluster: PostgresCluster) -> None:
    url = new_postgres_database(postgres_cluster)
    with Workspace.open(url) as ws:
        ada = ws.customers.add(Customer(name="Ada", tags=["VIP"]))
        ws.customers.move(ada.id, "Prospect")
    with Workspace.open(url) as ws:
        assert ws.customers.get(ada.id).status == "Prospect"
        assert len(ws.customers.timeline(ada.id)) == 2


def test_foreign_database_is_refused_untouched(postgres_cluster: PostgresCluster) -> None:
    url = new_postgres_database(postgres_cluster)
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE TABLE invoices (id int)")
    with pytest.raises(StoreError, match=r"not a pipeline_core store.*invoices"):
        open_store(url)
    with psycopg.connect(url) as db:
        tables = db.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        ).fetchall()
    assert tables == [("invoices",)]


def test_newer_schema_is_refused(postgres_cluster: PostgresCluster) -> None:
    url = new_postgres_database(postgres_cluster)
    open_store(url).close()
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(
            "UPDATE pipeline_meta SET value = %s WHERE key = 'schema_version'",
            (str(SCHEMA_VERSION + 1),),
        )
    with pytest.raises(StoreError, match="newer than this pipeline_core"):
        open_store(url)


def test_missing_database_is_a_clear_error(postgres_cluster: PostgresCluster) -> None:
    with pytest.raises(StoreError, match=r'cannot connect to .*database "nope" does not exist'):
        open_store(postgres_cluster.url("nope"))


def test_refused_connection_fails_fast() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(StoreError, match=r"cannot connect to postgresql://x@127\.0\.0\.1"):
        open_store(f"postgresql://x@127.0.0.1:{port}/db")
    assert time.monotonic() - started < 10


def test_silent_server_times_out(postgres_cluster: PostgresCluster) -> None:
    # A socket that accepts connections but never answers: the connect timeout must end it.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(StoreError, match="cannot connect"):
            open_store(f"postgresql://x@127.0.0.1:{port}/db?connect_timeout=1")
        assert time.monotonic() - started < 10


def test_password_is_not_shown_in_errors() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(StoreError) as error:
        open_store(f"postgresql://ada:s3cret@127.0.0.1:{port}/db")
    assert "s3cret" not in str(error.value) and "ada:***@" in str(error.value)


def test_copy_text_round_trips_any_text_and_number(postgres_cluster: PostgresCluster) -> None:
    # Bulk imports write COPY text by hand: every text must come back as it was.
    url = new_postgres_database(postgres_cluster)
    text = st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]))
    number = st.floats(allow_nan=False, allow_infinity=False)
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE TABLE t (n int, a text, b double precision, c bigint)")

        @settings(max_examples=60, deadline=None)
        @given(
            st.lists(
                st.tuples(text | st.none(), number | st.none(), st.integers(-(2**63), 2**63 - 1)),
                max_size=6,
            )
        )
        def round_trip(rows: list[tuple[str | None, float | None, int]]) -> None:
            db.execute("DELETE FROM t")
            with db.cursor().copy("COPY t FROM STDIN") as copy:
                copy.write(copy_text([(n, *row) for n, row in enumerate(rows)]))
            assert db.execute("SELECT a, b, c FROM t ORDER BY n").fetchall() == rows

        round_trip()
