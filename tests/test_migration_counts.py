"""Stores of schema 11 migrate to 12: SQLite's board indexes gain the customers' tags, so a
flow's column counts, tag test included, are read from the index alone."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pipeline_core import Customer, Workspace
from pipeline_core.domain.flows import Column
from pipeline_core.rules import compile_sql, parse
from pipeline_core.storage import SCHEMA_VERSION
from pipeline_core.storage.sql.common import META_TABLE

from .conftest import fresh_store_url
from .conftest import run_statements as _run

RULE = 'folder = "New" and tags any ("VIP", "Gov") and status in ("Lead", "Quoted")'

AS_11 = (
    "DROP INDEX customers_live_board",
    "CREATE INDEX customers_live_board ON customers"
    "(folder, status, updated_at, id, currency, value_num, created_at, source, merged_into)"
    " WHERE merged_into IS NULL",
    "DROP INDEX customers_live_status",
    "CREATE INDEX customers_live_status ON customers"
    "(status, updated_at, id, currency, value_num, created_at, source, merged_into)"
    " WHERE merged_into IS NULL",
    f"UPDATE {META_TABLE} SET value = '11' WHERE key = 'schema_version'",
)
"""SQLite's board indexes as migration 11 made them, and the version that says so."""


def _count_plan(path: Path) -> str:
    """How SQLite plans one column's count of the flow's members."""
    compiled = compile_sql(parse(RULE))
    query = (
        "EXPLAIN QUERY PLAN SELECT count(*), sum(c.value_num) FROM customers c"
        f" WHERE c.merged_into IS NULL AND c.status = ? AND {compiled.sql}"
    )
    db = sqlite3.connect(path)
    try:
        rows = db.execute(query, ("Lead", *compiled.params)).fetchall()
    finally:
        db.close()
    return " | ".join(str(row[-1]) for row in rows)


def _fill(ws: Workspace) -> None:
    ws.flows.add("Sales", rule=RULE, columns=[Column("New", "Lead"), Column("Quoted", "Quoted")])
    for i, tags in enumerate([["VIP"], ["Gov", "x"], ["vip"], ['"VIP"'], [], ["Gov"]]):
        ws.customers.add(Customer(name=f"c{i}", folder="New", status="Lead", tags=tags))


def test_a_version_11_sqlite_store_counts_its_columns_from_the_board_index(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with Workspace.open(f"sqlite:///{path}") as ws:
        _fill(ws)
    _run("sqlite", f"sqlite:///{path}", *AS_11)
    before = _count_plan(path)
    # Without the tags in the index, each candidate row is read from the table.
    assert "COVERING INDEX customers_live_board" not in before, before
    with Workspace.open(f"sqlite:///{path}") as ws:
        assert [column.count for column in ws.flows.board("Sales").columns] == [3, 0]
        ws.customers.add(Customer(name="late", folder="New", status="Lead", tags=["VIP"]))
        assert [column.count for column in ws.flows.board("Sales").columns] == [4, 0]
    version = f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'"
    assert _run("sqlite", f"sqlite:///{path}", version) == [(str(SCHEMA_VERSION),)]
    after = _count_plan(path)
    assert "COVERING INDEX customers_live_board" in after, after
    assert "customer_tags" not in after
    columns = _run("sqlite", f"sqlite:///{path}", "PRAGMA index_info(customers_live_status)")
    assert [row[2] for row in columns][-1] == "tags"


def test_a_version_11_postgres_store_migrates_to_12_unchanged() -> None:
    url = fresh_store_url("postgres")
    with Workspace.open(url) as ws:
        _fill(ws)
    _run("postgres", url, f"UPDATE {META_TABLE} SET value = '11' WHERE key = 'schema_version'")
    with Workspace.open(url) as ws:
        assert [column.count for column in ws.flows.board("Sales").columns] == [3, 0]
    version = f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'"
    assert _run("postgres", url, version) == [(str(SCHEMA_VERSION),)]


@pytest.mark.parametrize("runs", [2])
def test_migration_12_can_run_again(tmp_path: Path, runs: int) -> None:
    """Its statements are safe to repeat (a migration interrupted and run again)."""
    from pipeline_core.storage.sqlite_schema import MIGRATIONS

    path = tmp_path / "again.db"
    with Workspace.open(f"sqlite:///{path}") as ws:
        _fill(ws)
    _run("sqlite", f"sqlite:///{path}", *[s for _ in range(runs) for s in MIGRATIONS[12]])
    with Workspace.open(f"sqlite:///{path}") as ws:
        assert [column.count for column in ws.flows.board("Sales").columns] == [3, 0]
    assert "COVERING INDEX customers_live_board" in _count_plan(path)
