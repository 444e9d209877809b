"""SQLite stores written by the foundation (schema 1) migrate forward to the lifecycle schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pipeline_core import Customer, FixedClock, Workspace
from pipeline_core.storage import open_store
from pipeline_core.storage.sql.common import META_TABLE
from pipeline_core.storage.sqlite_schema import LATEST, MIGRATIONS


def test_a_version_1_store_gains_the_lifecycle_tables(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute(f"CREATE TABLE {META_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    for statement in MIGRATIONS[1]:
        db.execute(statement)
    db.execute(
        "INSERT INTO customers (name, status, created_at, updated_at, version)"
        " VALUES ('Old', 'Lead', '2025-01-01T00:00:00.000000+00:00',"
        " '2025-01-01T00:00:00.000000+00:00', 1)"
    )
    db.execute(f"INSERT INTO {META_TABLE} VALUES ('schema_version', '1')")
    db.commit()
    db.close()
    with Workspace(open_store(f"sqlite:///{path}"), clock=FixedClock()) as ws:
        old = ws.customers.get(1)
        assert (old.name, old.closed_at, old.lost_reason) == ("Old", None, None)
        task = ws.tasks.add(old.id, "Migrated")
        assert ws.tasks.list(customer_id=old.id) == [task]
        assert ws.time.log(old.id, "eve", 5).id == 1
        assert ws.customers.add(Customer(name="New")).id == 2
    version = sqlite3.connect(path).execute(f"SELECT value FROM {META_TABLE}").fetchone()[0]
    assert int(version) == LATEST >= 3
