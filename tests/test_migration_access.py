"""Stores written before access (schema 3) migrate to schema 5 and index their customers."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pipeline_core import Customer, PermissionDenied, Workspace
from pipeline_core.storage.sql.common import META_TABLE
from pipeline_core.storage.sqlite_schema import MIGRATIONS

from .conftest import fresh_store_url


def test_a_version_3_sqlite_store_gains_users_and_search(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute(f"CREATE TABLE {META_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    for version in (1, 2, 3):
        for statement in MIGRATIONS[version]:
            db.execute(statement)
    db.execute(
        "INSERT INTO customers (name, status, created_at, updated_at, version, phones)"
        " VALUES ('Zoë Old', 'Lead', '2025-01-01T00:00:00.000000+00:00',"
        " '2025-01-01T00:00:00.000000+00:00', 1, '[\"+1 415 555 0132\"]')"
    )
    db.execute(f"INSERT INTO {META_TABLE} VALUES ('schema_version', '3')")
    db.commit()
    db.close()
    with Workspace.open(f"sqlite:///{path}") as ws:
        assert [c.name for c in ws.customers.search("zoe")] == ["Zoë Old"]
        assert [c.name for c in ws.customers.search("0132")] == ["Zoë Old"]
        ws.teams.add("T")
        assert ws.users.add("ann", "agent", ["T"]).teams == ("T",)
        assert ws.customers.add(Customer(name="New")).id == 2


@pytest.mark.postgres
def test_a_version_3_postgres_store_is_indexed_on_migration() -> None:
    import psycopg

    url = fresh_store_url("postgres")
    with Workspace.open(url) as ws:
        ws.customers.add(Customer(name="Zoë Old", phones=("+1 415 555 0132",)))
    with psycopg.connect(url, autocommit=True) as db:
        for table in ("search_index", "team_members", "users", "teams"):
            db.execute(f"DROP TABLE {table}")
        db.execute("DROP INDEX customers_team")
        db.execute(f"UPDATE {META_TABLE} SET value = '3' WHERE key = 'schema_version'")
    with Workspace.open(url) as ws:
        assert [c.name for c in ws.customers.search("ZOE")] == ["Zoë Old"]
        assert [c.name for c in ws.customers.search("5550132")] == ["Zoë Old"]


def test_a_copy_keeps_users_teams_and_search_and_is_for_admins(tmp_path: Path) -> None:
    with Workspace.open(f"sqlite:///{tmp_path / 'from.db'}") as ws:
        ws.teams.add("T")
        ws.users.add("ann", "agent", ["T"])
        ws.customers.add(Customer(name="Zoë", team="T", phones=("+1 415 555 0132",)))
        ann = Workspace(ws.store, actor="ann")
        with pytest.raises(PermissionDenied, match="copy the workspace"):
            ann.migrate(f"sqlite:///{tmp_path / 'stolen.db'}")
        assert not (tmp_path / "stolen.db").exists()
        ws.migrate(f"sqlite:///{tmp_path / 'to.db'}")
    with Workspace.open(f"sqlite:///{tmp_path / 'to.db'}", actor="ann") as copy:
        user = copy.whoami().user
        assert user is not None and user.teams == ("T",)
        assert [c.name for c in copy.customers.search("0132")] == ["Zoë"]


def test_a_membership_removed_in_another_process_takes_effect_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    with Workspace.open(url) as admin, Workspace.open(url) as setup:
        setup.teams.add("T")
        setup.users.add("ann", "agent", ["T"])
        customer = setup.customers.add(Customer(name="Tia", team="T"))
        setup.access.set(hide_contacts_from_agents=False)
        with Workspace.open(url, actor="ann") as ann:  # its own connection, kept open
            assert [c.id for c in ann.customers.list()] == [customer.id]
            admin.teams.leave("T", "ann")
            assert ann.customers.list() == []
            admin.access.set(hide_contacts_from_agents=True)
            admin.teams.join("T", "ann")
            admin.customers.edit(customer.id, emails=("tia@x.org",))
            assert ann.customers.get(customer.id).emails == ("(hidden)",)
