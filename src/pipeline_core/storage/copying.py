"""Copying a whole workspace between SQL stores (SQLite and PostgreSQL), table by table.

Both backends keep the same concepts under the same table and column names, so a
copy reads each table of the source and writes the rows into the same table of
an empty target, in one target transaction, parents before children, then
checks that every table holds as many rows as it did in the source. The search
index is derived from the customers in each engine's own form (FTS5, tsvector):
it is not copied but built anew in the target, in the same transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

import attrs

from pipeline_core.errors import StoreError
from pipeline_core.storage.protocol import Store
from pipeline_core.storage.urls import redact_url

BATCH = 2_000
SKIPPED = frozenset({"pipeline_meta", "search_index"})


@attrs.frozen
class Table:
    """A table to copy: its columns, the tables it references, and its self-references."""

    name: str
    columns: tuple[str, ...]
    references: frozenset[str]
    self_references: tuple[str, ...] = ()


class TableAccess(Protocol):
    """What a copy needs of a SQL store."""

    def tables(self) -> dict[str, Table]:
        """The store's data tables by name."""
        ...

    def rows(self, table: Table, columns: Sequence[str]) -> Iterator[tuple[Any, ...]]:
        """Every row of a table, those columns, in primary-key order."""
        ...

    def count(self, table: str) -> int:
        """How many rows a table holds."""
        ...

    def write(self, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
        """Insert rows (values as the other backend gave them) inside the open transaction."""
        ...

    def set_column(self, table: str, column: str, pairs: Iterable[tuple[Any, Any]]) -> None:
        """``UPDATE table SET column = value WHERE id = key`` for each (key, value)."""
        ...

    def begin(self) -> None:
        """Start the copy's one transaction."""
        ...

    def reindex(self) -> None:
        """Build the search index of the copied customers, inside the open transaction."""
        ...

    def commit(self) -> None:
        """Make the copy visible, resetting id sequences where the backend has them."""
        ...

    def rollback(self) -> None:
        """Abandon the copy."""
        ...


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


class SqliteTables:
    """Table access to a SQLite store's connection."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    def tables(self) -> dict[str, Table]:
        rows = self._db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
        ).fetchall()
        virtual = [name for name, sql in rows if sql and sql.upper().startswith("CREATE VIRTUAL")]
        result = {}
        for name, _ in rows:
            # Full-text indexes (virtual tables and their shadows) rebuild themselves.
            if name in SKIPPED or name.startswith("sqlite_") or name in virtual:
                continue
            if any(name.startswith(f"{v}_") for v in virtual):
                continue
            columns = tuple(r[1] for r in self._db.execute(f"PRAGMA table_info({name})"))
            # foreign_key_list rows: (id, seq, referenced table, column, ...)
            keys = self._db.execute(f"PRAGMA foreign_key_list({name})").fetchall()
            result[name] = Table(
                name,
                columns,
                frozenset(key[2] for key in keys if key[2] != name),
                tuple(key[3] for key in keys if key[2] == name),
            )
        return result

    def rows(self, table: Table, columns: Sequence[str]) -> Iterator[tuple[Any, ...]]:
        cursor = self._db.execute(f"SELECT {', '.join(columns)} FROM {table.name} ORDER BY 1")
        while batch := cursor.fetchmany(BATCH):
            yield from batch

    def count(self, table: str) -> int:
        count: int = self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        return count

    def write(self, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
        marks = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
        self._db.executemany(sql, (tuple(_sqlite_value(v) for v in row) for row in rows))

    def set_column(self, table: str, column: str, pairs: Iterable[tuple[Any, Any]]) -> None:
        sql = f"UPDATE {table} SET {column} = ? WHERE id = ?"
        self._db.executemany(sql, ((value, key) for key, value in pairs))

    def begin(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def reindex(self) -> None:
        from pipeline_core.storage.sqlite import SqliteTransaction

        SqliteTransaction(self._db).reindex_search()

    def commit(self) -> None:
        self._db.execute("COMMIT")

    def rollback(self) -> None:
        self._db.execute("ROLLBACK")


class PostgresTables:
    """Table access to a PostgreSQL store's connection."""

    def __init__(self, connection: Any) -> None:
        self._db = connection

    def tables(self) -> dict[str, Table]:
        names = [
            row[0]
            for row in self._db.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            ).fetchall()
        ]
        result = {}
        for name in names:
            if name in SKIPPED:
                continue
            columns = tuple(
                row[0]
                for row in self._db.execute(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_schema = current_schema() AND table_name = %s"
                    " ORDER BY ordinal_position",
                    (name,),
                ).fetchall()
            )
            references = self._db.execute(
                "SELECT a.attname, c.confrelid::regclass::text FROM pg_constraint c"
                " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)"
                " WHERE c.contype = 'f' AND c.conrelid = %s::regclass",
                (name,),
            ).fetchall()
            result[name] = Table(
                name,
                columns,
                frozenset(target for _, target in references if target != name),
                tuple(column for column, target in references if target == name),
            )
        return result

    def rows(self, table: Table, columns: Sequence[str]) -> Iterator[tuple[Any, ...]]:
        with self._db.cursor(name=f"copy_{table.name}") as cursor:
            cursor.itersize = BATCH
            cursor.execute(f"SELECT {', '.join(columns)} FROM {table.name} ORDER BY 1")
            yield from cursor

    def count(self, table: str) -> int:
        count: int = self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        return count

    def write(self, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
        from psycopg.types.json import Jsonb

        # COPY: the server parses text from SQLite into each column's type; JSON read
        # from PostgreSQL arrives as Python lists and dicts and goes back as jsonb.
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with self._db.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(tuple(Jsonb(v) if isinstance(v, dict | list) else v for v in row))

    def set_column(self, table: str, column: str, pairs: Iterable[tuple[Any, Any]]) -> None:
        with self._db.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {table} SET {column} = %s WHERE id = %s",
                [(value, key) for key, value in pairs],
            )

    def begin(self) -> None:
        self._db.commit()  # no transaction of ours is open: start clean

    def reindex(self) -> None:
        from pipeline_core.storage.postgres import PostgresTransaction

        PostgresTransaction(self._db).reindex_search()

    def commit(self) -> None:
        for table in self.tables().values():
            if "id" in table.columns:
                # Copied ids were given explicitly; new rows must continue after them.
                self._db.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'),"
                    f" COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
                )
        self._db.commit()

    def rollback(self) -> None:
        self._db.rollback()


@contextmanager
def table_access(store: Store) -> Iterator[TableAccess]:
    """The table access of a SQL store on one of its connections; a clear error for any other.

    The connection is the store's own for the block (SQLite: held under its lock;
    PostgreSQL: taken from its pool), so the copy never shares it with a transaction.
    """
    from pipeline_core.storage.sqlite import SqliteStore

    if isinstance(store, SqliteStore):
        with store.connection() as sqlite_db:
            yield SqliteTables(sqlite_db)
        return
    try:
        from pipeline_core.storage.postgres import PostgresStore
    except ImportError:  # pragma: no cover - psycopg missing
        PostgresStore = None  # type: ignore[assignment,misc]  # noqa: N806
    if PostgresStore is not None and isinstance(store, PostgresStore):
        with store.connection() as postgres_db:
            yield PostgresTables(postgres_db)
        return
    raise StoreError(
        f"cannot copy {redact_url(store.url)!r}: copying works between SQL stores (sqlite:, postgresql:)"
    )


def _ordered(tables: dict[str, Table]) -> list[Table]:
    """Parents before the tables that reference them."""
    ordered: list[Table] = []
    placed: set[str] = set()
    pending = dict(sorted(tables.items()))
    while pending:
        ready = [t for t in pending.values() if t.references <= placed | {t.name}]
        if not ready:  # a cycle between tables: copy the rest in name order
            ready = list(pending.values())
        for table in ready:
            ordered.append(table)
            placed.add(table.name)
            del pending[table.name]
    return ordered


@attrs.frozen
class CopyReport:
    """What a copy moved: rows per table, equal in source and target."""

    source: str
    target: str
    rows: dict[str, int]


def copy_store(source: Store, target: Store) -> CopyReport:
    """Copy every table of ``source`` into the empty store ``target`` and verify the counts.

    One transaction on the target: a failure leaves it as empty as it was.
    """
    with table_access(source) as reader, table_access(target) as writer:
        return _copy(source, target, reader, writer)


def _copy(source: Store, target: Store, reader: TableAccess, writer: TableAccess) -> CopyReport:
    source_tables, target_tables = reader.tables(), writer.tables()
    missing = sorted(set(source_tables) - set(target_tables))
    if missing:
        raise StoreError(f"the target store lacks tables {', '.join(missing)}")
    busy = [name for name in source_tables if writer.count(name)]
    if busy:
        raise StoreError(
            f"the target store {redact_url(target.url)!r} is not empty (it has rows in {', '.join(busy)});"
            " copy into a new, empty store"
        )
    # Parents first by the references of either side: a table may hold a foreign key
    # in one backend's schema only (PostgreSQL leaves them off derived tables).
    source_tables = {
        name: attrs.evolve(
            table,
            references=table.references
            | (target_tables[name].references if name in target_tables else frozenset()),
        )
        for name, table in source_tables.items()
    }
    rows: dict[str, int] = {}
    writer.begin()
    try:
        for table in _ordered(source_tables):
            columns = [c for c in table.columns if c in target_tables[table.name].columns]
            later = [c for c in table.self_references if c in columns]
            deferred: dict[str, list[tuple[Any, Any]]] = {column: [] for column in later}

            def first_pass(
                values: Iterator[tuple[Any, ...]],
                columns: list[str] = columns,
                deferred: dict[str, list[tuple[Any, Any]]] = deferred,
            ) -> Iterator[tuple[Any, ...]]:
                # Self-references (parent, merged into) may point forward: set them after.
                spots = [columns.index(c) for c in deferred]
                for row in values:
                    if spots:
                        row_list = list(row)
                        for column, spot in zip(deferred, spots, strict=True):
                            if row_list[spot] is not None:
                                deferred[column].append((row_list[0], row_list[spot]))
                                row_list[spot] = None
                        row = tuple(row_list)
                    yield row

            writer.write(table.name, columns, first_pass(reader.rows(table, columns)))
            for column, pairs in deferred.items():
                writer.set_column(table.name, column, pairs)
            rows[table.name] = reader.count(table.name)
            copied = writer.count(table.name)
            if copied != rows[table.name]:
                raise StoreError(
                    f"table {table.name}: copied {copied} rows of {rows[table.name]}; nothing kept"
                )
        writer.reindex()
        writer.commit()
    except BaseException:
        writer.rollback()
        raise
    return CopyReport(source=redact_url(source.url), target=redact_url(target.url), rows=rows)
