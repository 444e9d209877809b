"""Stores of schema 6 (a search-term table, about nine rows per customer) migrate to 7:
the engine's text index, one row per customer, built in bulk from the customers."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline_core import Customer, Workspace
from pipeline_core.domain.folding import FOLDING
from pipeline_core.storage import SCHEMA_VERSION
from pipeline_core.storage.postgres_schema import MIGRATIONS as POSTGRES_MIGRATIONS
from pipeline_core.storage.sql.common import FOLDING_KEY, META_TABLE
from pipeline_core.storage.sqlite_schema import MIGRATIONS as SQLITE_MIGRATIONS

from .conftest import fresh_store_url
from .conftest import run_statements as _run

_NOW = "2025-01-01T00:00:00+00:00"
_PEOPLE = [
    ("Zoë Old", '["zoe@old.example"]', '["+1 415 555 0132"]', '["vip"]'),
    ("Łukasz Wójcik", "[]", "[]", '["wholesale lead"]'),
    ("Ann Smith", '["ann@x.org"]', "[]", "[]"),
]


def _schema_6_store(backend: str, tmp_path: Path) -> str:
    """A store as release 6 left it: its tables, customers, and (stale) search terms."""
    url = f"sqlite:///{tmp_path / 'old.db'}" if backend == "sqlite" else fresh_store_url(backend)
    migrations = SQLITE_MIGRATIONS if backend == "sqlite" else POSTGRES_MIGRATIONS
    statements = [f"CREATE TABLE {META_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)"]
    statements += [s for version in range(1, 7) for s in migrations[version]]
    for name, emails, phones, tags in _PEOPLE:
        statements.append(
            "INSERT INTO customers (name, status, created_at, updated_at, version, emails,"
            f" phones, tags) VALUES ('{name}', 'Lead', '{_NOW}', '{_NOW}', 1, '{emails}',"
            f" '{phones}', '{tags}')"
        )
    statements += [
        # A term schema 6 would never have written: the migration must not keep it.
        "INSERT INTO search_terms (kind, term, customer_id, weight) VALUES ('t', 'ghost', 1, 4)",
        f"INSERT INTO {META_TABLE} VALUES ('schema_version', '6')",
        f"INSERT INTO {META_TABLE} VALUES ('{FOLDING_KEY}', '{FOLDING}')",
    ]
    _run(backend, url, *statements)
    return url


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_version_6_store_moves_its_search_to_the_text_index(backend: str, tmp_path: Path) -> None:
    url = _schema_6_store(backend, tmp_path)
    with Workspace.open(url) as ws:
        assert [c.name for c in ws.customers.search("zoe")] == ["Zoë Old"]
        assert [c.name for c in ws.customers.search("5550132")] == ["Zoë Old"]
        assert [c.name for c in ws.customers.search("lukasz")] == ["Łukasz Wójcik"]
        assert [c.name for c in ws.customers.search("lead")] == ["Łukasz Wójcik"]
        assert [c.name for c in ws.customers.search("ann@x.org")] == ["Ann Smith"]
        assert ws.customers.search("ghost") == []
        ws.teams.add("T")
        ws.users.add("ann", "agent", ["T"])
        ws.customers.edit(3, team="T")
        ws.access.set(hide_contacts_from_agents=True)
        assert ws.as_user("ann").customers.search("x") == []
        assert ws.customers.add(Customer(name="New Zoe")).id == 4
        assert [c.name for c in ws.customers.search("zoe")] == [
            "Zoë Old",
            "New Zoe",
        ]  # a tie: oldest first
    tables = (
        "SELECT name FROM sqlite_master WHERE name LIKE 'search%' AND type = 'table'"
        " AND name NOT LIKE 'search_index_%' ORDER BY name"
        if backend == "sqlite"
        else "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        " AND tablename LIKE 'search%' ORDER BY tablename"
    )
    assert _run(backend, url, tables) == [("search_index",)]
    key = "rowid" if backend == "sqlite" else "customer_id"
    assert _run(backend, url, f"SELECT {key} FROM search_index ORDER BY 1") == [
        (1,),
        (2,),
        (3,),
        (4,),
    ]
    version = f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'"
    assert _run(backend, url, version) == [(str(SCHEMA_VERSION),)]


@pytest.mark.postgres
def test_postgres_side_tables_carry_no_foreign_key_checks_and_events_keep_theirs(
    tmp_path: Path,
) -> None:
    url = _schema_6_store("postgres", tmp_path)
    Workspace.open(url).close()
    referencing = (
        "SELECT conrelid::regclass::text FROM pg_constraint WHERE contype = 'f'"
        " AND confrelid = 'customers'::regclass ORDER BY 1"
    )
    tables = {table for (table,) in _run("postgres", url, referencing)}
    assert {"customer_tags", "customer_fields", "contact_keys"}.isdisjoint(tables)
    assert {"events", "tasks", "customers"} <= tables
    with Workspace.open(url) as ws:  # the side tables still follow their customer
        ws.customers.edit(1, tags=["gold"])
        assert [c.name for c in ws.customers.list('tags any ("gold")')] == ["Zoë Old"]
