"""The PostgreSQL store (psycopg 3): the same concepts as SQLite in PostgreSQL's own idiom."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NoReturn
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import attrs

from pipeline_core.customer import Customer, RowEncoder, trusted_replace
from pipeline_core.domain.events import Event, with_id
from pipeline_core.domain.folding import FOLDING
from pipeline_core.domain.normalize import ContactKey, NormalizeOptions, index_keys
from pipeline_core.domain.search import SearchQuery, index_parts
from pipeline_core.domain.serialization import dumps, from_typed_field_value
from pipeline_core.errors import (
    ConcurrencyError,
    ContactKeyRace,
    InvalidValue,
    MergedMeanwhile,
    NotFound,
    PipelineError,
    StoreError,
)
from pipeline_core.rules.ast import MATCH_ALL, Rule
from pipeline_core.rules.casefold import postgres_casefold_function
from pipeline_core.rules.sql import POSTGRES
from pipeline_core.storage.pg_copy import CopyValue, copy_text
from pipeline_core.storage.postgres_schema import (
    CHANGES_CHANNEL,
    CONTACT_KEYS_CHANGED,
    LATEST,
    MIGRATIONS,
    SEARCH_VERSION,
)
from pipeline_core.storage.protocol import NewCustomer
from pipeline_core.storage.sql.access import AccessQueries
from pipeline_core.storage.sql.common import (
    FOLDING_KEY,
    META_TABLE,
    READ_COLUMNS,
    SELECT_COLUMNS,
    STORED_ATTRIBUTES,
    TEXT_ROW_COLUMNS,
    customer_rows,
    iso_moment,
    no_workspace,
    status_update,
    stored_schema_version,
    typed_fields,
)
from pipeline_core.storage.sql.customers import CustomerQueries
from pipeline_core.storage.sql.life import LifeQueries
from pipeline_core.storage.sql.lists import ListQueries
from pipeline_core.storage.sql.outbox import OutboxQueries
from pipeline_core.storage.sql.records import RecordQueries
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
    from psycopg.pq import TransactionStatus
    from psycopg.types.json import Jsonb
except ImportError:  # pragma: no cover - exercised only without the extra
    psycopg = None  # type: ignore[assignment]
RECONNECT_DELAY = 1.0
"""The longest a pool waits between attempts to reach a server that went away (seconds)."""

try:
    from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout
    from psycopg_pool.pool import AddConnection

    class _Pool(ConnectionPool[psycopg.Connection[Any]]):
        """psycopg_pool's pool, trying a lost server again at least every RECONNECT_DELAY s.

        The pool itself doubles its wait between attempts (1, 2, 4... s, for up to
        five minutes), so after an outage of a minute a server that is back could go
        unused for half a minute more while every call waits for a connection.
        """

        def schedule_task(self, task: Any, delay: float) -> None:
            if isinstance(task, AddConnection):
                delay = min(delay, RECONNECT_DELAY)
            super().schedule_task(task, delay)

except ImportError:  # pragma: no cover - exercised only without the extra
    _Pool = None  # type: ignore[assignment,misc]

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
_INSERT_EVENT = (
    "INSERT INTO events (customer_id, at, actor, kind, data)"
    " VALUES (%s, %s::timestamptz, %s, %s, %s::jsonb) RETURNING id"
)
_UPDATE = (
    f"UPDATE customers SET {', '.join(f'{n} = %s' for n in _WRITE_COLUMNS)},"
    " version = version + 1 WHERE id = %s AND version = %s AND merged_into IS NULL"
)


def _customer(row: Sequence[Any]) -> Customer:
    values = dict(zip(READ_COLUMNS, row, strict=True))
    values["fields"] = {k: from_typed_field_value(pair) for k, pair in values["fields"].items()}
    return Customer(**values)


class PostgresTransaction(
    LifeQueries,
    SetupQueries,
    CustomerQueries,
    ListQueries,
    ReportQueries,
    AccessQueries,
    OutboxQueries,
    RecordQueries,
):
    """A unit of work on one PostgreSQL connection.

    The SQL both backends share lives in the ``sql_*`` mixins; what is here is
    PostgreSQL's own: its hooks (native timestamps, jsonb), row locks, COPY,
    contact-key advisory locks and the queries written in PostgreSQL's idiom.
    """

    _db: psycopg.Connection[Any]
    _dialect = POSTGRES
    JSON_TEXT = "::text"
    SKIP_LOCKED = " FOR UPDATE SKIP LOCKED"
    HOLDERS = "array_agg(k.customer_id ORDER BY k.customer_id)"
    MONTH = POSTGRES_MONTH
    SUMMED = "c.value"
    STAGE_TIMES = POSTGRES_STAGE_TIMES
    SEARCH_KEY = "customer_id"
    SEARCH_INSERT = (
        "INSERT INTO search_index (customer_id, names, emails, tags, phones)"
        " VALUES (?, ?::tsvector, ?::tsvector, ?::tsvector, ?::tsvector)"
    )

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self._db = connection
        self._options: NormalizeOptions | None = None
        # The rows this transaction locked, as read: a move then writes only the
        # status columns it changed (every write to them bumps the version).
        self._locked: dict[int, Customer] = {}

    # the dialect's hooks ---------------------------------------------------------

    _customer_from_row = staticmethod(_customer)

    def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self._db.cursor() as cursor:
                cursor.executemany(sql, rows)

    def _insert_id(self, text: str, params: Sequence[Any]) -> int:
        row_id: int = self._fetch_one(self._sql(f"{text} RETURNING id"), params)[0]
        return row_id

    def _next_ids(self, table: str, count: int) -> list[int]:
        """``count`` new ids from ``table``'s identity sequence, ascending."""
        # The sequence is looked up once (MATERIALIZED): per row, that look-up would cost
        # five times the nextval calls themselves.
        rows = self._db.execute(
            "WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, 'id')::regclass AS seq)"
            " SELECT nextval(s.seq) FROM s, generate_series(1, %s) ORDER BY 1",
            (table, count),
        ).fetchall()
        return [row[0] for row in rows]

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
        # FOR UPDATE waits for a writer holding the row and then reads its committed
        # version: a merge that won the race shows up here as merged_into.
        row = self._fetch_one(
            f"SELECT {SELECT_COLUMNS}, c.merged_into FROM customers c WHERE {where} FOR UPDATE",
            params,
        )
        if row is None:
            raise NotFound(f"no customer with id {customer_id}")
        if row[-1] is not None:
            raise MergedMeanwhile(customer_id, row[-1])
        locked = self._locked[customer_id] = _customer(row[:-1])
        return locked

    def _insert_customer_row(self, customer: Customer) -> int:
        customer_id: int = self._fetch_one(_INSERT, [value for _, value in _encode(customer)])[0]
        return customer_id

    def insert_customers(self, customers: Sequence[NewCustomer]) -> list[int]:
        if not customers:
            return []
        # Ids come from the identity sequence in one call, so that the rows can be
        # streamed with COPY (the fastest way in) and the side tables know their ids.
        numbered = list(zip(self._next_ids("customers", len(customers)), customers, strict=True))
        tables: list[tuple[str, Iterable[Sequence[CopyValue]]]] = [
            (
                f"customers ({TEXT_ROW_COLUMNS}, version)",
                ((customer_id, *new.rows[0], 1) for customer_id, new in numbered),
            ),
            (
                "customer_tags (customer_id, tag)",
                ((customer_id, tag) for customer_id, new in numbered for tag in new.rows[1]),
            ),
            (
                "customer_fields (customer_id, key, kind, text_value, num_value)",
                ((customer_id, *row) for customer_id, new in numbered for row in new.rows[2]),
            ),
            (
                "contact_keys (kind, key, customer_id)",
                {
                    (key.kind, key.key, customer_id): None
                    for customer_id, new in numbered
                    for key in new.keys
                },
            ),
            (
                "search_index (customer_id, names, emails, tags, phones)",
                ((customer_id, *new.document) for customer_id, new in numbered),
            ),
        ]
        with self._db.cursor() as cursor:
            for table, table_rows in tables:
                with cursor.copy(f"COPY {table} FROM STDIN") as copy:
                    copy.write(copy_text(table_rows))
        return [customer_id for customer_id, _ in numbered]

    def _write_documents(self, rows: Sequence[tuple[int, str, str, str, str]]) -> None:
        # COPY reads each column with tsvector's input, which keeps the tokens as they are.
        with (
            self._db.cursor() as cursor,
            cursor.copy(
                "COPY search_index (customer_id, names, emails, tags, phones) FROM STDIN"
            ) as copy,
        ):
            copy.write(copy_text(rows))

    def reindex_search(self) -> None:
        # The GIN index is built once over the whole table, not grown row by row.
        self._db.execute("DROP INDEX IF EXISTS search_index_tokens")
        super().reindex_search()
        self._db.execute(
            "CREATE INDEX search_index_tokens ON search_index"
            " USING gin (names, emails, tags, phones)"
        )

    def _search_matches(self, query: SearchQuery) -> tuple[str, list[Any]]:
        # Each part is a prefix tsquery on its columns (the GIN index answers the OR);
        # the scoring checks are evaluated on the matched rows' tsvectors.
        cases: list[str] = []
        case_params: list[Any] = []
        wanted: list[str] = []
        wanted_params: list[Any] = []
        for columns, token, checks in index_parts(query):
            wanted.append("(" + " OR ".join(f"{column} @@ %s::tsquery" for column in columns) + ")")
            wanted_params += [f"'{token}':*"] * len(columns)
            whens = [
                f"WHEN {check.column} @@ %s::tsquery THEN {check.points}" for check in checks[:-1]
            ]
            case_params += [
                f"'{check.token}'{'' if check.whole else ':*'}" for check in checks[:-1]
            ]
            cases.append(f"CASE {' '.join(whens)} ELSE {checks[-1].points} END")
        return (
            f"SELECT customer_id, {' + '.join(cases)} AS score FROM search_index"
            f" WHERE {' AND '.join(wanted)}",
            [*case_params, *wanted_params],
        )

    def row_encoder(self) -> RowEncoder:
        return customer_rows

    def prepare_bulk_load(self, rows: int) -> None:
        # This transaction only: its commit does not wait for the WAL flush.
        self._db.execute("SET LOCAL synchronous_commit TO off")

    def update_status(self, customer: Customer, changes: Mapping[str, Any]) -> Customer:
        # No read first: the UPDATE's own condition checks the version and the tombstone,
        # and only a refused write pays a look at why.
        if self._db.execute(*status_update(customer, changes, "%s")).rowcount == 0:
            self._refuse_write(customer)
        # The one copy a move builds: the changes and the new version applied together.
        stored = self._locked[customer.id] = trusted_replace(
            customer, version=customer.version + 1, **changes
        )
        return stored

    def _refuse_write(self, customer: Customer) -> NoReturn:
        """Why a checked ``UPDATE`` of ``customer`` changed no row: the matching error."""
        actual = self._fetch_one(
            "SELECT version, merged_into FROM customers WHERE id = %s", (customer.id,)
        )
        if actual is None:
            raise NotFound(f"no customer with id {customer.id}")
        if actual[1] is not None:
            raise MergedMeanwhile(customer.id, actual[1])
        raise ConcurrencyError(customer.id, customer.version, actual[0])

    def update_customer(self, customer: Customer) -> Customer:
        row = self._fetch_one(
            "SELECT version, tags, fields, emails, phones, whatsapp, country, merged_into, name"
            " FROM customers WHERE id = %s",
            (customer.id,),
        )
        if row is None:
            raise NotFound(f"no customer with id {customer.id}")
        if row[7] is not None:
            raise MergedMeanwhile(customer.id, row[7])
        if row[0] != customer.version:
            raise ConcurrencyError(customer.id, customer.version, row[0])
        updated = self._db.execute(
            _UPDATE, [*(value for _, value in _encode(customer)), customer.id, customer.version]
        )
        if updated.rowcount == 0:
            # Another transaction committed a change or a merge between our read and our
            # write: the UPDATE waited for it, then found its condition false.
            self._refuse_write(customer)
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
        if contacts != list(row[3:7]):
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

    def append_events(self, events: Sequence[Event]) -> list[Event]:
        if not events:
            return []
        rows = [
            (
                e.customer_id,
                iso_moment(e.at),  # cached: a batch's events share one moment
                e.actor,
                e.kind.value,
                dumps(dict(e.data)),
            )
            for e in events
        ]
        # The foreign key checks the customers exist (as on SQLite): no look-up first.
        try:
            if len(rows) == 1:  # most use cases: one round trip
                ids = [self._fetch_one(_INSERT_EVENT, rows[0])[0]]
            else:
                # Ids from the identity sequence in one call, then the rows in one COPY
                # (as insert_customers): a bulk import's thousands stay one stream.
                ids = self._next_ids("events", len(rows))
                with (
                    self._db.cursor() as cursor,
                    cursor.copy(
                        "COPY events (id, customer_id, at, actor, kind, data) FROM STDIN"
                    ) as copy,
                ):
                    copy.write(copy_text((n, *row) for n, row in zip(ids, rows, strict=True)))
        except psycopg.errors.ForeignKeyViolation:
            missing = sorted({event.customer_id for event in events})
            raise NotFound(f"an event names a customer that does not exist: {missing}") from None
        return [with_id(event, n) for n, event in zip(ids, events, strict=True)]

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
        for table, also in (
            ("events", ""),
            # A task's body repeats its customer: rewritten with the row, so they agree.
            ("tasks", ", body = jsonb_set(body, '{customer_id}', to_jsonb(%(to)s::bigint))"),
            ("time_entries", ""),
        ):
            rows = self._db.execute(
                f"UPDATE {table} SET customer_id = %(to)s{also}"
                " WHERE customer_id = %(from)s RETURNING id",
                {"to": to_id, "from": from_id},
            ).fetchall()
            moved[table] = sorted(row[0] for row in rows)
        return moved

    def merged_into(self, customer_id: int) -> int | None:
        row = self._fetch_one("SELECT merged_into FROM customers WHERE id = %s", (customer_id,))
        if row is None:
            raise NotFound(f"no customer with id {customer_id}")
        target: int | None = row[0]
        return target


POOL_SIZE = 5
"""How many connections a PostgreSQL store opens at most, unless told (``?pool_size=N``)."""
POOL_TIMEOUT = 30.0
"""How long a transaction waits for a free connection (seconds), unless told (``?pool_timeout=S``)."""
POOL_WORKERS = 2
"""Threads a pool keeps to open and replace connections in the background."""
_POOL_PARAMETERS = ("pool_size", "pool_timeout")


@attrs.frozen
class PoolSettings:
    """A store URL without its pool parameters (what libpq is given), and those parameters."""

    conninfo: str
    size: int = POOL_SIZE
    timeout: float = POOL_TIMEOUT


def pool_settings(
    url: str, *, pool_size: int | None = None, pool_timeout: float | None = None
) -> PoolSettings:
    """Split ``?pool_size=N`` and ``?pool_timeout=S`` off a PostgreSQL URL.

    libpq refuses query parameters it does not know, so these are taken out of the
    URL it sees. A keyword wins over the URL; each must be a positive number.
    """
    parts = urlsplit(url)
    kept: list[tuple[str, str]] = []
    given: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in _POOL_PARAMETERS:
            given[key] = value
        else:
            kept.append((key, value))
    if given:
        url = urlunsplit(parts._replace(query=urlencode(kept, quote_via=quote)))
    size = pool_size if pool_size is not None else _positive(given, "pool_size", POOL_SIZE, int)
    timeout = (
        pool_timeout
        if pool_timeout is not None
        else _positive(given, "pool_timeout", POOL_TIMEOUT, float)
    )
    if size < 1 or timeout <= 0:
        raise StoreError(
            f"pool_size must be at least 1 and pool_timeout above 0, not {size} and {timeout}"
        )
    return PoolSettings(url, size, timeout)


def _positive(given: dict[str, str], key: str, default: Any, kind: Callable[[str], Any]) -> Any:
    if key not in given:
        return default
    try:
        value = kind(given[key])
    except ValueError:
        value = None
    if value is None or value <= 0:
        raise StoreError(f"{key} in the store URL must be a number above 0, not {given[key]!r}")
    return value


def _configure(connection: psycopg.Connection[Any]) -> None:
    """Make a new connection what every transaction expects (the pool calls it on each)."""
    connection.execute("SET TIME ZONE 'UTC'")
    # A rule compiles to one expression of up to thousands of terms, and JIT compile
    # time grows with the expression: a 1,000-term 'or' of tag tests took 37 s with
    # JIT and 0.07 s without (docs/rules.md). The store's queries are index seeks.
    connection.execute("SET jit = off")
    # Rules' "~" folds case exactly like Python; the function lives for the session.
    connection.execute(postgres_casefold_function())
    connection.commit()


def _lost(connection: psycopg.Connection[Any]) -> bool:
    """Whether the connection is gone (server restarted, network cut), not just an error."""
    return connection.closed


class PostgresStore:
    """A store in one PostgreSQL database. URL: ``postgresql://user@host:port/dbname``.

    Each transaction takes a connection from a pool (``psycopg_pool``) and gives it
    back, so threads sharing the store run their transactions side by side, up to
    ``pool_size`` at once (``?pool_size=N`` in the URL or the keyword; default
    ``POOL_SIZE``); the others wait up to ``pool_timeout`` seconds for one. A
    connection the server dropped (a restart, a network cut) is discarded and
    replaced: a transaction that finds its connection gone when it begins, before
    any statement of the caller ran, is begun again once on a fresh connection; one
    that loses it half-way raises ``StoreError`` (rolled back; while committing: the
    commit may or may not have happened) and the next one gets a fresh connection.
    See docs/embedding.md.
    """

    def __init__(
        self,
        url: str,
        *,
        connect_timeout: int = 5,
        create: bool = True,
        pool_size: int | None = None,
        pool_timeout: float | None = None,
    ) -> None:
        if psycopg is None or _Pool is None:
            raise StoreError(
                "PostgreSQL stores need psycopg 3 and psycopg-pool:"
                " pip install 'pipeline-core-crm[postgres]'"
            )
        self.url = url
        settings = pool_settings(url, pool_size=pool_size, pool_timeout=pool_timeout)
        self._conninfo = settings.conninfo
        self.pool_size = settings.size
        self.pool_timeout = settings.timeout
        # A timeout given in the URL wins; otherwise never hang on a silent server.
        options: dict[str, Any] = (
            {} if "connect_timeout=" in url else {"connect_timeout": connect_timeout}
        )
        self._options = options
        # The first connection is made here, not by the pool, so that a server that
        # is down or a wrong password is one clear error now (the pool would retry in
        # the background); it creates or migrates the tables, then is closed.
        try:
            first = psycopg.connect(settings.conninfo, **options)
        except psycopg.Error as error:
            reason = (
                str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            )
            raise StoreError(f"cannot connect to {redact_url(url)}: {reason}") from None
        try:
            _configure(first)
            self._prepare(first, create)
        finally:
            first.close()
        self._pool = _Pool(
            settings.conninfo,
            kwargs=options,
            min_size=1,
            max_size=settings.size,
            timeout=settings.timeout,
            configure=_configure,
            name=redact_url(url),
            num_workers=POOL_WORKERS,
            open=True,
        )

    def _prepare(self, db: psycopg.Connection[Any], create: bool) -> None:
        with db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            tables = {
                row[0]
                for row in db.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                ).fetchall()
            }
            version = stored_schema_version(
                redact_url(self.url),
                "a database",
                tables,
                lambda query: db.execute(query).fetchone(),
            )
            if version == 0 and not create:
                raise no_workspace(redact_url(self.url))
            if version < LATEST:
                db.execute(
                    f"CREATE TABLE IF NOT EXISTS {META_TABLE}"
                    " (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
                )
                for step in range(version + 1, LATEST + 1):
                    for statement in MIGRATIONS[step]:
                        db.execute(statement)
                if 0 < version < CONTACT_KEYS_CHANGED <= LATEST:
                    PostgresTransaction(db).rebuild_contact_keys()
                db.execute(
                    f"INSERT INTO {META_TABLE} (key, value) VALUES ('schema_version', %s)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(LATEST),),
                )
            # Terms made by another folding (an older release, another anyascii) are
            # made again, as when a migration first adds them.
            folding = db.execute(
                f"SELECT value FROM {META_TABLE} WHERE key = %s", (FOLDING_KEY,)
            ).fetchone()
            if version < SEARCH_VERSION or folding is None or folding[0] != FOLDING:
                PostgresTransaction(db).reindex_search()
                db.execute(
                    f"INSERT INTO {META_TABLE} (key, value) VALUES (%s, %s)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (FOLDING_KEY, FOLDING),
                )

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection of this store, configured and idle, for the block's duration.

        For work outside the Store protocol (copying a whole store, tests); it goes
        back to the pool afterwards, rolled back if left in a transaction.
        """
        try:
            db = self._pool.getconn()
        except PoolTimeout:
            raise StoreError(
                f"no connection to {redact_url(self.url)} within {self.pool_timeout:g} s:"
                f" the server is down or all {self.pool_size} connections of the pool are"
                " busy (raise ?pool_size=N)"
            ) from None
        except PoolClosed:
            raise StoreError(f"the store {redact_url(self.url)} is closed") from None
        try:
            yield db
        finally:
            if not db.closed and db.info.transaction_status != TransactionStatus.IDLE:
                # Work outside a transaction block (a copy's reads) left one open: end it
                # here, quietly; the pool would too, with a warning in the log.
                with suppress(psycopg.Error):
                    db.rollback()
            self._pool.putconn(db)  # discards a broken connection and opens another

    @contextmanager
    def transaction(self) -> Iterator[PostgresTransaction]:
        """One database transaction on a pooled connection.

        psycopg errors roll back and surface as StoreError (or what a caller can act
        on: ContactKeyRace, InvalidValue).
        """
        for attempt in (1, 2):
            with self.connection() as db:
                stage = "begin"
                try:
                    with db.transaction():  # sends BEGIN: the first statement on the connection
                        stage = "work"
                        yield PostgresTransaction(db)
                        stage = "commit"
                    return
                except psycopg.OperationalError as error:
                    if not _lost(db):
                        raise self._translated(error) from error
                    # Every idle connection of the pool is likely as dead as this one.
                    self._pool.check()
                    if stage == "begin" and attempt == 1:
                        continue  # no statement of the caller ran: begin again, once
                    raise StoreError(self._lost_message(stage, error)) from error
                except psycopg.Error as error:
                    raise self._translated(error) from error

    def _lost_message(self, stage: str, error: Exception) -> str:
        where = redact_url(self.url)
        reason = _first_line(error)
        if stage == "begin":
            return (
                f"lost the connection to {where} twice before a transaction began ({reason}):"
                " is the server restarting?"
            )
        if stage == "work":
            return (
                f"lost the connection to {where} during a transaction, which was rolled back:"
                f" nothing of it was committed ({reason}); the next call uses a new connection"
            )
        return (
            f"lost the connection to {where} while committing ({reason}): the transaction"
            " may or may not have been committed; check before doing it again"
        )

    def _translated(self, error: psycopg.Error) -> PipelineError:
        if isinstance(error, psycopg.errors.DeadlockDetected):
            # Two writers crossed on contact-key locks: the workspace re-runs the loser.
            return ContactKeyRace("keys (deadlock)")
        if isinstance(error, psycopg.errors.UniqueViolation):
            if error.diag.constraint_name == "contact_keys_sole":
                return ContactKeyRace("keys")
        elif isinstance(error, psycopg.DataError):
            # A value the server cannot keep (NUL in text, out-of-range number).
            return InvalidValue(f"PostgreSQL refused a value: {error}")
        return StoreError(f"PostgreSQL error: {error}")

    def close(self) -> None:
        """Close every connection of the pool."""
        self._pool.close()

    def changes(self, *, poll: float = 0.25) -> Generator[int, None, None]:
        """Yield 0 now, then a number after each commit that changed the board's tables.

        A connection of its own LISTENs on ``CHANGES_CHANNEL``; triggers on the
        tables a board reads (schema 11) NOTIFY it when a transaction commits.
        """
        assert psycopg is not None
        watcher = psycopg.connect(self._conninfo, autocommit=True, **self._options)
        try:
            watcher.execute(f"LISTEN {CHANGES_CHANNEL}")
            count = 0
            yield count
            while True:
                if any(True for _ in watcher.notifies(timeout=poll, stop_after=1)):
                    # One redraw for a burst: take what else has already arrived.
                    for _ in watcher.notifies(timeout=0.01):
                        pass
                    count += 1
                    yield count
        finally:
            watcher.close()


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def open_postgres_store(
    url: str,
    *,
    create: bool = True,
    pool_size: int | None = None,
    pool_timeout: float | None = None,
) -> PostgresStore:
    """Open (migrating if needed) the PostgreSQL store a URL names.

    The database must exist; when it holds no tables, they are created if
    ``create`` is true and the database is refused with ``StoreError`` otherwise.
    ``pool_size`` and ``pool_timeout`` size the connection pool (see ``PostgresStore``).
    """
    return PostgresStore(url, create=create, pool_size=pool_size, pool_timeout=pool_timeout)
