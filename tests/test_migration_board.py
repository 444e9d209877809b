"""Stores of schema 6 migrate to 11: hides gain who and when, flows a history, the board its
indexes over live customers (and PostgreSQL its change notifications)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline_core import Customer, Workspace
from pipeline_core.domain.flows import Column, FlowEventKind
from pipeline_core.storage import SCHEMA_VERSION
from pipeline_core.storage.sql.common import META_TABLE

from .conftest import fresh_store_url
from .conftest import run_statements as _run

UNDO_11 = {
    "sqlite": (
        "DROP TABLE flow_hide_marks",
        "DROP TABLE flow_events",
        "DROP INDEX customers_live_board",
        "DROP INDEX customers_live_status",
    ),
    "postgres": (
        "DROP TABLE flow_hide_marks",
        "DROP TABLE flow_events",
        "DROP INDEX customers_live_board",
        "DROP INDEX customers_live_status",
        "DROP FUNCTION pipeline_board_changed() CASCADE",
    ),
}
"""What migration 11 added, taken away again: the store as schema 6 left it."""


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_version_6_store_gains_recorded_hides_flow_history_and_board_indexes(
    backend: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}" if backend == "sqlite" else fresh_store_url(backend)
    with Workspace.open(url) as ws:
        ws.flows.add("Sales", columns=[Column("New", "Lead")])
        ada = ws.customers.add(Customer(name="Ada"))
        ws.customers.add(Customer(name="Grace"))
        ws.flows.hide("Sales", ada.id)
    _run(
        backend,
        url,
        *UNDO_11[backend],
        f"UPDATE {META_TABLE} SET value = '6' WHERE key = 'schema_version'",
    )
    with Workspace.open(url) as ws:
        [old] = ws.flows.hidden("Sales")
        assert (old.customer_id, old.hidden_by, old.hidden_at) == (ada.id, None, None)
        assert ws.flows.board("Sales").hidden == 1
        ws.flows.hide("Sales", 2)
        assert [(h.customer_id, h.hidden_by) for h in ws.flows.hidden("Sales")] == [
            (ada.id, None),
            (2, "system"),
        ]
        ws.flows.rename("Sales", "Deals")
        assert [e.kind for e in ws.flows.history("Deals")] == [FlowEventKind.RENAMED]
        if backend == "postgres":  # the triggers are back: a change wakes a watcher
            watcher = ws.changes(poll=0.05)
            assert next(watcher) == 0
            ws.customers.add(Customer(name="Linus"))
            assert next(watcher) == 1
            watcher.close()
    version = f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'"
    assert _run(backend, url, version) == [(str(SCHEMA_VERSION),)]
    indexes = (
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'customers_live%'"
        if backend == "sqlite"
        else "SELECT indexname FROM pg_indexes WHERE indexname LIKE 'customers_live%'"
        " AND schemaname = current_schema()"
    )
    assert sorted(str(row[0]) for row in _run(backend, url, indexes)) == [
        "customers_live_board",
        "customers_live_status",
    ]
