"""Stores at schema 6 (before linked records) migrate forward to the latest version and keep their customers."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from pipeline_core import Customer, FixedClock, Workspace
from pipeline_core.domain.records import LinkedRecord
from pipeline_core.storage import SCHEMA_VERSION, open_store
from pipeline_core.storage.sql.common import META_TABLE

from .conftest import new_postgres_database
from .postgres_server import PostgresCluster

DROPPED = (
    "DROP TABLE linked_records",
    "DROP TABLE customer_seen",
    "DELETE FROM events WHERE kind LIKE 'record_%'",
)


def _exercise(url: str) -> None:
    with Workspace(open_store(url), clock=FixedClock()) as ws:
        old = ws.customers.get(1)
        assert old.name == "Old"
        # The order of a customer converted before migration 10 became an order record.
        (order,) = ws.records.list(kinds=["order"])
        assert (order.customer_id, order.ref, order.state) == (2, "SO-1", "placed")
        assert order.at == ws.customers.get(2).converted_at == order.created_at
        record = ws.records.add(
            LinkedRecord(customer_id=old.id, kind="payment", ref="P-1", amount="5", currency="EUR")
        )
        assert ws.records.list(old.id) == [record]
        assert record.state == "received"


def test_a_version_6_sqlite_store_gains_linked_records(tmp_path: Path) -> None:
    path = tmp_path / "six.db"
    with Workspace(open_store(f"sqlite:///{path}"), clock=FixedClock()) as ws:
        ws.customers.add(Customer(name="Old"))
        ws.customers.convert(ws.customers.add(Customer(name="Buyer")).id, "SO-1")
    db = sqlite3.connect(path)
    for statement in DROPPED:
        db.execute(statement)
    db.execute(f"UPDATE {META_TABLE} SET value = '6' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    _exercise(f"sqlite:///{path}")
    version = (
        sqlite3.connect(path)
        .execute(f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'")
        .fetchone()[0]
    )
    assert int(version) == SCHEMA_VERSION
    # Set back to 6 with the tables kept (as other tests do), migration 10 runs again harmlessly.
    db = sqlite3.connect(path)
    db.execute(f"UPDATE {META_TABLE} SET value = '6' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with Workspace(open_store(f"sqlite:///{path}"), clock=FixedClock()) as ws:
        assert [r.ref for r in ws.records.list()] == ["SO-1", "P-1"]


@pytest.mark.usefixtures("postgres_cluster")
def test_a_version_6_postgres_store_gains_linked_records(
    postgres_cluster: PostgresCluster,
) -> None:
    url = new_postgres_database(postgres_cluster)
    with Workspace(open_store(url), clock=FixedClock()) as ws:
        ws.customers.add(Customer(name="Old"))
        ws.customers.convert(ws.customers.add(Customer(name="Buyer")).id, "SO-1")
    schema = url.rsplit("%3D", 1)[1]
    with psycopg.connect(postgres_cluster.url(), autocommit=True) as db:
        db.execute(f"SET search_path TO {schema}")
        for statement in DROPPED:
            db.execute(statement)
        db.execute(f"UPDATE {META_TABLE} SET value = '6' WHERE key = 'schema_version'")
    _exercise(url)
    with psycopg.connect(postgres_cluster.url(), autocommit=True) as db:
        db.execute(f"SET search_path TO {schema}")
        row = db.execute(f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'").fetchone()
    assert row is not None and int(row[0]) == SCHEMA_VERSION
