"""The SQLite store: the embedded default. stdlib sqlite3, WAL, foreign keys, versioned schema."""

from __future__ import annotations

import json
import operator
import sqlite3
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

from pipeline_core.customer import (
    Customer,
    RowEncoder,
    compiled_builder,
    trusted_replace,
    with_version,
)
from pipeline_core.domain.events import Event, with_id
from pipeline_core.domain.folding import FOLDING
from pipeline_core.domain.normalize import ContactKey, NormalizeOptions, index_keys
from pipeline_core.domain.search import SearchQuery, index_parts
from pipeline_core.domain.serialization import dumps, from_typed_field_value
from pipeline_core.errors import ConcurrencyError, MergedMeanwhile, NotFound, StoreError
from pipeline_core.rules.ast import MATCH_ALL, MatchAll, Rule
from pipeline_core.rules.sql import SQL_FUNCTIONS, SQLITE
from pipeline_core.storage.protocol import NewCustomer
from pipeline_core.storage.sql.access import SEARCH_ATTRIBUTES, AccessQueries
from pipeline_core.storage.sql.common import (
    CONTACT_ATTRIBUTES,
    FOLDING_KEY,
    META_TABLE,
    SELECT_COLUMNS,
    STORED_ATTRIBUTES,
    TEXT_ROW_COLUMNS,
    customer_rows,
    encode_attributes,
    iso_moment,
    no_workspace,
    status_update,
    stored_schema_version,
)
from pipeline_core.storage.sql.customers import CustomerQueries
from pipeline_core.storage.sql.life import LifeQueries
from pipeline_core.storage.sql.lists import ListQueries
from pipeline_core.storage.sql.outbox import OutboxQueries
from pipeline_core.storage.sql.records import RecordQueries
from pipeline_core.storage.sql.reports import (
    SQLITE_MONTH,
    SQLITE_STAGE_TIMES,
    ReportQueries,
    sqlite_decimal,
)
from pipeline_core.storage.sql.setup import SetupQueries
from pipeline_core.storage.sqlite_schema import (
    CONTACT_KEYS_CHANGED,
    LATEST,
    MIGRATIONS,
    SEARCH_VERSION,
)

CACHE_KIB = 64 * 1024
"""Page cache per connection (KiB)."""

BULK_CACHE_BYTES_PER_ROW = 96
"""Page cache a bulk import gets per row, on top of ``CACHE_KIB``: about what one row adds
to the indexes written in random order (contact keys, the text index's segments)."""

BULK_CACHE_KIB = 96 * 1024
"""The most page cache a bulk import gets (KiB): an import's peak memory stays bounded."""

BULK_CHECKPOINT_PAGES = 10_000
"""WAL pages between checkpoints during a bulk import (SQLite's default is 1000): each
checkpoint waits for the disk, and an import writes hundreds of megabytes."""


_STORED_VALUES = operator.attrgetter(*STORED_ATTRIBUTES)
"""A customer's stored attributes as one tuple, in ``STORED_ATTRIBUTES`` order."""
# One text object for every call: sqlite3's statement cache then hashes it once.
_LOAD = f"SELECT {SELECT_COLUMNS}, c.merged_into FROM customers c WHERE c.id = ?"


_SCAN_JSON: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _texts(text: str) -> tuple[str, ...]:
    # Most lists are empty: skip the JSON decoder for them (rows are read in bulk).
    if text == "[]":
        return ()
    # The C scanner ``json.loads`` ends in, without its two Python frames (a row has
    # four lists); anything but one whole JSON value goes the long way and its error.
    try:
        values, end = _SCAN_JSON(text, 0)
    except StopIteration:  # the scanner's "no value here"
        end = -1
    return tuple(values) if end == len(text) else tuple(json.loads(text))


def _fields(text: str) -> dict[str, Any]:
    return {key: from_typed_field_value(pair) for key, pair in json.loads(text).items()}


# Straight-line code per attribute (``compiled_builder``), the common values inline:
# empty lists and fields, absent moments. ``source`` is a row of ``SELECT_COLUMNS``.
_customer: Callable[[Sequence[Any]], Customer] = compiled_builder(
    {
        "id": "source[0]",
        "name": "source[1]",
        "emails": "() if source[20] == '[]' else texts(source[20])",
        "phones": "() if source[21] == '[]' else texts(source[21])",
        "whatsapp": "source[7]",
        "country": "source[6]",
        "status": "source[2]",
        "folder": "source[3]",
        "tags": "() if source[22] == '[]' else texts(source[22])",
        "fields": "{} if source[24] == '{}' else fields(source[24])",
        "source": "source[4]",
        "team": "source[5]",
        "workers": "() if source[23] == '[]' else texts(source[23])",
        "parent_id": "source[8]",
        "value": "None if source[9] is None else Decimal(source[9])",
        "currency": "source[10]",
        "outcome": "source[11]",
        "order_id": "source[12]",
        "lead_notes": "source[13]",
        "created_at": "moment(source[14])",
        "updated_at": "moment(source[15])",
        "converted_at": "None if source[16] is None else moment(source[16])",
        "last_contacted_at": "None if source[17] is None else moment(source[17])",
        "next_follow_up": "None if source[18] is None else day(source[18])",
        "closed_at": "None if source[25] is None else moment(source[25])",
        "lost_reason": "source[26]",
        "version": "source[19]",
    },
    {
        "texts": _texts,
        "fields": _fields,
        "Decimal": Decimal,
        "moment": datetime.fromisoformat,
        "day": date.fromisoformat,
    },
)
"""A Customer from a row of ``SELECT_COLUMNS`` (what the store wrote after validating it)."""


class SqliteTransaction(
    LifeQueries,
    SetupQueries,
    CustomerQueries,
    ListQueries,
    ReportQueries,
    AccessQueries,
    OutboxQueries,
    RecordQueries,
):
    """A unit of work on one SQLite connection (BEGIN IMMEDIATE ... COMMIT).

    The SQL both backends share lives in the ``sql_*`` mixins; what is here is
    SQLite's own: its hooks (ISO text moments, JSON text), the per-transaction
    customer cache that the hot paths (get, update, move) read, and the queries
    written in SQLite's idiom.
    """

    _db: sqlite3.Connection
    _dialect = SQLITE
    TRUE = "1"
    HOLDERS = "group_concat(k.customer_id)"
    MONTH = SQLITE_MONTH
    SUMMED = "c.value_num"
    STAGE_TIMES = SQLITE_STAGE_TIMES
    SEARCH_KEY = "rowid"
    SEARCH_INSERT = (
        "INSERT INTO search_index (rowid, names, emails, tags, phones) VALUES (?, ?, ?, ?, ?)"
    )

    def __init__(
        self, connection: sqlite3.Connection, cache: dict[tuple[str, str], Any] | None = None
    ) -> None:
        self._db = connection
        # Settings and status machines, kept by the store between transactions for as
        # long as no other connection commits (PRAGMA data_version says when one did).
        self._cache = {} if cache is None else cache
        # What this transaction last read or wrote of each customer: an update then
        # writes only the columns that changed, with no extra read.
        self._seen: dict[int, Customer] = {}
        self._prefetched: Customer | None = None
        self._options: NormalizeOptions | None = None

    # the dialect's hooks ---------------------------------------------------------

    def _customer_from_row(self, row: Sequence[Any]) -> Customer:
        return _customer(row)

    def _sql(self, text: str) -> str:
        return text  # "?" is SQLite's own placeholder

    def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._db.executemany(sql, rows)

    def _insert_id(self, text: str, params: Sequence[Any]) -> int:
        row_id = self._db.execute(text, params).lastrowid
        assert row_id is not None
        return row_id

    def _moment_out(self, moment: datetime | None) -> str | None:
        return iso_moment(moment)

    def _moment_in(self, stored: Any) -> datetime:
        return datetime.fromisoformat(stored)

    def _day_out(self, day: date | None) -> str | None:
        return None if day is None else day.isoformat()

    def _json_out(self, value: Any) -> str:
        return dumps(value)

    def _json_in(self, stored: Any) -> Any:
        return json.loads(stored)

    def _cached(self, key: tuple[str, str], load: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = load()
        return self._cache[key]

    def _forget(self, key: tuple[str, str]) -> None:
        self._cache.pop(key, None)

    def _holder_ids(self, holders: Any) -> tuple[int, ...]:
        return tuple(sorted(map(int, holders.split(","))))

    def _total(self, total: Any) -> Decimal:
        return sqlite_decimal(total)

    # customers -----------------------------------------------------------------

    def get_customer(self, customer_id: int, *, scope: Rule = MATCH_ALL) -> Customer:
        prefetched, self._prefetched = self._prefetched, None
        if not isinstance(scope, MatchAll):
            # The actor's scope is part of the query: a prefetched row is never used.
            where, params = self._scoped("c.id = ?", (customer_id,), scope)
            found = self._db.execute(
                f"SELECT {SELECT_COLUMNS} FROM customers c WHERE {where}", params
            ).fetchone()
            if found is None:
                raise NotFound(f"no customer with id {customer_id}")
            customer = self._seen[customer_id] = _customer(found)
            return customer
        if prefetched is not None and prefetched.id == customer_id:
            return prefetched
        return self._load(customer_id)[0]

    def _load(self, customer_id: int) -> tuple[Customer, int | None]:
        row = self._db.execute(
            _LOAD,
            (customer_id,),
        ).fetchone()
        if row is None:
            raise NotFound(f"no customer with id {customer_id}")
        customer = self._seen[customer_id] = _customer(row)
        return customer, row[-1]

    def lock_customer(self, customer_id: int, *, scope: Rule = MATCH_ALL) -> Customer:
        # BEGIN IMMEDIATE already holds the write lock; what is left is refusing a
        # tombstone. A prefetched row is known live (merged_into just said so).
        prefetched = self._prefetched
        if prefetched is None or prefetched.id != customer_id:
            customer, target = self._load(customer_id)
            if target is not None:
                raise MergedMeanwhile(customer_id, target)
            if isinstance(scope, MatchAll):
                self._prefetched = None  # as ``get_customer`` would have taken it
                return customer  # the row just read is the answer: no second look-up
            self._prefetched = customer
        return self.get_customer(customer_id, scope=scope)

    def _insert_customer_row(self, customer: Customer) -> int:
        pairs = encode_attributes(customer, STORED_ATTRIBUTES)
        columns = ", ".join(column for column, _ in pairs)
        marks = ", ".join("?" for _ in pairs)
        return self._insert_id(
            f"INSERT INTO customers ({columns}, version) VALUES ({marks}, 1)",
            [value for _, value in pairs],
        )

    def insert_customers(self, customers: Sequence[NewCustomer]) -> list[int]:
        if not customers:
            return []
        # BEGIN IMMEDIATE holds the write lock, so the next ids are ours to hand out
        # (what SQLite itself would pick: one more than the largest).
        first: int = self._db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM customers").fetchone()[
            0
        ]
        ids = range(first, first + len(customers))
        numbered = list(zip(ids, customers, strict=True))
        marks = ", ".join("?" for _ in range(len(STORED_ATTRIBUTES) + 2))
        self._db.executemany(
            f"INSERT INTO customers ({TEXT_ROW_COLUMNS}, version) VALUES ({marks}, 1)",
            [(customer_id, *new.rows[0]) for customer_id, new in numbered],
        )
        self._db.executemany(
            "INSERT INTO customer_tags (customer_id, tag) VALUES (?, ?)",
            [(customer_id, tag) for customer_id, new in numbered for tag in new.rows[1]],
        )
        self._db.executemany(
            "INSERT INTO customer_fields (customer_id, key, kind, text_value, num_value)"
            " VALUES (?, ?, ?, ?, ?)",
            [(customer_id, *row) for customer_id, new in numbered for row in new.rows[2]],
        )
        # In key order: the batch's keys land in the primary key's pages one after
        # another instead of one random page each.
        self._db.executemany(
            "INSERT OR IGNORE INTO contact_keys (kind, key, customer_id) VALUES (?, ?, ?)",
            sorted(
                (key.kind, key.key, customer_id)
                for customer_id, new in numbered
                for key in new.keys
            ),
        )
        self._write_documents([(customer_id, *new.document) for customer_id, new in numbered])
        return list(ids)

    def row_encoder(self) -> RowEncoder:
        return customer_rows

    def prepare_bulk_load(self, rows: int) -> None:
        # Settings of the connection, kept after the import: a larger cache is only a
        # limit (pages are taken as they are used), and checkpoints stay automatic.
        cache = min(BULK_CACHE_KIB, CACHE_KIB + rows * BULK_CACHE_BYTES_PER_ROW // 1024)
        current = -self._db.execute("PRAGMA cache_size").fetchone()[0]
        if cache > current:
            self._db.execute(f"PRAGMA cache_size = -{int(cache)}")
        self._db.execute(f"PRAGMA wal_autocheckpoint = {BULK_CHECKPOINT_PAGES}")

    def update_customer(self, customer: Customer) -> Customer:
        self._prefetched = None
        before = self._seen.get(customer.id)
        if before is None or before.version != customer.version:
            before = self.get_customer(customer.id)
            if before.version != customer.version:
                raise ConcurrencyError(customer.id, customer.version, before.version)
        # Copies share the values they did not change (``trusted_replace``), so identity
        # settles most attributes before any ``==``.
        changed = [
            name
            for name, old, new in zip(
                STORED_ATTRIBUTES, _STORED_VALUES(before), _STORED_VALUES(customer), strict=True
            )
            if old is not new and old != new
        ]
        pairs = encode_attributes(customer, changed)
        assignments = "".join(f"{column} = ?, " for column, _ in pairs)
        cursor = self._db.execute(
            f"UPDATE customers SET {assignments}version = version + 1"
            " WHERE id = ? AND version = ? AND merged_into IS NULL",
            [*(value for _, value in pairs), customer.id, customer.version],
        )
        if cursor.rowcount == 0:
            self._refuse_write(customer)
        if "tags" in changed:
            self._write_tags(customer.id, customer.tags, replace=True)
        if "fields" in changed:
            self._write_fields(customer.id, dict(customer.fields), replace=True)
        if not CONTACT_ATTRIBUTES.isdisjoint(changed):
            self._db.execute("DELETE FROM contact_keys WHERE customer_id = ?", (customer.id,))
            self._write_keys(customer.id, index_keys(customer, self._normalize_options()))
        if SEARCH_ATTRIBUTES.intersection(changed):
            self._write_terms(customer, replace=True)
        stored = self._seen[customer.id] = with_version(customer, customer.version + 1)
        return stored

    def update_status(self, customer: Customer, changes: Mapping[str, Any]) -> Customer:
        self._prefetched = None
        cursor = self._db.execute(*status_update(customer, changes, "?"))
        if cursor.rowcount == 0:
            self._refuse_write(customer)
        # The one copy a move builds: the changes and the new version applied together.
        stored = self._seen[customer.id] = trusted_replace(
            customer, version=customer.version + 1, **changes
        )
        return stored

    def _refuse_write(self, customer: Customer) -> NoReturn:
        """Why a checked ``UPDATE`` of ``customer`` changed no row: the matching error."""
        self._seen.pop(customer.id, None)
        stored, target = self._load(customer.id)
        if target is not None:
            raise MergedMeanwhile(customer.id, target)
        raise ConcurrencyError(customer.id, customer.version, stored.version)

    def _write_keys(self, customer_id: int, keys: Sequence[ContactKey]) -> None:
        self._db.executemany(
            "INSERT INTO contact_keys (kind, key, customer_id) VALUES (?, ?, ?)",
            [(key.kind, key.key, customer_id) for key in keys],
        )

    def _insert_keys(self, batch: list[tuple[str, str, int]]) -> None:
        self._db.executemany(
            "INSERT OR IGNORE INTO contact_keys (kind, key, customer_id) VALUES (?, ?, ?)", batch
        )
        batch.clear()

    def customers_of_worker(self, worker: str, *, scope: Rule = MATCH_ALL) -> list[Customer]:
        return self._scoped_customers(
            "EXISTS (SELECT 1 FROM json_each(c.workers) w WHERE w.value = ?)", (worker,), scope
        )

    def _search_matches(self, query: SearchQuery) -> tuple[str, list[Any]]:
        # One FTS5 query finds the customers matching every part (a prefix in any of
        # the part's columns); each scoring check is an FTS5 query of its own, run
        # once per search (a list subquery), not per customer.
        cases: list[str] = []
        params: list[Any] = []
        wanted: list[str] = []
        for columns, token, checks in index_parts(query):
            wanted.append(f'({{{" ".join(columns)}}} : "{token}"*)')
            whens = []
            for check in checks[:-1]:
                whens.append(
                    f"WHEN f.rowid IN (SELECT rowid FROM search_index(?)) THEN {check.points}"
                )
                params.append(f'{check.column} : "{check.token}"{"" if check.whole else "*"}')
            cases.append(f"CASE {' '.join(whens)} ELSE {checks[-1].points} END")
        params.append(" AND ".join(wanted))
        return (
            f"SELECT f.rowid AS customer_id, {' + '.join(cases)} AS score FROM search_index(?) f",
            params,
        )

    def custom_field_kinds(self) -> dict[str, frozenset[str]]:
        # A skip scan over the (key, kind) index: a few seeks per distinct pair, not a row scan.
        kinds: dict[str, set[str]] = {}
        first = "SELECT key, kind FROM customer_fields WHERE key > ? ORDER BY key, kind LIMIT 1"
        same = "SELECT kind FROM customer_fields WHERE key = ? AND kind > ? ORDER BY kind LIMIT 1"
        row = self._db.execute(first, ("",)).fetchone()
        while row is not None:
            key, kind = row
            while kind is not None:
                kinds.setdefault(key, set()).add(kind)
                found = self._db.execute(same, (key, kind)).fetchone()
                kind = None if found is None else found[0]
            row = self._db.execute(first, (key,)).fetchone()
        return {key: frozenset(found) for key, found in kinds.items()}

    # events ----------------------------------------------------------------------

    def append_events(self, events: Sequence[Event]) -> list[Event]:
        if not events:
            return []
        if len(events) == 1:
            # A move's one event: the id SQLite picks comes back with the INSERT.
            return [self._append_one(events[0])]
        # BEGIN IMMEDIATE holds the write lock, so the next ids are ours to hand out
        # (what SQLite itself would pick: one more than the largest): one executemany
        # for a whole import batch, and no read-back.
        first: int = self._db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM events").fetchone()[0]
        stored = [with_id(e, n) for n, e in enumerate(events, start=first)]
        try:
            self._db.executemany(
                "INSERT INTO events (id, customer_id, at, actor, kind, data)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        e.id,
                        e.customer_id,
                        iso_moment(e.at),  # cached: a batch's events share one moment
                        e.actor,
                        e.kind.value,
                        dumps(dict(e.data)),
                    )
                    for e in stored
                ],
            )
        except sqlite3.IntegrityError:
            missing = [e.customer_id for e in events]
            raise NotFound(f"an event names a customer that does not exist: {missing}") from None
        return stored

    def _append_one(self, event: Event) -> Event:
        try:
            row_id = self._db.execute(
                "INSERT INTO events (customer_id, at, actor, kind, data) VALUES (?, ?, ?, ?, ?)",
                (
                    event.customer_id,
                    iso_moment(event.at),
                    event.actor,
                    event.kind.value,
                    dumps(dict(event.data)),
                ),
            ).lastrowid
        except sqlite3.IntegrityError:
            raise NotFound(
                f"an event names a customer that does not exist: {[event.customer_id]}"
            ) from None
        assert row_id is not None
        return with_id(event, row_id)

    # contact keys and merges -----------------------------------------------------

    def find_by_keys(self, keys: Sequence[ContactKey]) -> list[tuple[ContactKey, int]]:
        found: list[tuple[ContactKey, int]] = []
        wanted = list(dict.fromkeys(keys))
        # A join from the wanted keys walks the primary key: one statement per 400 keys.
        for start in range(0, len(wanted), 400):
            chunk = wanted[start : start + 400]
            marks = ", ".join("(?, ?)" for _ in chunk)
            rows = self._db.execute(
                f"SELECT k.kind, k.key, k.customer_id FROM (VALUES {marks}) AS w"
                " JOIN contact_keys k ON k.kind = w.column1 AND k.key = w.column2",
                [part for key in chunk for part in (key.kind, key.key)],
            )
            found.extend((ContactKey(kind, key), customer_id) for kind, key, customer_id in rows)
        return sorted(found, key=lambda pair: (pair[1], pair[0].kind, pair[0].key))

    def get_customers(
        self, customer_ids: Sequence[int], *, scope: Rule = MATCH_ALL
    ) -> list[Customer]:
        wanted = sorted(set(customer_ids))
        found: list[Customer] = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            where, params = self._scoped(f"c.id IN ({marks})", chunk, scope)
            rows = self._db.execute(
                f"SELECT {SELECT_COLUMNS} FROM customers c WHERE {where} ORDER BY c.id", params
            )
            found.extend(_customer(row) for row in rows)
        return found

    def move_attachments(self, from_id: int, to_id: int) -> dict[str, list[int]]:
        self.get_customer(to_id)
        moved: dict[str, list[int]] = {}
        for table, also in (
            ("events", ""),
            # A task's body repeats its customer: rewritten with the row, so they agree.
            ("tasks", ", body = json_set(body, '$.customer_id', :to)"),
            ("time_entries", ""),
        ):
            rows = self._db.execute(
                f"SELECT id FROM {table} WHERE customer_id = ? ORDER BY id", (from_id,)
            )
            moved[table] = [row[0] for row in rows]
            self._db.execute(
                f"UPDATE {table} SET customer_id = :to{also} WHERE customer_id = :from",
                {"to": to_id, "from": from_id},
            )
        return moved

    def mark_merged(self, customer_id: int, into: int) -> None:
        self._prefetched = None
        super().mark_merged(customer_id, into)

    def merged_into(self, customer_id: int) -> int | None:
        # A use case asks this just before reading the customer: read the whole row
        # once and hand it to that next read (a move is then one SELECT, not two).
        customer, target = self._load(customer_id)
        self._prefetched = customer if target is None else None
        return target


class SqliteTransactionScope:
    """One transaction of a ``SqliteStore``: ``with store.transaction() as tx:``.

    A class rather than a generator context manager: every use case opens one, and a
    move is short enough for contextlib's frames to show.
    """

    __slots__ = ("_store",)

    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    def __enter__(self) -> SqliteTransaction:
        store = self._store
        store._lock.acquire()
        db = store._db
        try:
            db.execute("BEGIN IMMEDIATE")
            version = db.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error as error:
            store._lock.release()
            raise StoreError(f"cannot begin a transaction on {store.path}: {error}") from None
        except BaseException:
            store._lock.release()
            raise
        if version != store._cache_version:
            store._cache.clear()
            store._cache_version = version
        return SqliteTransaction(db, store._cache)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        store = self._store
        db = store._db
        try:
            if error is None:
                try:
                    db.execute("COMMIT")
                except sqlite3.Error as failed:
                    db.execute("ROLLBACK")
                    store._cache.clear()
                    raise StoreError(f"cannot commit to {store.path}: {failed}") from None
                return
            db.execute("ROLLBACK")
            store._cache.clear()  # it may hold what the rolled-back work wrote
            if isinstance(error, sqlite3.Error):
                raise StoreError(f"SQLite error on {store.path}: {error}") from error
        finally:
            store._lock.release()


SQLITE_URL_FORMS = "sqlite:///relative/path.db, sqlite:////absolute/path.db or sqlite:///:memory:"
"""The SQLite URLs a store accepts, as error messages list them."""


def configure(db: sqlite3.Connection, busy_timeout: float) -> None:
    """Make a connection what every transaction expects: settings of the connection, not the file."""
    db.execute("PRAGMA synchronous = NORMAL")  # with WAL: durable at checkpoints, never corrupt
    db.execute("PRAGMA foreign_keys = ON")
    # 64 MB of page cache (SQLite's default is 2 MB): a million customers' indexes
    # (search index, contact keys) stay in memory while a bulk import writes them.
    db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    for name, (arity, function) in SQL_FUNCTIONS.items():
        db.create_function(name, arity, function, deterministic=True)
    db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")


def sqlite_path(url: str) -> str:
    """The file a ``sqlite:`` URL names (``:memory:`` for an in-memory database).

    ``sqlite:///`` is followed by the path: relative after three slashes, absolute
    after four. ``sqlite:///:memory:`` (and the short ``sqlite://`` and ``sqlite:``) is
    a database in memory. Anything else is refused: ``sqlite://shop.db`` and
    ``sqlite:/shop.db`` would otherwise both mean ``/shop.db`` at the filesystem root.
    """
    if url in ("sqlite:", "sqlite://", "sqlite:///:memory:"):
        return ":memory:"
    scheme, _, rest = url.partition(":")
    if scheme != "sqlite":
        raise StoreError(f"not a SQLite URL: {url!r}; use {SQLITE_URL_FORMS}")
    path = rest[3:] if rest.startswith("///") else ""
    if not path or path == "/":
        # Said without the rest of the URL, which may be a path the user mistyped.
        guess = rest.lstrip("/")
        hint = f" (did you mean sqlite:///{guess}?)" if guess else ""
        raise StoreError(f"malformed SQLite URL {url!r}{hint}; use {SQLITE_URL_FORMS}")
    return path


class SqliteStore:
    """A store in one SQLite file. URL: ``sqlite:///relative/path.db`` or ``sqlite:////abs.db``."""

    def __init__(self, url: str, *, busy_timeout: float = 10.0, create: bool = True) -> None:
        self.url = url
        self.path = sqlite_path(url)
        self._create = create or self.path == ":memory:"  # an in-memory database is always new
        if self.path != ":memory:":
            _check_file(Path(self.path), create=self._create)
        try:
            self._db = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as error:
            raise StoreError(f"cannot open SQLite store {self.path}: {error}") from None
        self._lock = threading.RLock()
        self._cache: dict[tuple[str, str], Any] = {}
        self._cache_version = -1
        try:
            self._prepare(busy_timeout)
        except BaseException:
            self._db.close()
            raise

    def changes(self, *, poll: float = 0.25) -> Generator[int, None, None]:
        """Yield 0 now, then a number after each commit by any connection or process.

        A connection of its own reads ``PRAGMA data_version``, which SQLite changes
        for a connection whenever another one commits: no polling of the tables.
        """
        if self.path == ":memory:":
            raise StoreError("an in-memory SQLite database has no other writers to watch")
        watcher = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            seen = watcher.execute("PRAGMA data_version").fetchone()[0]
            count = 0
            yield count
            while True:
                time.sleep(poll)
                now = watcher.execute("PRAGMA data_version").fetchone()[0]
                if now != seen:
                    seen = now
                    count += 1
                    yield count
        finally:
            watcher.close()

    def _prepare(self, busy_timeout: float) -> None:
        # Check what the file is before changing anything in it (WAL rewrites the header).
        try:
            tables = {
                row[0]
                for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self.path} is not a SQLite database ({error})") from None
        version = stored_schema_version(
            str(self.path),
            "a SQLite database",
            tables,
            lambda query: self._db.execute(query).fetchone(),
        )
        if version == 0 and not self._create:
            raise no_workspace(self.path)  # an empty file (made by touch, say) holds none
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
        configure(self._db, busy_timeout)
        if version < LATEST or self._folding() != FOLDING:
            self._migrate(version)

    def _folding(self) -> str | None:
        row = self._db.execute(
            f"SELECT value FROM {META_TABLE} WHERE key = ?", (FOLDING_KEY,)
        ).fetchone()
        return None if row is None else str(row[0])

    def _migrate(self, current: int) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute(
                f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            for version in range(current + 1, LATEST + 1):
                for statement in MIGRATIONS[version]:
                    self._db.execute(statement)
            if 0 < current < CONTACT_KEYS_CHANGED <= LATEST:
                SqliteTransaction(self._db).rebuild_contact_keys()
            self._db.execute(
                f"INSERT INTO {META_TABLE} (key, value) VALUES ('schema_version', ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(LATEST),),
            )
            # Read again inside the transaction: another process may have re-indexed.
            if current < SEARCH_VERSION or self._folding() != FOLDING:
                SqliteTransaction(self._db).reindex_search()
                self._db.execute(
                    f"INSERT INTO {META_TABLE} (key, value) VALUES (?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (FOLDING_KEY, FOLDING),
                )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """The store's connection for the block's duration, no transaction of the store's open.

        For work outside the Store protocol (copying a whole store, tests); held
        under the store's lock, so no transaction runs on it meanwhile.
        """
        with self._lock:
            yield self._db

    def transaction(self) -> AbstractContextManager[SqliteTransaction]:
        """BEGIN IMMEDIATE so that writers queue on the busy timeout instead of failing late."""
        return SqliteTransactionScope(self)

    def close(self) -> None:
        """Close the connection."""
        self._db.close()


def _check_file(path: Path, *, create: bool) -> None:
    """Refuse a path that cannot be a store before sqlite3 creates anything there."""
    if path.is_dir():
        raise StoreError(f"{path} is a directory, not a SQLite file")
    if path.exists():
        return
    if not create:
        raise no_workspace(str(path))
    if not path.parent.is_dir():
        raise StoreError(
            f"cannot create SQLite store {path}: directory {path.parent} does not exist"
        )


def open_sqlite_store(url: str, *, create: bool = True) -> SqliteStore:
    """Open (migrating if needed) the SQLite store a ``sqlite:`` URL names.

    A file that does not exist, or holds no tables, is made a new store when
    ``create`` is true and refused with ``StoreError`` otherwise.
    """
    return SqliteStore(url, create=create)
