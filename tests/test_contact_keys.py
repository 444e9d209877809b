"""Contact keys in the stores: maintained on write, looked up by index, rebuilt by settings."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pipeline_core import Customer, Workspace
from pipeline_core.domain.duplicate_settings import DuplicateSettings
from pipeline_core.domain.normalize import ContactKey
from pipeline_core.errors import InvalidValue, NotFound
from pipeline_core.storage import postgres_schema
from pipeline_core.storage.sql.common import META_TABLE
from pipeline_core.storage.sqlite import SqliteStore
from pipeline_core.storage.sqlite_schema import LATEST, MIGRATIONS

from .conftest import new_postgres_database
from .postgres_server import PostgresCluster

ADA_PHONE = ContactKey("phone", "+14155550132")
ADA_EMAIL = ContactKey("email", "ada@example.com")


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    """The conftest workspace (memory, SQLite and PostgreSQL in turn)."""
    return workspace


def keys_of(ws: Workspace, customer_id: int) -> set[ContactKey]:
    with ws.store.transaction() as tx:
        return set(tx.contact_keys(customer_id))


def holders(ws: Workspace, *keys: ContactKey) -> list[tuple[ContactKey, int]]:
    with ws.store.transaction() as tx:
        return tx.find_by_keys(keys)


def test_insert_indexes_the_valid_keys_only(ws: Workspace) -> None:
    ada = ws.customers.add(
        Customer(
            name="Ada",
            emails=["Ada <ADA@example.com>"],
            phones=["+1 (415) 555-0132", "not a number"],
            whatsapp="14155550132",
        )
    )
    assert keys_of(ws, ada.id) == {ADA_PHONE, ADA_EMAIL}
    assert ada.phones == ("+1 (415) 555-0132", "not a number")  # typed text is kept
    assert holders(ws, ADA_PHONE, ContactKey("phone", "not a number")) == [(ADA_PHONE, ada.id)]


def test_update_replaces_the_keys(ws: Workspace) -> None:
    ada = ws.customers.add(Customer(name="Ada", phones=["+14155550132"]))
    ws.customers.edit(ada.id, phones=["+44 20 7946 0018"], emails=["a@b.org"])
    assert keys_of(ws, ada.id) == {
        ContactKey("phone", "+442079460018"),
        ContactKey("email", "a@b.org"),
    }
    assert holders(ws, ADA_PHONE) == []


def test_find_by_keys_lists_every_holder_by_id(ws: Workspace) -> None:
    first = ws.customers.add(Customer(name="A", phones=["+14155550132"]))
    second = ws.customers.add(
        Customer(name="B", emails=["ada@example.com"], phones=["+1 415 555 0132"]),
        on_duplicate="allow",
    )
    assert holders(ws, ADA_EMAIL, ADA_PHONE, ADA_PHONE) == [
        (ADA_PHONE, first.id),
        (ADA_EMAIL, second.id),
        (ADA_PHONE, second.id),
    ]


def test_settings_round_trip_and_validate(ws: Workspace) -> None:
    assert ws.settings.duplicates() == DuplicateSettings()
    assert ws.settings.duplicates(default_region=" gb ").default_region == "GB"
    updated = ws.settings.duplicates(allow_duplicates=True)
    assert updated == DuplicateSettings(default_region="GB", allow_duplicates=True)
    assert ws.settings.duplicates() == updated
    assert ws.settings.duplicates(default_region="").default_region is None
    with pytest.raises(InvalidValue, match="expected true or false, not 'maybe'"):
        ws.settings.duplicates(fold_gmail="maybe")  # type: ignore[arg-type]
    with pytest.raises(InvalidValue, match="'XX' is not a region"):
        ws.settings.duplicates(default_region="XX")
    assert ws.settings.duplicates().allow_duplicates is True


def test_changing_a_key_setting_rebuilds_every_key(ws: Workspace) -> None:
    national = ws.customers.add(Customer(name="N", phones=["020 7946 0018"]))
    gmail = ws.customers.add(Customer(name="G", emails=["a.b+x@gmail.com"]))
    assert keys_of(ws, national.id) == set()  # no region: a national number matches nothing
    ws.settings.duplicates(default_region="GB")
    ws.settings.duplicates(fold_gmail=True)
    assert keys_of(ws, national.id) == {ContactKey("phone", "+442079460018")}
    assert keys_of(ws, gmail.id) == {ContactKey("email", "ab@gmail.com")}
    ws.settings.duplicates(default_region="")
    assert keys_of(ws, national.id) == set()


def test_tombstones_lose_their_keys_and_lead_to_the_primary(ws: Workspace) -> None:
    ada = ws.customers.add(Customer(name="Ada", phones=["+14155550132"]))
    copy = ws.customers.add(Customer(name="Ada 2", emails=["ada@example.com"]))
    ws.customers.merge(ada.id, [copy.id])
    assert keys_of(ws, copy.id) == set()
    assert keys_of(ws, ada.id) == {ADA_PHONE, ADA_EMAIL}
    assert ws.customers.get(copy.id).id == ada.id
    with ws.store.transaction() as tx:
        assert tx.merged_into(copy.id) == ada.id
        assert tx.merged_into(ada.id) is None
        with pytest.raises(NotFound):
            tx.merged_into(999)


# SQLite specifics -------------------------------------------------------------------


def _plan(db: sqlite3.Connection, sql: str, params: tuple[object, ...] = ()) -> str:
    rows = db.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
    return " | ".join(str(row[-1]) for row in rows)


def test_sqlite_key_lookups_and_groups_use_the_index(tmp_path: Path) -> None:
    store = SqliteStore(f"sqlite:///{tmp_path / 'keys.db'}")
    store.close()
    db = sqlite3.connect(tmp_path / "keys.db")
    lookup = _plan(
        db, "SELECT customer_id FROM contact_keys WHERE kind = ? AND key = ?", ("p", "k")
    )
    assert "USING PRIMARY KEY" in lookup and "SCAN" not in lookup
    groups = _plan(
        db,
        "SELECT kind, key, group_concat(customer_id) FROM contact_keys"
        " GROUP BY kind, key HAVING COUNT(*) > 1",
    )
    assert "TEMP B-TREE" not in groups  # grouped in index order, no sort
    children = _plan(db, "SELECT id FROM customers WHERE parent_id = ? ORDER BY id", (1,))
    assert "customers_parent" in children
    hides = _plan(db, "SELECT flow_id FROM flow_hides WHERE customer_id = ?", (1,))
    assert "flow_hides_customer" in hides
    db.close()


def test_migrating_a_version_1_store_fills_in_contact_keys(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute(f"CREATE TABLE {META_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    for statement in MIGRATIONS[1]:
        db.execute(statement)
    db.execute(f"INSERT INTO {META_TABLE} VALUES ('schema_version', '1')")
    db.execute("""INSERT INTO settings VALUES ('duplicates', '{"default_region": "BE"}')""")
    db.execute(
        "INSERT INTO customers (name, status, created_at, updated_at, version, emails, phones)"
        " VALUES ('Old', 'Lead', '2025-01-01T00:00:00+00:00', '2025-01-01T00:00:00+00:00', 1,"
        ' \'["Old <OLD@Example.org>", "broken"]\', \'["0470 12 34 56"]\')'
    )
    db.commit()
    db.close()
    with Workspace.open(f"sqlite:///{path}") as ws:
        assert keys_of(ws, 1) == {
            ContactKey("email", "old@example.org"),
            ContactKey("phone", "+32470123456"),
        }
        assert ws.customers.list()[0].name == "Old"
    db = sqlite3.connect(path)
    assert db.execute(f"SELECT value FROM {META_TABLE}").fetchone() == (str(LATEST),)
    db.close()


def test_migrating_a_version_1_postgres_store_fills_in_contact_keys(
    postgres_cluster: PostgresCluster,
) -> None:
    import psycopg

    url = new_postgres_database(postgres_cluster)
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f"CREATE TABLE {META_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        for statement in postgres_schema.MIGRATIONS[1]:
            db.execute(statement)
        db.execute(f"INSERT INTO {META_TABLE} VALUES ('schema_version', '1')")
        db.execute("""INSERT INTO settings VALUES ('duplicates', '{"default_region": "BR"}')""")
        db.execute(
            "INSERT INTO customers (name, status, created_at, updated_at, version, emails, phones)"
            " VALUES ('Velho', 'Lead', now(), now(), 1, '[\"v@x.com.br\"]', '[\"(11) 91234-5678\"]')"
        )
    with Workspace.open(url) as ws:
        assert ws.settings.duplicates().default_region == "BR"
        assert keys_of(ws, 1) == {
            ContactKey("email", "v@x.com.br"),
            ContactKey("phone", "+5511912345678"),
        }
