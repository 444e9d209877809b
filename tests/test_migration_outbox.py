"""Stores of schema 6 migrate to 7: the outbox tables (fired, deliveries, notifications)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pipeline_core import Customer, Workspace
from pipeline_core.domain.automation import Action, Automation
from pipeline_core.domain.events import EventKind
from pipeline_core.storage import SCHEMA_VERSION
from pipeline_core.storage.sql.common import META_TABLE
from pipeline_core.storage.sqlite_schema import MIGRATIONS

from .conftest import fresh_store_url
from .conftest import run_statements as _run


def test_migration_7_is_one_self_contained_tuple_of_statements() -> None:
    statements = MIGRATIONS[7]
    created = {s.split()[5] for s in statements if s.startswith("CREATE TABLE IF NOT EXISTS")}
    assert created == {"fired", "deliveries", "notifications"}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_version_6_store_gains_the_outbox(backend: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}" if backend == "sqlite" else fresh_store_url(backend)
    with Workspace.open(url) as ws:
        ada = ws.customers.add(Customer(name="Ada")).id
        ws.customers.follow_up(ada, date(2020, 1, 3))
    # What schema 6 was: none of the outbox's tables.
    _run(
        backend,
        url,
        "DROP TABLE fired",
        "DROP TABLE deliveries",
        "DROP TABLE notifications",
        f"UPDATE {META_TABLE} SET value = '6' WHERE key = 'schema_version'",
    )
    with Workspace.open(url) as ws:
        ws.automations.add(
            Automation(
                name="tell",
                on=EventKind.REMINDER_DUE,
                actions=(
                    Action(kind="notify", value="team:North"),
                    Action(kind="webhook", value="http://127.0.0.1:9/x"),
                ),
            )
        )
        assert [r.customer_id for r in ws.reminders.run().reminders] == [ada]
        assert ws.reminders.run().reminders == ()
        assert [d.customer_id for d in ws.deliveries.list()] == [ada]
        assert [n.customer_id for n in ws.notifications.list()] == [ada]
    version = f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'"
    assert _run(backend, url, version) == [(str(SCHEMA_VERSION),)]
