"""The PostgreSQL store (psycopg 3): the same concepts as SQLite in PostgreSQL's own idiom."""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs

from pipeline_core.customer import Customer
from pipeline_core.domain.events import Event
from pipeline_core.domain.normalize import ContactKey, NormalizeOptions, index_keys
from pipeline_core.domain.search import TermRow, term_rows
from pipeline_core.domain.serialization import dumps, from_typed_field_value
from pipeline_core.errors import (
    ConcurrencyError,
    ContactKeyRace,
    InvalidValue,
    NotFound,
    StoreError,
)
from pipeline_core.rules.ast import MATCH_ALL, Rule
from pipeline_core.rules.casefold import postgres_casefold_function
from pipeline_core.rules.sql import POSTGRES
from pipeline_core.storage.pg_copy import CopyValue, copy_text
from pipeline_core.storage.postgres_schema import (
    CONTACT_KEYS_CHANGED,
    LATEST,
    MIGRATIONS,
    SEARCH_VERSION,
)
from pipeline_core.storage.sql.access import AccessQueries
from pipeline_core.storage.sql.common import (
    META_TABLE,
    READ_COLUMNS,
    SELECT_COLUMNS,
    STORED_ATTRIBUTES,
    TEXT_ROW_COLUMNS,
    field_rows,
    iso_moment,
    stored_schema_version,
    text_row,
    typed_fields,
)
from pipeline_core.storage.sql.customers import CustomerQueries
from pipeline_core.storage.sql.life import LifeQueries
from pipeline_core.storage.sql.lists import ListQueries
from pipeline_core.storage.sql.reports import (
    POSTGRES_MONTH,
    POSTGRES_STAGE_TIMES,
    ReportQueries,
    postgres_decimal,
)
from pipeline_core.storage.sql.setup import SetupQueries
from pipeline_core.storage.urls import redact_url

try:
    import psycopg
    from psycopg.types.json import Jsonb
except ImportError:  # pragma: no cover - exercised only without the extra
    psycopg = None  # type: ignore[assignment]

_MIGRATION_LOCK = 7_351_402  # any constant: serializes concurrent first opens of one database
_KEY_LOCK_SPACE = 7_351_403  # the advisory-lock class of contact-key buckets
KEY_LOCK_BUCKETS = 1024
"""How many advisory locks contact keys are spread over (at most that many per transaction)."""


def _encode(customer: Customer) -> list[tuple[str, Any]]:
    """(column, PostgreSQL value) pairs for every stored Customer attribute."""
    pairs: list[tuple[str, Any]] = []
    for name in STORED_ATTRIBUTES:
        value = getattr(customer, name)
        if name == "value":
            pairs.append(("value", value))
            pairs.append(("value_num", None if value is None else float(value)))
        elif name in ("emails", "phones", "tags", "workers"):
            pairs.append((name, Jsonb(list(value))))
        elif name == "fields":
            pairs.append((name, Jsonb(typed_fields(value))))
        else:
            pairs.append((name, value))
    return pairs


_WRITE_COLUMNS = [
    column
    for name in STORED_ATTRIBUTES
    for column in (("value", "value_num") if name == "value" else (name,))
]
_INSERT = (
    f"INSERT INTO customers ({', '.join(_WRITE_COLUMNS)}, version)"
    f" VALUES ({', '.join('%s' for _ in _WRITE_COLUMNS)}, 1) RETURNING id"
)
_UPDATE = (
    f"UPDATE customers SET {', '.join(f'{n} = %s' for n in _WRITE_COLUMNS)},"
    " version = version + 1 WHERE id = %s AND version = %s"
)


def _customer(row: Sequence[Any]) -> Customer:
    values = dict(zip(READ_COLUMNS, row, strict=True))
    values["fields"] = {k: from_typed_field_value(pair) for k, pair in values["fields"].items()}
    return Customer(**values)


class PostgresTransaction(
    LifeQueries, SetupQueries, CustomerQueries, ListQueries, ReportQueries, AccessQueries
):
    """A unit of work on one PostgreSQL connection.

    The SQL both backends share lives in the ``sql_*`` mixins; what is here is
    PostgreSQL's own: its hooks (native timestamps, jsonb), row locks, COPY,
    contact-key advisory locks and the queries written in PostgreSQL's idiom.
    """

    _db: psycopg.Connection[Any]
    _dialect = POSTGRES
    JSON_TEXT = "::text"
    HOLDERS = "array_agg(k.customer_id ORDER BY k.customer_id)"
    MONTH = POSTGRES_MONTH
    SUMMED = "c.value"
    STAGE_TIMES = POSTGRES_STAGE_TIMES

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self._db = connection
        self._options: NormalizeOptions | None = None

    # the dialect's hooks ---------------------------------------------------------

    _customer_from_row = staticmethod(_customer)

    def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self._db.cursor() as cursor:
                cursor.executemany(sql, rows)

    def _insert_id(self, text: str, params: Sequence[Any]) -> int:
        row_id: int = self._fetch_one(self._sql(f"{text} RETURNING id"), params)[0]
        return row_id

    def _fetch_one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first row of ``sql`` (already in ``%s`` marks), or None."""
        return self._db.execute(sql, params).fetchone()

    # psycopg binds and reads dates, timestamps and jsonb itself.

    def _moment_out(self, moment: datetime | None) -> datetime | None:
        return moment

    def _moment_in(self, stored: Any) -> datetime:
        moment: datetime = stored
        return moment

    def _day_out(self, day: date | None) -> date | None:
        return day

    def _json_out(self, value: Any) -> Jsonb:
        return Jsonb(value)

    def _json_in(self, stored: Any) -> Any:
        return stored

    def _holder_ids(self, holders: Any) -> tuple[int, ...]:
        return tuple(holders)

    def _total(self, total: Any) -> Decimal:
        return postgres_decimal(total)

    # customers -------------------------------------------------------------------

    def get_customer(self, customer_id: int, *, scope: Rule = MATCH_ALL) -> Customer:
        where, params = self._scoped("c.id = ?", (customer_id,), scope)
        row = self._fetch_one(f"SELECT {SELECT_COLUMNS} FROM customers c WHERE {where}", params)
        if row is None:
            raise NotFound(f"no customer with id {customer_id}")
        return _customer(row)

    def lock_customer(self, customer_id: int, *, scope: Rule = MATCH_ALL) -> Customer:
        where, params = self._scoped("c.id = ?", (customer_id,), scope)
        row = self._fetch_one(
            f"SELECT {SELECT_COLUMNS} FROM customers c WHERE {where} FOR UPDATE", params
        )
        if row is None:
            raise NotFound(f"no customer with id {customer_id}")
        return _customer(row)

    def _insert_customer_row(self, customer: Customer) -> int:
        customer_id: int = self._fetch_one(_INSERT, [value for _, value in _encode(customer)])[0]
        return customer_id

    def insert_customers(
        self,
        customers: Sequence[Customer],
        keys: Sequence[Sequence[ContactKey]] | None = None,
        terms: Sequence[Sequence[TermRow]] | None = None,
    ) -> list[int]:
        if not customers:
            return []
        # Ids come from the identity sequence in one call, so that the rows can be
        # streamed with COPY (the fastest way in) and the side tables know their ids.
        ids = [
            row[0]
            for row in self._db.execute(
                "SELECT nextval(pg_get_serial_sequence('customers', 'id'))"
                " FROM generate_series(1, %s) ORDER BY 1",
                (len(customers),),
            ).fetchall()
        ]
        if keys is None:
            options = self._normalize_options()
            keys = [index_keys(customer, options) for customer in customers]
        if terms is None:
            terms = [term_rows(customer) for customer in customers]
        pairs = list(zip(ids, customers, strict=True))
        tables: list[tuple[str, Iterable[Sequence[CopyValue]]]] = [
            (
                f"customers ({TEXT_ROW_COLUMNS}, version)",
                ([*text_row(customer_id, customer), 1] for customer_id, customer in pairs),
            ),
            (
                "customer_tags (customer_id, tag)",
                ((customer_id, tag) for customer_id, customer in pairs for tag in customer.tags),
            ),
            (
                "customer_fields (customer_id, key, kind, text_value, num_value)",
                (
                    row
                    for customer_id, customer in pairs
                    if customer.fields
                    for row in field_rows(customer_id, customer.fields)
                ),
            ),
            (
                "contact_keys (kind, key, customer_id)",
                {
                    (key.kind, key.key, customer_id): None
                    for customer_id, held in zip(ids, keys, strict=True)
                    for key in held
                },
            ),
            (
                "search_terms (kind, term, customer_id, weight)",
                (
                    (kind, text, customer_id, weight)
                    for customer_id, held in zip(ids, terms, strict=True)
                    for kind, text, weight in held
                ),
            ),
        ]
        with self._db.cursor() as cursor:
            for table, rows in tables:
                with cursor.copy(f"COPY {table} FROM STDIN") as copy:
                    copy.write(copy_text(rows))
        return ids

    def update_customer(self, customer: Customer) -> Customer:
        row = self._fetch_one(
            "SELECT version, tags, fields, emails, phones, whatsapp, country, merged_into, name"
            " FROM customers WHERE id = %s",
            (customer.id,),
        )
        if row is None:
            raise NotFound(f"no customer with id {customer.id}")
        if row[0] != customer.version:
            raise ConcurrencyError(customer.id, customer.version, row[0])
        updated = self._db.execute(
            _UPDATE, [*(value for _, value in _encode(customer)), customer.id, customer.version]
        )
        if updated.rowcount == 0:
            # Another transaction committed a change between our read and our write.
            actual = self._fetch_one("SELECT version FROM customers WHERE id = %s", (customer.id,))
            raise ConcurrencyError(customer.id, customer.version, actual[0] if actual else -1)
        if list(customer.tags) != row[1]:
            self._write_tags(customer.id, customer.tags, replace=True)
        if typed_fields(customer.fields) != row[2]:
            self._write_fields(customer.id, dict(customer.fields), replace=True)
        contacts = [
            list(customer.emails),
            list(customer.phones),
            customer.whatsapp,
            customer.country,
        ]
        if row[7] is None and contacts != list(row[3:7]):
            self._db.execute("DELETE FROM contact_keys WHERE customer_id = %s", (customer.id,))
            self._write_keys(customer.id, index_keys(customer, self._normalize_options()))
        searched = (list(customer.emails), list(customer.phones), customer.whatsapp, customer.name)
        if searched != (row[3], row[4], row[5], row[8]) or list(customer.tags) != row[1]:
            self._write_terms(customer, replace=True)
        return attrs.evolve(customer, version=customer.version + 1)

    def _write_keys(self, customer_id: int, keys: Sequence[ContactKey]) -> None:
        self._insert_keys([(key.kind, key.key, customer_id) for key in keys])

    def _insert_keys(self, rows: list[tuple[str, str, int]]) -> None:
        if rows:
            try:
                with self._db.cursor() as cursor:
                    cursor.executemany(
                        "INSERT INTO contact_keys (kind, key, customer_id, sole)"
                        " SELECT %s, %s, %s, NOT EXISTS (SELECT 1 FROM contact_keys k"
                        " WHERE k.kind = %s AND k.key = %s)"
                        " ON CONFLICT (kind, key, customer_id) DO NOTHING",
                        [(kind, key, owner, kind, key) for kind, key, owner in rows],
                    )
            except psycopg.errors.UniqueViolation:
                kinds = ", ".join(sorted({f"{kind} {key}" for kind, key, _ in rows}))
                raise ContactKeyRace(kinds) from None
        rows.clear()

    def customers_of_worker(self, worker: str, *, scope: Rule = MATCH_ALL) -> list[Customer]:
        return self._scoped_customers("c.workers @> ?", (Jsonb([worker]),), scope)

    def custom_field_kinds(self) -> dict[str, frozenset[str]]:
        kinds: dict[str, set[str]] = {}
        rows = self._db.execute("SELECT DISTINCT key, kind FROM customer_fields").fetchall()
        for key, kind in rows:
            kinds.setdefault(key, set()).add(kind)
        return {key: frozenset(found) for key, found in kinds.items()}

    def append_events(self, events: Sequence[Event]) -> None:
        # The foreign key checks the customers exist (as on SQLite): no look-up first.
        try:
            with (
                self._db.cursor() as cursor,
                cursor.copy("COPY events (customer_id, at, actor, kind, data) FROM STDIN") as copy,
            ):
                copy.write(
                    copy_text(
                        (
                            e.customer_id,
                            iso_moment(e.at),
                            e.actor,
                            e.kind.value,
                            dumps(dict(e.data)),
                        )
                        for e in events
                    )
                )
        except psycopg.errors.ForeignKeyViolation:
            ids = sorted({event.customer_id for event in events})
            raise NotFound(f"an event names a customer that does not exist: {ids}") from None

    # contact keys and merges -----------------------------------------------------

    def find_by_keys(self, keys: Sequence[ContactKey]) -> list[tuple[ContactKey, int]]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return []
        # Writers look keys up before adding them. Locking the keys first (until this
        # transaction ends) makes look-up and insert one step: a second writer with the
        # same key waits here, then sees the first one's customer. Keys share a fixed
        # number of lock buckets so that a large import batch takes a bounded number.
        buckets = sorted(
            {zlib.crc32(f"{k.kind}:{k.key}".encode()) % KEY_LOCK_BUCKETS for k in wanted}
        )
        self._db.execute(
            "SELECT pg_advisory_xact_lock(%s, b) FROM unnest(%s::int[]) AS b ORDER BY b",
            (_KEY_LOCK_SPACE, buckets),
        )
        rows = self._db.execute(
            "SELECT k.kind, k.key, k.customer_id FROM contact_keys k"
            " JOIN unnest(%s::text[], %s::text[]) AS w(kind, key)"
            " ON k.kind = w.kind AND k.key = w.key",
            ([key.kind for key in wanted], [key.key for key in wanted]),
        ).fetchall()
        found = [(ContactKey(kind, key), customer_id) for kind, key, customer_id in rows]
        return sorted(found, key=lambda pair: (pair[1], pair[0].kind, pair[0].key))

    def get_customers(
        self, customer_ids: Sequence[int], *, scope: Rule = MATCH_ALL
    ) -> list[Customer]:
        where, params = self._scoped("c.id = ANY(?)", (sorted(set(customer_ids)),), scope)
        rows = self._db.execute(
            f"SELECT {SELECT_COLUMNS} FROM customers c WHERE {where} ORDER BY c.id", params
        ).fetchall()
        return [_customer(row) for row in rows]

    def move_attachments(self, from_id: int, to_id: int) -> dict[str, list[int]]:
        self.get_customer(to_id)
        moved: dict[str, list[int]] = {}
        for table in ("events", "tasks", "time_entries"):
            rows = self._db.execute(
                f"UPDATE {table} SET customer_id = %s WHERE customer_id = %s RETURNING id",
                (to_id, from_id),
            ).fetchall()
            moved[table] = sorted(row[0] for row in rows)
        return moved

    def merged_into(self, customer_id: int) -> int | None:
        row = self._fetch_one("SELECT merged_into FROM customers WHERE id = %s", (customer_id,))
        if row is None:
            raise NotFound(f"no customer with id {customer_id}")
        target: int | None = row[0]
        return target


class PostgresStore:
    """A store in one PostgreSQL database. URL: ``postgresql://user@host:port/dbname``."""

    def __init__(self, url: str, *, connect_timeout: int = 5) -> None:
        if psycopg is None:
            raise StoreError(
                "PostgreSQL stores need psycopg 3: pip install 'pipeline_core[postgres]'"
            )
        self.url = url
        try:
            # A timeout given in the URL wins; otherwise never hang on a silent server.
            if "connect_timeout=" in url:
                self._db = psycopg.connect(url)
            else:
                self._db = psycopg.connect(url, connect_timeout=connect_timeout)
        except psycopg.Error as error:
            reason = (
                str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            )
            raise StoreError(f"cannot connect to {redact_url(url)}: {reason}") from None
        self._db.execute("SET TIME ZONE 'UTC'")
        # A rule compiles to one expression of up to thousands of terms, and JIT compile
        # time grows with the expression: a 1,000-term 'or' of tag tests took 37 s with
        # JIT and 0.07 s without (docs/rules.md). The store's queries are index seeks.
        self._db.execute("SET jit = off")
        # Rules' "~" folds case exactly like Python; the function lives for the session.
        self._db.execute(postgres_casefold_function())
        self._db.commit()
        self._lock = threading.RLock()
        try:
            self._prepare()
        except BaseException:
            self._db.close()
            raise

    def _prepare(self) -> None:
        with self._db.transaction():
            self._db.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            tables = {
                row[0]
                for row in self._db.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                ).fetchall()
            }
            version = stored_schema_version(
                redact_url(self.url),
                "a database",
                tables,
                lambda query: self._db.execute(query).fetchone(),
            )
            if version < LATEST:
                self._db.execute(
                    f"CREATE TABLE IF NOT EXISTS {META_TABLE}"
                    " (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
                )
                for step in range(version + 1, LATEST + 1):
                    for statement in MIGRATIONS[step]:
                        self._db.execute(statement)
                if 0 < version < CONTACT_KEYS_CHANGED <= LATEST:
                    PostgresTransaction(self._db).rebuild_contact_keys()
                if version < SEARCH_VERSION:
                    PostgresTransaction(self._db)._backfill_terms()
                self._db.execute(
                    f"INSERT INTO {META_TABLE} (key, value) VALUES ('schema_version', %s)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(LATEST),),
                )

    @contextmanager
    def transaction(self) -> Iterator[PostgresTransaction]:
        """One database transaction; psycopg errors roll back and surface as StoreError."""
        with self._lock:
            try:
                with self._db.transaction():
                    yield PostgresTransaction(self._db)
            except psycopg.errors.DeadlockDetected as error:
                # Two writers crossed on contact-key locks: the workspace re-runs the loser.
                raise ContactKeyRace("keys (deadlock)") from error
            except psycopg.errors.UniqueViolation as error:
                if error.diag.constraint_name != "contact_keys_sole":
                    raise StoreError(f"PostgreSQL error: {error}") from error
                raise ContactKeyRace("keys") from error
            except psycopg.DataError as error:
                # A value the server cannot keep (NUL in text, out-of-range number).
                raise InvalidValue(f"PostgreSQL refused a value: {error}") from error
            except psycopg.Error as error:
                raise StoreError(f"PostgreSQL error: {error}") from error

    def close(self) -> None:
        """Close the connection."""
        self._db.close()


def open_postgres_store(url: str) -> PostgresStore:
    """Open (creating or migrating if needed) the PostgreSQL store a URL names."""
    return PostgresStore(url)
