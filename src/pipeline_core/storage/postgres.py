"""The PostgreSQL store (psycopg 3): the same concepts as SQLite in PostgreSQL's own idiom."""

from __future__ import annotations

import functools
import json
import threading
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import attrs

from pipeline_core.activity import Task, TimeEntry
from pipeline_core.customer import Customer, FieldValue
from pipeline_core.duplicate_settings import SETTINGS_KEY as DUPLICATES_KEY
from pipeline_core.duplicate_settings import normalize_options
from pipeline_core.errors import (
    ConcurrencyError,
    ContactKeyRace,
    InvalidValue,
    NotFound,
    StoreError,
)
from pipeline_core.events import Event, JSONValue
from pipeline_core.flows import FlowDefinition
from pipeline_core.normalize import ContactKey, NormalizeOptions, contact_keys, index_keys
from pipeline_core.report_keys import AggregateRow, GroupKey, StageTime
from pipeline_core.rules.ast import MATCH_ALL, Rule
from pipeline_core.rules.casefold import postgres_casefold_function
from pipeline_core.rules.sql import POSTGRES, SqlValue
from pipeline_core.search import TermRow, term_rows
from pipeline_core.serialization import converter, dumps, from_typed_field_value
from pipeline_core.statuses import StatusMachine
from pipeline_core.storage.pg_copy import CopyValue, copy_text
from pipeline_core.storage.postgres_schema import (
    CONTACT_KEYS_SINCE,
    LATEST,
    MIGRATIONS,
    SEARCH_VERSION,
)
from pipeline_core.storage.protocol import SCHEMA_VERSION, Order
from pipeline_core.storage.registry import redact_url
from pipeline_core.storage.sql_access import AccessQueries
from pipeline_core.storage.sql_common import (
    COUNT_BY_STATUS_SQL,
    COUNT_SQL,
    LIVE_CLAUSE,
    READ_COLUMNS,
    STORED_ATTRIBUTES,
    TEXT_ROW_COLUMNS,
    customers_query,
    field_rows,
    iso_moment,
    live_where,
    text_row,
    typed_fields,
)
from pipeline_core.storage.sql_reports import (
    POSTGRES_MONTH,
    POSTGRES_STAGE_TIMES,
    aggregate_query,
    aggregate_rows,
    postgres_decimal,
)

try:
    import psycopg
    from psycopg.types.json import Jsonb
except ImportError:  # pragma: no cover - exercised only without the extra
    psycopg = None  # type: ignore[assignment]

META_TABLE = "pipeline_meta"
_MIGRATION_LOCK = 7_351_402  # any constant: serializes concurrent first opens of one database
_KEY_LOCK_SPACE = 7_351_403  # the advisory-lock class of contact-key buckets
KEY_LOCK_BUCKETS = 1024
"""How many advisory locks contact keys are spread over (at most that many per transaction)."""

_SELECT = ", ".join(f"c.{name}" for name in READ_COLUMNS)


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


@functools.lru_cache(maxsize=32)
def _machine_from_json(text: str) -> StatusMachine:
    # Machines are read on every move and rarely change: structure each distinct text once.
    return converter.structure(json.loads(text), StatusMachine)


def _task(row: Sequence[Any]) -> Task:
    # The body is the task's JSON; its id lives in the row.
    return attrs.evolve(converter.structure(row[1], Task), id=row[0])


def _conditions(**equal_to: Any) -> tuple[str, list[Any]]:
    """``col = %s AND ...`` for the arguments that are not None (``TRUE`` if none are)."""
    given = {column: value for column, value in equal_to.items() if value is not None}
    sql = " AND ".join(f"{column} = %s" for column in given) or "TRUE"
    return sql, list(given.values())


class _LifeQueries(AccessQueries):
    """Settings, sub-customers, workers, follow-ups, tasks and time entries on PostgreSQL."""

    _db: psycopg.Connection[Any]
    _dialect = POSTGRES

    def _customer_from_row(self, row: Sequence[Any]) -> Customer:
        return _customer(row)

    def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self._db.cursor() as cursor:
                cursor.executemany(sql, rows)

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._db.execute(sql, params).fetchone()

    def get_customer(self, customer_id: int, *, scope: Rule = MATCH_ALL) -> Customer:
        raise NotImplementedError

    def get_setting(self, key: str) -> JSONValue | None:
        row = self._one("SELECT value FROM settings WHERE key = %s", (key,))
        if row is None:
            return None
        value: JSONValue = row[0]
        return value

    def put_setting(self, key: str, value: JSONValue) -> None:
        self._db.execute(
            "INSERT INTO settings (key, value) VALUES (%s, %s)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, Jsonb(value)),
        )

    def _customers(self, where: str, params: Sequence[Any], order: str = "c.id") -> list[Customer]:
        sql = f"SELECT {_SELECT} FROM customers c WHERE {LIVE_CLAUSE.format(rule=where)} ORDER BY {order}"
        return [_customer(row) for row in self._db.execute(sql, params).fetchall()]

    def children(self, parent_id: int, *, scope: Rule = MATCH_ALL) -> list[Customer]:
        return self._scoped_customers("c.parent_id = ?", (parent_id,), scope)

    def customers_of_worker(self, worker: str, *, scope: Rule = MATCH_ALL) -> list[Customer]:
        return self._scoped_customers("c.workers @> ?", (Jsonb([worker]),), scope)

    def customers_with_field(self, key: str, *, scope: Rule = MATCH_ALL) -> list[Customer]:
        return self._scoped_customers(
            "c.id IN (SELECT customer_id FROM customer_fields WHERE key = ?)", (key,), scope
        )

    def follow_ups_until(self, last_day: date, *, scope: Rule = MATCH_ALL) -> list[Customer]:
        return self._scoped_customers(
            "c.next_follow_up IS NOT NULL AND c.next_follow_up <= ?",
            (last_day,),
            scope,
            order="c.next_follow_up, c.id",
        )

    def _task_values(self, task: Task) -> list[Any]:
        body = Jsonb(converter.unstructure(task))
        return [task.customer_id, task.worker, task.due, task.done_at, body]

    def insert_task(self, task: Task) -> Task:
        self.get_customer(task.customer_id)
        task_id = self._one(
            "INSERT INTO tasks (customer_id, worker, due, done_at, body)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING id",
            self._task_values(task),
        )[0]
        return attrs.evolve(task, id=task_id)

    def get_task(self, task_id: int) -> Task:
        row = self._one("SELECT id, body FROM tasks WHERE id = %s", (task_id,))
        if row is None:
            raise NotFound(f"no task with id {task_id}")
        return _task(row)

    def update_task(self, task: Task) -> Task:
        changed = self._db.execute(
            "UPDATE tasks SET customer_id = %s, worker = %s, due = %s, done_at = %s, body = %s"
            " WHERE id = %s",
            [*self._task_values(task), task.id],
        ).rowcount
        if not changed:
            raise NotFound(f"no task with id {task.id}")
        return task

    def find_tasks(
        self,
        *,
        customer_id: int | None = None,
        worker: str | None = None,
        open_only: bool = False,
        scope: Rule = MATCH_ALL,
    ) -> list[Task]:
        where, params = _conditions(customer_id=customer_id, worker=worker)
        if open_only:
            where += " AND done_at IS NULL"
        visible, scope_params = self._customer_ids_in(scope)
        where += visible
        params.extend(scope_params)
        rows = self._db.execute(
            f"SELECT id, body FROM tasks WHERE {where} ORDER BY due IS NULL, due, id", params
        ).fetchall()
        return [_task(row) for row in rows]

    def insert_time_entry(self, entry: TimeEntry) -> TimeEntry:
        self.get_customer(entry.customer_id)
        entry_id = self._one(
            "INSERT INTO time_entries (customer_id, worker, at, minutes, note)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (entry.customer_id, entry.worker, entry.at, entry.minutes, entry.note),
        )[0]
        return attrs.evolve(entry, id=entry_id)

    def time_entries(
        self,
        *,
        customer_id: int | None = None,
        worker: str | None = None,
        scope: Rule = MATCH_ALL,
    ) -> list[TimeEntry]:
        where, params = _conditions(customer_id=customer_id, worker=worker)
        visible, scope_params = self._customer_ids_in(scope)
        where += visible
        params.extend(scope_params)
        rows = self._db.execute(
            "SELECT id, customer_id, worker, at, minutes, note FROM time_entries"
            f" WHERE {where} ORDER BY at, id",
            params,
        ).fetchall()
        return [
            TimeEntry(id=r[0], customer_id=r[1], worker=r[2], at=r[3], minutes=r[4], note=r[5])
            for r in rows
        ]


class PostgresTransaction(_LifeQueries):
    """A unit of work on one PostgreSQL connection."""

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self._db = connection
        self._options: NormalizeOptions | None = None

    def get_customer(self, customer_id: int, *, scope: Rule = MATCH_ALL) -> Customer:
        where, params = self._scoped("c.id = ?", (customer_id,), scope)
        row = self._one(f"SELECT {_SELECT} FROM customers c WHERE {where}", params)
        if row is None:
            raise NotFound(f"no customer with id {customer_id}")
        return _customer(row)

    def lock_customer(self, customer_id: int, *, scope: Rule = MATCH_ALL) -> Customer:
        where, params = self._scoped("c.id = ?", (customer_id,), scope)
        row = self._one(f"SELECT {_SELECT} FROM customers c WHERE {where} FOR UPDATE", params)
        if row is None:
            raise NotFound(f"no customer with id {customer_id}")
        return _customer(row)

    def insert_customer(self, customer: Customer) -> Customer:
        customer_id: int = self._one(_INSERT, [value for _, value in _encode(customer)])[0]
        self._write_tags(customer_id, customer.tags, replace=False)
        self._write_fields(customer_id, dict(customer.fields), replace=False)
        self._write_keys(customer_id, index_keys(customer, self._normalize_options()))
        stored = self.get_customer(customer_id)
        self._write_terms(stored, replace=False)
        return stored

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
        row = self._one(
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
            actual = self._one("SELECT version FROM customers WHERE id = %s", (customer.id,))
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

    def _normalize_options(self) -> NormalizeOptions:
        if self._options is None:
            self._options = normalize_options(self.get_setting(DUPLICATES_KEY))
        return self._options

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

    def _write_tags(self, customer_id: int, tags: Sequence[str], *, replace: bool) -> None:
        if replace:
            self._db.execute("DELETE FROM customer_tags WHERE customer_id = %s", (customer_id,))
        if tags:
            with self._db.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO customer_tags (customer_id, tag) VALUES (%s, %s)",
                    [(customer_id, tag) for tag in tags],
                )

    def _write_fields(
        self, customer_id: int, fields: dict[str, FieldValue], *, replace: bool
    ) -> None:
        if replace:
            self._db.execute("DELETE FROM customer_fields WHERE customer_id = %s", (customer_id,))
        rows = field_rows(customer_id, fields)
        if rows:
            with self._db.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO customer_fields (customer_id, key, kind, text_value, num_value)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    rows,
                )

    def _where(self, rule: Rule, hidden_from: str | None) -> tuple[str, list[SqlValue]]:
        return live_where(rule, POSTGRES, hidden_from)

    def find_customers(
        self,
        rule: Rule,
        *,
        hidden_from: str | None = None,
        order: Order = "id",
        limit: int | None = None,
        offset: int = 0,
        after_id: int = 0,
    ) -> list[Customer]:
        where, params = self._where(rule, hidden_from)
        sql, values = customers_query(
            _SELECT,
            where,
            params,
            POSTGRES,
            order=order,
            limit=limit,
            offset=offset,
            after_id=after_id,
        )
        return [_customer(row) for row in self._db.execute(sql, values).fetchall()]

    def count_customers(self, rule: Rule, *, hidden_from: str | None = None) -> int:
        where, params = self._where(rule, hidden_from)
        count: int = self._one(COUNT_SQL.format(where=where), params)[0]
        return count

    def count_by_status(self, rule: Rule, *, hidden_from: str | None = None) -> dict[str, int]:
        where, params = self._where(rule, hidden_from)
        rows = self._db.execute(COUNT_BY_STATUS_SQL.format(where=where), params).fetchall()
        return {status: count for status, count in rows}

    def _report_where(self, rule: Rule, hidden_from: str | None) -> tuple[str, list[SqlValue]]:
        return live_where(rule, POSTGRES, hidden_from, hidden_set=True)

    def aggregate(
        self, rule: Rule, keys: Sequence[GroupKey], *, hidden_from: str | None = None
    ) -> list[AggregateRow]:
        where, params = self._report_where(rule, hidden_from)
        sql, join_params = aggregate_query(keys, where, "%s", POSTGRES_MONTH, "c.value")
        rows = self._db.execute(sql, [*join_params, *params]).fetchall()
        return aggregate_rows(keys, rows, postgres_decimal)

    def stage_times(
        self, rule: Rule, now: datetime, *, hidden_from: str | None = None
    ) -> dict[str, StageTime]:
        where, params = self._report_where(rule, hidden_from)
        sql = POSTGRES_STAGE_TIMES.replace("{where}", where)
        rows = self._db.execute(sql, [*params, now]).fetchall()
        return {status: StageTime(stays, float(seconds)) for status, stays, seconds in rows}

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

    def events(self, customer_id: int) -> list[Event]:
        rows = self._db.execute(
            "SELECT id, customer_id, at, actor, kind, data FROM events"
            " WHERE customer_id = %s ORDER BY id",
            (customer_id,),
        ).fetchall()
        return [
            Event(id=r[0], customer_id=r[1], at=r[2], actor=r[3], kind=r[4], data=r[5])
            for r in rows
        ]

    def get_status_machine(self, name: str = "default") -> StatusMachine | None:
        row = self._one("SELECT definition::text FROM status_machines WHERE name = %s", (name,))
        return None if row is None else _machine_from_json(row[0])

    def put_status_machine(self, machine: StatusMachine) -> None:
        self._db.execute(
            "INSERT INTO status_machines (name, definition) VALUES (%s, %s)"
            " ON CONFLICT (name) DO UPDATE SET definition = excluded.definition",
            (machine.name, Jsonb(converter.unstructure(machine))),
        )

    def get_flow(self, name: str) -> FlowDefinition:
        row = self._one("SELECT definition FROM flows WHERE name = %s", (name,))
        if row is None:
            raise NotFound(f"no flow called {name!r}")
        return converter.structure(row[0], FlowDefinition)

    def list_flows(self) -> list[FlowDefinition]:
        rows = self._db.execute("SELECT definition FROM flows ORDER BY name").fetchall()
        return [converter.structure(row[0], FlowDefinition) for row in rows]

    def put_flow(self, flow: FlowDefinition) -> None:
        self._db.execute(
            "INSERT INTO flows (name, definition) VALUES (%s, %s)"
            " ON CONFLICT (name) DO UPDATE SET definition = excluded.definition",
            (flow.name, Jsonb(converter.unstructure(flow))),
        )

    def delete_flow(self, name: str) -> None:
        if self._db.execute("DELETE FROM flows WHERE name = %s", (name,)).rowcount == 0:
            raise NotFound(f"no flow called {name!r}")

    def _flow_id(self, name: str) -> int:
        row = self._one("SELECT id FROM flows WHERE name = %s", (name,))
        if row is None:
            raise NotFound(f"no flow called {name!r}")
        flow_id: int = row[0]
        return flow_id

    def set_hidden(self, flow: str, customer_id: int, hidden: bool) -> bool:
        flow_id = self._flow_id(flow)
        self.get_customer(customer_id)
        if hidden:
            sql = (
                "INSERT INTO flow_hides (flow_id, customer_id) VALUES (%s, %s)"
                " ON CONFLICT DO NOTHING"
            )
        else:
            sql = "DELETE FROM flow_hides WHERE flow_id = %s AND customer_id = %s"
        return self._db.execute(sql, (flow_id, customer_id)).rowcount > 0

    def custom_field_kinds(self) -> dict[str, frozenset[str]]:
        kinds: dict[str, set[str]] = {}
        rows = self._db.execute("SELECT DISTINCT key, kind FROM customer_fields").fetchall()
        for key, kind in rows:
            kinds.setdefault(key, set()).add(kind)
        return {key: frozenset(found) for key, found in kinds.items()}

    def hidden_customers(self, flow: str) -> list[int]:
        flow_id = self._flow_id(flow)
        rows = self._db.execute(
            "SELECT customer_id FROM flow_hides WHERE flow_id = %s ORDER BY customer_id",
            (flow_id,),
        ).fetchall()
        return [row[0] for row in rows]

    # settings, contact keys and merges --------------------------------------------

    def put_setting(self, key: str, value: JSONValue) -> None:
        super().put_setting(key, value)
        self._options = None  # the duplicate settings may have changed

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

    def contact_keys(self, customer_id: int) -> list[ContactKey]:
        rows = self._db.execute(
            "SELECT kind, key FROM contact_keys WHERE customer_id = %s", (customer_id,)
        ).fetchall()
        return [ContactKey(kind, key) for kind, key in rows]

    def rebuild_contact_keys(self) -> None:
        options = self._normalize_options()
        self._db.execute("DELETE FROM contact_keys")
        rows = self._db.execute(
            "SELECT id, emails, phones, whatsapp, country FROM customers"
            " WHERE merged_into IS NULL ORDER BY id"
        ).fetchall()
        batch: list[tuple[str, str, int]] = []
        for customer_id, emails, phones, whatsapp, country in rows:
            keys = contact_keys(emails, phones, whatsapp, country, options)
            batch.extend((key.kind, key.key, customer_id) for key in keys if key.valid)
            if len(batch) >= 10_000:
                self._insert_keys(batch)
        self._insert_keys(batch)

    def duplicate_groups(
        self, *, scope: Rule = MATCH_ALL
    ) -> list[tuple[ContactKey, tuple[int, ...]]]:
        # As in SQLite: the shared keys first, then their holders by index look-ups.
        visible, params = self._customer_ids_in(scope)
        held, _ = self._customer_ids_in(scope, "k.customer_id")
        rows = self._db.execute(
            "SELECT s.kind, s.key, (SELECT array_agg(k.customer_id ORDER BY k.customer_id)"
            " FROM contact_keys k WHERE k.kind = s.kind AND k.key = s.key"
            f"{held})"
            f" FROM (SELECT kind, key FROM contact_keys WHERE TRUE{visible}"
            " GROUP BY kind, key HAVING COUNT(*) > 1) s ORDER BY s.kind, s.key",
            [*params, *params],
        ).fetchall()
        return [(ContactKey(kind, key), tuple(ids)) for kind, key, ids in rows]

    def get_customers(
        self, customer_ids: Sequence[int], *, scope: Rule = MATCH_ALL
    ) -> list[Customer]:
        where, params = self._scoped("c.id = ANY(?)", (sorted(set(customer_ids)),), scope)
        rows = self._db.execute(
            f"SELECT {_SELECT} FROM customers c WHERE {where} ORDER BY c.id", params
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

    def hidden_flows(self, customer_id: int) -> list[str]:
        rows = self._db.execute(
            "SELECT f.name FROM flow_hides h JOIN flows f ON f.id = h.flow_id"
            " WHERE h.customer_id = %s ORDER BY f.name",
            (customer_id,),
        ).fetchall()
        return [row[0] for row in rows]

    def mark_merged(self, customer_id: int, into: int) -> None:
        self.get_customer(customer_id)
        self.get_customer(into)
        self._db.execute("DELETE FROM contact_keys WHERE customer_id = %s", (customer_id,))
        self._db.execute(
            "UPDATE customers SET merged_into = %s WHERE merged_into = %s", (into, customer_id)
        )
        self._db.execute("UPDATE customers SET merged_into = %s WHERE id = %s", (into, customer_id))

    def merged_into(self, customer_id: int) -> int | None:
        row = self._one("SELECT merged_into FROM customers WHERE id = %s", (customer_id,))
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
            if tables and META_TABLE not in tables:
                raise StoreError(
                    f"{redact_url(self.url)} is a database but not a pipeline_core store "
                    f"(it has tables {', '.join(sorted(tables)[:5])}); refusing to change it"
                )
            version = 0
            if tables:
                row = self._db.execute(
                    f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'"
                ).fetchone()
                version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{redact_url(self.url)} has schema version {version}, newer than this "
                    f"pipeline_core understands ({SCHEMA_VERSION}); upgrade pipeline_core"
                )
            if version < LATEST:
                self._db.execute(
                    f"CREATE TABLE IF NOT EXISTS {META_TABLE}"
                    " (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
                )
                for step in range(version + 1, LATEST + 1):
                    for statement in MIGRATIONS[step]:
                        self._db.execute(statement)
                if 0 < version < CONTACT_KEYS_SINCE <= LATEST:
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
