"""Stores of schema 5 migrate to 6: phone keys lose their extension, email words get their own kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline_core import Customer, Workspace
from pipeline_core.storage import SCHEMA_VERSION
from pipeline_core.storage.postgres_schema import MIGRATIONS as POSTGRES_MIGRATIONS
from pipeline_core.storage.sql.common import META_TABLE
from pipeline_core.storage.sqlite_schema import MIGRATIONS as SQLITE_MIGRATIONS

from .conftest import fresh_store_url
from .conftest import run_statements as _run


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_version_5_store_recomputes_contact_keys_and_search_terms(
    backend: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}" if backend == "sqlite" else fresh_store_url(backend)
    with Workspace.open(url) as ws:
        ws.settings.duplicates(allow_duplicates=True)
        ws.customers.add(Customer(name="Desk", phones=("+1 415 555 0132",)))
        ws.customers.add(
            Customer(name="Ext", phones=("+1 (415) 555-0132 ext. 99",), emails=("ann@x.org",))
        )
        ws.teams.add("T")
        ws.users.add("ann", "agent", ["T"])
        ws.customers.edit(2, team="T")
    # What schema 5 wrote: the extension in the key, email words as plain text terms.
    _run(
        backend,
        url,
        "UPDATE contact_keys SET key = '+14155550132;ext=99' WHERE customer_id = 2",
        "DROP TABLE search_index",
        *(
            s
            for s in (SQLITE_MIGRATIONS if backend == "sqlite" else POSTGRES_MIGRATIONS)[5]
            if "search_terms" in s
        ),
        "INSERT INTO search_terms (kind, term, customer_id, weight) VALUES ('t', 'ann', 2, 3)",
        f"UPDATE {META_TABLE} SET value = '5' WHERE key = 'schema_version'",
    )
    with Workspace.open(url) as ws:
        assert [c.customer_ids for c in ws.customers.dupes()] == [(1, 2)]
        assert [c.name for c in ws.customers.search("ann")] == ["Ext"]
        ws.access.set(hide_contacts_from_agents=True)
        assert ws.as_user("ann").customers.search("ann") == []
    version = f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'"
    assert _run(backend, url, version) == [(str(SCHEMA_VERSION),)]
