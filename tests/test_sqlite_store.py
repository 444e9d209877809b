"""SQLite specifics: what a file must be to open, schema versions, and its pragmas."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline_core import Customer, StoreError, Workspace
from pipeline_core.domain.serialization import dumps
from pipeline_core.storage import SCHEMA_VERSION, open_store
from pipeline_core.storage.sql.common import texts_json
from pipeline_core.storage.sqlite import SqliteStore
from pipeline_core.storage.sqlite_schema import LATEST


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_text_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("not a database\n" * 100)
    before = digest(path)
    with pytest.raises(StoreError, match="is not a SQLite database"):
        open_store(f"sqlite:///{path}")
    assert digest(path) == before
    assert not (tmp_path / "notes.db-wal").exists()


def test_foreign_sqlite_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    db.close()
    before = digest(path)
    with pytest.raises(StoreError, match=r"not a pipeline_core store.*invoices"):
        open_store(f"sqlite:///{path}")
    assert digest(path) == before


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    open_store(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE pipeline_meta SET value = ? WHERE key = 'schema_version'",
            (str(SCHEMA_VERSION + 1),),
        )
    db.close()
    before = digest(path)
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}, newer"):
        open_store(f"sqlite:///{path}")
    assert digest(path) == before


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory"):
        open_store(f"sqlite:///{tmp_path}")


def test_new_store_is_at_the_latest_version_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'new.db'}")
    assert isinstance(store, SqliteStore)
    db = store._db
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("SELECT value FROM pipeline_meta WHERE key='schema_version'").fetchone()[
        0
    ] == str(LATEST)
    store.close()
    assert LATEST == SCHEMA_VERSION


def test_data_survives_reopening(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    with Workspace.open(url) as ws:
        ada = ws.customers.add(Customer(name="Ada", tags=["VIP"]))
        ws.customers.move(ada.id, "Prospect")
    with Workspace.open(url) as ws:
        again = ws.customers.get(ada.id)
        assert again.status == "Prospect" and again.tags == ("VIP",)
        assert len(ws.customers.timeline(ada.id)) == 2


def test_two_connections_see_each_others_writes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    with Workspace.open(url) as first, Workspace.open(url) as second:
        ada = first.customers.add(Customer(name="Ada"))
        second.customers.move(ada.id, "Prospect")
        assert first.customers.get(ada.id).status == "Prospect"


@pytest.mark.parametrize("url", ["sqlite:", "sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_urls(url: str) -> None:
    with Workspace.open(url) as ws:
        assert ws.customers.add(Customer(name="Ada")).id == 1


def test_cached_settings_follow_other_connections(tmp_path: Path) -> None:
    from pipeline_core import Status, StatusMachine

    url = f"sqlite:///{tmp_path / 'cache.db'}"
    with Workspace.open(url) as first, Workspace.open(url) as second:
        assert first.statuses.show().names[0] == "Lead"
        service = StatusMachine([Status("Open"), Status("Closed")], {"Open": ["Closed"]})
        second.statuses.set(service)
        # The first connection had the machine cached; another connection's commit
        # must be seen at once.
        assert first.statuses.show().names == ("Open", "Closed")
        with second.store.transaction() as tx:
            tx.put_setting("x", {"n": 1})
        with first.store.transaction() as tx:
            assert tx.get_setting("x") == {"n": 1}
            value = tx.get_setting("x")
            assert isinstance(value, dict)
            value["n"] = 2  # a caller changing what it got changes nothing stored
        with first.store.transaction() as tx:
            assert tx.get_setting("x") == {"n": 1}


def test_rolled_back_settings_are_not_cached(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rollback.db'}"
    with Workspace.open(url) as ws:
        with pytest.raises(RuntimeError), ws.store.transaction() as tx:
            tx.put_setting("x", 1)
            assert tx.get_setting("x") == 1
            raise RuntimeError
        with ws.store.transaction() as tx:
            assert tx.get_setting("x") is None


@given(st.lists(st.text(), max_size=4).map(tuple))
def test_texts_json_is_the_json_encoders_text(values: tuple[str, ...]) -> None:
    assert texts_json(values) == dumps(list(values))
    assert json.loads(texts_json(values)) == list(values)
