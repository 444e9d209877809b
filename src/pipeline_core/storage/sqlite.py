"""The SQLite store: the embedded default. stdlib sqlite3, WAL, foreign keys, versioned schema."""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from pipeline_core.activity import Task, TimeEntry
from pipeline_core.customer import (
    Customer,
    FieldValue,
    stored_customer,
    with_version,
)
from pipeline_core.duplicate_settings import SETTINGS_KEY as DUPLICATES_KEY
from pipeline_core.duplicate_settings import normalize_options
from pipeline_core.errors import ConcurrencyError, NotFound, StoreError
from pipeline_core.events import Event, JSONValue
from pipeline_core.flows import FlowDefinition
from pipeline_core.normalize import ContactKey, NormalizeOptions, contact_keys, index_keys
from pipeline_core.report_keys import AggregateRow, GroupKey, StageTime
from pipeline_core.rules.ast import MATCH_ALL, MatchAll, Rule
from pipeline_core.rules.sql import SQL_FUNCTIONS, SQLITE, SqlValue
from pipeline_core.search import TermRow, term_rows
from pipeline_core.serialization import converter, dumps, from_typed_field_value
from pipeline_core.statuses import StatusMachine
from pipeline_core.storage.protocol import SCHEMA_VERSION, Order
from pipeline_core.storage.sql_access import SEARCH_ATTRIBUTES, AccessQueries
from pipeline_core.storage.sql_common import (
    CONTACT_ATTRIBUTES,
    COUNT_BY_STATUS_SQL,
    COUNT_SQL,
    LIVE_CLAUSE,
    READ_COLUMNS,
    STORED_ATTRIBUTES,
    TEXT_ROW_COLUMNS,
    customers_query,
    encode_attributes,
    field_rows,
    iso_moment,
    live_where,
    text_row,
)
from pipeline_core.storage.sql_reports import (
    SQLITE_MONTH,
    SQLITE_STAGE_TIMES,
    aggregate_query,
    aggregate_rows,
    sqlite_decimal,
)
from pipeline_core.storage.sqlite_schema import (
    CONTACT_KEYS_SINCE,
    LATEST,
    MIGRATIONS,
    SEARCH_VERSION,
)

META_TABLE = "pipeline_meta"

CACHE_KIB = 64 * 1024
"""Page cache per connection (KiB)."""

_SELECT = ", ".join(f"c.{name}" for name in READ_COLUMNS)


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _texts(text: str) -> tuple[str, ...]:
    # Most lists are empty: skip the JSON decoder for them (rows are read in bulk).
    return () if text == "[]" else tuple(json.loads(text))


def _customer(row: sqlite3.Row) -> Customer:
    fields = (
        {key: from_typed_field_value(pair) for key, pair in json.loads(row[24]).items()}
        if row[24] != "{}"
        else {}
    )
    return stored_customer(
        id=row[0],
        name=row[1],
        status=row[2],
        folder=row[3],
        source=row[4],
        team=row[5],
        country=row[6],
        whatsapp=row[7],
        parent_id=row[8],
        value=None if row[9] is None else Decimal(row[9]),
        currency=row[10],
        outcome=row[11],
        order_id=row[12],
        lead_notes=row[13],
        created_at=datetime.fromisoformat(row[14]),
        updated_at=datetime.fromisoformat(row[15]),
        converted_at=_moment(row[16]),
        last_contacted_at=_moment(row[17]),
        next_follow_up=None if row[18] is None else date.fromisoformat(row[18]),
        version=row[19],
        emails=_texts(row[20]),
        phones=_texts(row[21]),
        tags=_texts(row[22]),
        workers=_texts(row[23]),
        fields=fields,
        closed_at=_moment(row[25]),
        lost_reason=row[26],
    )


@functools.lru_cache(maxsize=32)
def _machine_from_json(text: str) -> StatusMachine:
    # Machines are read on every move and rarely change: structure each distinct text once.
    return converter.structure(json.loads(text), StatusMachine)


def _task(row: sqlite3.Row) -> Task:
    # The body is the task's JSON; its id lives in the row.
    return attrs.evolve(converter.structure(json.loads(row[1]), Task), id=row[0])


class _LifeQueries(AccessQueries):
    """Settings, sub-customers, workers, follow-ups, tasks and time entries on SQLite."""

    _db: sqlite3.Connection
    _dialect = SQLITE

    def get_customer(self, customer_id: int, *, scope: Rule = MATCH_ALL) -> Customer:
        raise NotImplementedError

    _cache: dict[tuple[str, str], Any]

    def _customer_from_row(self, row: Sequence[Any]) -> Customer:
        return _customer(row)  # type: ignore[arg-type]

    def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._db.executemany(sql, rows)

    def get_setting(self, key: str) -> JSONValue | None:
        # The text is cached, not the value: callers get a fresh object they may change.
        if ("setting", key) not in self._cache:
            row = self._db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
            self._cache["setting", key] = None if row is None else row[0]
        text = self._cache["setting", key]
        value: JSONValue | None = None if text is None else json.loads(text)
        return value

    def put_setting(self, key: str, value: JSONValue) -> None:
        self._cache.pop(("setting", key), None)
        self._db.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, dumps(value)),
        )

    def _customers(self, where: str, params: Sequence[Any], order: str = "c.id") -> list[Customer]:
        sql = f"SELECT {_SELECT} FROM customers c WHERE {LIVE_CLAUSE.format(rule=where)} ORDER BY {order}"
        return [_customer(row) for row in self._db.execute(sql, params)]

    def children(self, parent_id: int, *, scope: Rule = MATCH_ALL) -> list[Customer]:
        return self._scoped_customers("c.parent_id = ?", (parent_id,), scope)

    def customers_of_worker(self, worker: str, *, scope: Rule = MATCH_ALL) -> list[Customer]:
        return self._scoped_customers(
            "EXISTS (SELECT 1 FROM json_each(c.workers) w WHERE w.value = ?)", (worker,), scope
        )

    def customers_with_field(self, key: str, *, scope: Rule = MATCH_ALL) -> list[Customer]:
        return self._scoped_customers(
            "c.id IN (SELECT customer_id FROM customer_fields WHERE key = ?)", (key,), scope
        )

    def follow_ups_until(self, last_day: date, *, scope: Rule = MATCH_ALL) -> list[Customer]:
        return self._scoped_customers(
            "c.next_follow_up IS NOT NULL AND c.next_follow_up <= ?",
            (last_day.isoformat(),),
            scope,
            order="c.next_follow_up, c.id",
        )

    def _task_values(self, task: Task) -> list[Any]:
        return [
            task.customer_id,
            task.worker,
            None if task.due is None else task.due.isoformat(),
            iso_moment(task.done_at),
            dumps(converter.unstructure(task)),
        ]

    def insert_task(self, task: Task) -> Task:
        self.get_customer(task.customer_id)
        cursor = self._db.execute(
            "INSERT INTO tasks (customer_id, worker, due, done_at, body) VALUES (?, ?, ?, ?, ?)",
            self._task_values(task),
        )
        assert cursor.lastrowid is not None
        return attrs.evolve(task, id=cursor.lastrowid)

    def get_task(self, task_id: int) -> Task:
        row = self._db.execute("SELECT id, body FROM tasks WHERE id = ?", (task_id,)).fetchone()
        if row is None:
            raise NotFound(f"no task with id {task_id}")
        return _task(row)

    def update_task(self, task: Task) -> Task:
        values = self._task_values(task)
        changed = self._db.execute(
            "UPDATE tasks SET customer_id = ?, worker = ?, due = ?, done_at = ?, body = ?"
            " WHERE id = ?",
            [*values, task.id],
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
        conditions: list[str] = ["1"]
        visible, params = self._customer_ids_in(scope)
        if customer_id is not None:
            conditions.append("customer_id = ?")
            params.append(customer_id)
        if worker is not None:
            conditions.append("worker = ?")
            params.append(worker)
        if open_only:
            conditions.append("done_at IS NULL")
        rows = self._db.execute(
            f"SELECT id, body FROM tasks WHERE {' AND '.join(conditions)}{visible}"
            " ORDER BY due IS NULL, due, id",
            params,
        )
        return [_task(row) for row in rows]

    def insert_time_entry(self, entry: TimeEntry) -> TimeEntry:
        self.get_customer(entry.customer_id)
        cursor = self._db.execute(
            "INSERT INTO time_entries (customer_id, worker, at, minutes, note)"
            " VALUES (?, ?, ?, ?, ?)",
            (entry.customer_id, entry.worker, iso_moment(entry.at), entry.minutes, entry.note),
        )
        assert cursor.lastrowid is not None
        return attrs.evolve(entry, id=cursor.lastrowid)

    def time_entries(
        self,
        *,
        customer_id: int | None = None,
        worker: str | None = None,
        scope: Rule = MATCH_ALL,
    ) -> list[TimeEntry]:
        conditions: list[str] = ["1"]
        visible, params = self._customer_ids_in(scope)
        if customer_id is not None:
            conditions.append("customer_id = ?")
            params.append(customer_id)
        if worker is not None:
            conditions.append("worker = ?")
            params.append(worker)
        rows = self._db.execute(
            "SELECT id, customer_id, worker, at, minutes, note FROM time_entries"
            f" WHERE {' AND '.join(conditions)}{visible} ORDER BY at, id",
            params,
        )
        return [
            TimeEntry(
                id=row[0],
                customer_id=row[1],
                worker=row[2],
                at=datetime.fromisoformat(row[3]),
                minutes=row[4],
                note=row[5],
            )
            for row in rows
        ]


class SqliteTransaction(_LifeQueries):
    """A unit of work on one SQLite connection (BEGIN IMMEDIATE ... COMMIT)."""

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

    # customers -----------------------------------------------------------------

    def get_customer(self, customer_id: int, *, scope: Rule = MATCH_ALL) -> Customer:
        prefetched, self._prefetched = self._prefetched, None
        if not isinstance(scope, MatchAll):
            # The actor's scope is part of the query: a prefetched row is never used.
            where, params = self._scoped("c.id = ?", (customer_id,), scope)
            found = self._db.execute(
                f"SELECT {_SELECT} FROM customers c WHERE {where}", params
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
            f"SELECT {_SELECT}, c.merged_into FROM customers c WHERE c.id = ?", (customer_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no customer with id {customer_id}")
        customer = self._seen[customer_id] = _customer(row)
        return customer, row[-1]

    def lock_customer(self, customer_id: int, *, scope: Rule = MATCH_ALL) -> Customer:
        # BEGIN IMMEDIATE already holds the write lock.
        return self.get_customer(customer_id, scope=scope)

    def insert_customer(self, customer: Customer) -> Customer:
        pairs = encode_attributes(customer, STORED_ATTRIBUTES)
        columns = ", ".join(column for column, _ in pairs)
        marks = ", ".join("?" for _ in pairs)
        cursor = self._db.execute(
            f"INSERT INTO customers ({columns}, version) VALUES ({marks}, 1)",
            [value for _, value in pairs],
        )
        customer_id = cursor.lastrowid
        assert customer_id is not None
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
        # BEGIN IMMEDIATE holds the write lock, so the next ids are ours to hand out
        # (what SQLite itself would pick: one more than the largest).
        first: int = self._db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM customers").fetchone()[
            0
        ]
        ids = range(first, first + len(customers))
        marks = ", ".join("?" for _ in range(len(STORED_ATTRIBUTES) + 2))
        self._db.executemany(
            f"INSERT INTO customers ({TEXT_ROW_COLUMNS}, version) VALUES ({marks}, 1)",
            [
                text_row(customer_id, customer)
                for customer_id, customer in zip(ids, customers, strict=True)
            ],
        )
        self._db.executemany(
            "INSERT INTO customer_tags (customer_id, tag) VALUES (?, ?)",
            [
                (customer_id, tag)
                for customer_id, customer in zip(ids, customers, strict=True)
                for tag in customer.tags
            ],
        )
        self._db.executemany(
            "INSERT INTO customer_fields (customer_id, key, kind, text_value, num_value)"
            " VALUES (?, ?, ?, ?, ?)",
            [
                row
                for customer_id, customer in zip(ids, customers, strict=True)
                if customer.fields
                for row in field_rows(customer_id, customer.fields)
            ],
        )
        if keys is None:
            options = self._normalize_options()
            keys = [index_keys(customer, options) for customer in customers]
        self._db.executemany(
            "INSERT OR IGNORE INTO contact_keys (kind, key, customer_id) VALUES (?, ?, ?)",
            [
                (key.kind, key.key, customer_id)
                for customer_id, held in zip(ids, keys, strict=True)
                for key in held
            ],
        )
        if terms is None:
            terms = [term_rows(customer) for customer in customers]
        self._db.executemany(
            "INSERT INTO search_terms (kind, term, customer_id, weight) VALUES (?, ?, ?, ?)",
            [
                (kind, text, customer_id, weight)
                for customer_id, held in zip(ids, terms, strict=True)
                for kind, text, weight in held
            ],
        )
        return list(ids)

    def update_customer(self, customer: Customer) -> Customer:
        self._prefetched = None
        before = self._seen.get(customer.id)
        if before is None or before.version != customer.version:
            before = self.get_customer(customer.id)
            if before.version != customer.version:
                raise ConcurrencyError(customer.id, customer.version, before.version)
        changed = [n for n in STORED_ATTRIBUTES if getattr(before, n) != getattr(customer, n)]
        pairs = encode_attributes(customer, changed)
        assignments = "".join(f"{column} = ?, " for column, _ in pairs)
        cursor = self._db.execute(
            f"UPDATE customers SET {assignments}version = version + 1 WHERE id = ? AND version = ?",
            [*(value for _, value in pairs), customer.id, customer.version],
        )
        if cursor.rowcount == 0:
            del self._seen[customer.id]
            raise ConcurrencyError(
                customer.id, customer.version, self.get_customer(customer.id).version
            )
        if "tags" in changed:
            self._write_tags(customer.id, customer.tags, replace=True)
        if "fields" in changed:
            self._write_fields(customer.id, dict(customer.fields), replace=True)
        if not CONTACT_ATTRIBUTES.isdisjoint(changed) and self.merged_into(customer.id) is None:
            self._db.execute("DELETE FROM contact_keys WHERE customer_id = ?", (customer.id,))
            self._write_keys(customer.id, index_keys(customer, self._normalize_options()))
        if SEARCH_ATTRIBUTES.intersection(changed):
            self._write_terms(customer, replace=True)
        stored = self._seen[customer.id] = with_version(customer, customer.version + 1)
        return stored

    def _normalize_options(self) -> NormalizeOptions:
        if self._options is None:
            self._options = normalize_options(self.get_setting(DUPLICATES_KEY))
        return self._options

    def _write_keys(self, customer_id: int, keys: Sequence[ContactKey]) -> None:
        self._db.executemany(
            "INSERT INTO contact_keys (kind, key, customer_id) VALUES (?, ?, ?)",
            [(key.kind, key.key, customer_id) for key in keys],
        )

    def _write_tags(self, customer_id: int, tags: Sequence[str], *, replace: bool) -> None:
        if replace:
            self._db.execute("DELETE FROM customer_tags WHERE customer_id = ?", (customer_id,))
        self._db.executemany(
            "INSERT INTO customer_tags (customer_id, tag) VALUES (?, ?)",
            [(customer_id, tag) for tag in tags],
        )

    def _write_fields(
        self, customer_id: int, fields: dict[str, FieldValue], *, replace: bool
    ) -> None:
        if replace:
            self._db.execute("DELETE FROM customer_fields WHERE customer_id = ?", (customer_id,))
        self._db.executemany(
            "INSERT INTO customer_fields (customer_id, key, kind, text_value, num_value)"
            " VALUES (?, ?, ?, ?, ?)",
            field_rows(customer_id, fields),
        )

    def _where(self, rule: Rule, hidden_from: str | None) -> tuple[str, list[SqlValue]]:
        return live_where(rule, SQLITE, hidden_from)

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
            SQLITE,
            order=order,
            limit=limit,
            offset=offset,
            after_id=after_id,
        )
        return [_customer(row) for row in self._db.execute(sql, values)]

    def count_customers(self, rule: Rule, *, hidden_from: str | None = None) -> int:
        where, params = self._where(rule, hidden_from)
        row = self._db.execute(COUNT_SQL.format(where=where), params)
        count: int = row.fetchone()[0]
        return count

    def count_by_status(self, rule: Rule, *, hidden_from: str | None = None) -> dict[str, int]:
        where, params = self._where(rule, hidden_from)
        rows = self._db.execute(COUNT_BY_STATUS_SQL.format(where=where), params)
        return {status: count for status, count in rows}

    def _report_where(self, rule: Rule, hidden_from: str | None) -> tuple[str, list[SqlValue]]:
        return live_where(rule, SQLITE, hidden_from, hidden_set=True)

    def aggregate(
        self, rule: Rule, keys: Sequence[GroupKey], *, hidden_from: str | None = None
    ) -> list[AggregateRow]:
        where, params = self._report_where(rule, hidden_from)
        sql, join_params = aggregate_query(keys, where, "?", SQLITE_MONTH, "c.value_num")
        rows = self._db.execute(sql, [*join_params, *params])
        return aggregate_rows(keys, rows, sqlite_decimal)

    def stage_times(
        self, rule: Rule, now: datetime, *, hidden_from: str | None = None
    ) -> dict[str, StageTime]:
        where, params = self._report_where(rule, hidden_from)
        sql = SQLITE_STAGE_TIMES.replace("{where}", where)
        rows = self._db.execute(sql, [*params, iso_moment(now)])
        return {status: StageTime(stays, seconds) for status, stays, seconds in rows}

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

    def append_events(self, events: Sequence[Event]) -> None:
        try:
            self._db.executemany(
                "INSERT INTO events (customer_id, at, actor, kind, data) VALUES (?, ?, ?, ?, ?)",
                [
                    (e.customer_id, iso_moment(e.at), e.actor, e.kind.value, dumps(dict(e.data)))
                    for e in events
                ],
            )
        except sqlite3.IntegrityError:
            missing = [e.customer_id for e in events]
            raise NotFound(f"an event names a customer that does not exist: {missing}") from None

    def events(self, customer_id: int) -> list[Event]:
        rows = self._db.execute(
            "SELECT id, customer_id, at, actor, kind, data FROM events"
            " WHERE customer_id = ? ORDER BY id",
            (customer_id,),
        )
        return [
            Event(
                id=row[0],
                customer_id=row[1],
                at=datetime.fromisoformat(row[2]),
                actor=row[3],
                kind=row[4],
                data=json.loads(row[5]),
            )
            for row in rows
        ]

    # machines, flows, hides ------------------------------------------------------

    def get_status_machine(self, name: str = "default") -> StatusMachine | None:
        if ("machine", name) in self._cache:
            cached: StatusMachine | None = self._cache["machine", name]
            return cached
        row = self._db.execute(
            "SELECT definition FROM status_machines WHERE name = ?", (name,)
        ).fetchone()
        machine = None if row is None else _machine_from_json(row[0])
        self._cache["machine", name] = machine
        return machine

    def put_status_machine(self, machine: StatusMachine) -> None:
        self._cache.pop(("machine", machine.name), None)
        self._db.execute(
            "INSERT INTO status_machines (name, definition) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET definition = excluded.definition",
            (machine.name, dumps(converter.unstructure(machine))),
        )

    def get_flow(self, name: str) -> FlowDefinition:
        row = self._db.execute("SELECT definition FROM flows WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"no flow called {name!r}")
        return converter.structure(json.loads(row[0]), FlowDefinition)

    def list_flows(self) -> list[FlowDefinition]:
        rows = self._db.execute("SELECT definition FROM flows ORDER BY name")
        return [converter.structure(json.loads(row[0]), FlowDefinition) for row in rows]

    def put_flow(self, flow: FlowDefinition) -> None:
        self._db.execute(
            "INSERT INTO flows (name, definition) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET definition = excluded.definition",
            (flow.name, dumps(converter.unstructure(flow))),
        )

    def delete_flow(self, name: str) -> None:
        if self._db.execute("DELETE FROM flows WHERE name = ?", (name,)).rowcount == 0:
            raise NotFound(f"no flow called {name!r}")

    def _flow_id(self, name: str) -> int:
        row = self._db.execute("SELECT id FROM flows WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"no flow called {name!r}")
        flow_id: int = row[0]
        return flow_id

    def set_hidden(self, flow: str, customer_id: int, hidden: bool) -> bool:
        flow_id = self._flow_id(flow)
        self.get_customer(customer_id)
        if hidden:
            sql = "INSERT OR IGNORE INTO flow_hides (flow_id, customer_id) VALUES (?, ?)"
        else:
            sql = "DELETE FROM flow_hides WHERE flow_id = ? AND customer_id = ?"
        return self._db.execute(sql, (flow_id, customer_id)).rowcount > 0

    def hidden_customers(self, flow: str) -> list[int]:
        flow_id = self._flow_id(flow)
        rows = self._db.execute(
            "SELECT customer_id FROM flow_hides WHERE flow_id = ? ORDER BY customer_id",
            (flow_id,),
        )
        return [row[0] for row in rows]

    # settings, contact keys and merges --------------------------------------------

    def put_setting(self, key: str, value: JSONValue) -> None:
        super().put_setting(key, value)
        self._options = None  # the duplicate settings may have changed

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

    def contact_keys(self, customer_id: int) -> list[ContactKey]:
        rows = self._db.execute(
            "SELECT kind, key FROM contact_keys WHERE customer_id = ?", (customer_id,)
        )
        return [ContactKey(kind, key) for kind, key in rows]

    def rebuild_contact_keys(self) -> None:
        options = self._normalize_options()
        self._db.execute("DELETE FROM contact_keys")
        rows = self._db.execute(
            "SELECT id, emails, phones, whatsapp, country FROM customers"
            " WHERE merged_into IS NULL ORDER BY id"
        )
        batch: list[tuple[str, str, int]] = []
        for customer_id, emails, phones, whatsapp, country in rows:
            keys = contact_keys(json.loads(emails), json.loads(phones), whatsapp, country, options)
            batch.extend((key.kind, key.key, customer_id) for key in keys if key.valid)
            if len(batch) >= 10_000:
                self._insert_keys(batch)
        self._insert_keys(batch)

    def _insert_keys(self, batch: list[tuple[str, str, int]]) -> None:
        self._db.executemany(
            "INSERT OR IGNORE INTO contact_keys (kind, key, customer_id) VALUES (?, ?, ?)", batch
        )
        batch.clear()

    def duplicate_groups(
        self, *, scope: Rule = MATCH_ALL
    ) -> list[tuple[ContactKey, tuple[int, ...]]]:
        # Find the shared keys with the plain GROUP BY (an index scan, no sort), then
        # collect each one's holders by a primary-key look-up: cheaper than aggregating
        # the ids of every group when almost every key is held once.
        visible, params = self._customer_ids_in(scope)
        held, _ = self._customer_ids_in(scope, "k.customer_id")
        rows = self._db.execute(
            "SELECT s.kind, s.key, (SELECT group_concat(k.customer_id) FROM contact_keys k"
            f" WHERE k.kind = s.kind AND k.key = s.key{held})"
            f" FROM (SELECT kind, key FROM contact_keys WHERE 1{visible}"
            " GROUP BY kind, key HAVING COUNT(*) > 1) AS s ORDER BY s.kind, s.key",
            [*params, *params],
        )
        return [
            (ContactKey(kind, key), tuple(sorted(map(int, ids.split(",")))))
            for kind, key, ids in rows
        ]

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
                f"SELECT {_SELECT} FROM customers c WHERE {where} ORDER BY c.id", params
            )
            found.extend(_customer(row) for row in rows)
        return found

    def move_attachments(self, from_id: int, to_id: int) -> dict[str, list[int]]:
        self.get_customer(to_id)
        moved: dict[str, list[int]] = {}
        for table in ("events", "tasks", "time_entries"):
            rows = self._db.execute(
                f"SELECT id FROM {table} WHERE customer_id = ? ORDER BY id", (from_id,)
            )
            moved[table] = [row[0] for row in rows]
            self._db.execute(
                f"UPDATE {table} SET customer_id = ? WHERE customer_id = ?", (to_id, from_id)
            )
        return moved

    def hidden_flows(self, customer_id: int) -> list[str]:
        rows = self._db.execute(
            "SELECT f.name FROM flow_hides h JOIN flows f ON f.id = h.flow_id"
            " WHERE h.customer_id = ? ORDER BY f.name",
            (customer_id,),
        )
        return [row[0] for row in rows]

    def mark_merged(self, customer_id: int, into: int) -> None:
        self._prefetched = None
        self.get_customer(customer_id)
        self.get_customer(into)
        self._db.execute("DELETE FROM contact_keys WHERE customer_id = ?", (customer_id,))
        self._db.execute(
            "UPDATE customers SET merged_into = ? WHERE merged_into = ?", (into, customer_id)
        )
        self._db.execute("UPDATE customers SET merged_into = ? WHERE id = ?", (into, customer_id))

    def merged_into(self, customer_id: int) -> int | None:
        # A use case asks this just before reading the customer: read the whole row
        # once and hand it to that next read (a move is then one SELECT, not two).
        customer, target = self._load(customer_id)
        self._prefetched = customer if target is None else None
        return target


def _path_from_url(url: str) -> str:
    if url in ("sqlite:", "sqlite://", "sqlite:///:memory:"):
        return ":memory:"
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///") :]
    if url.startswith("sqlite:"):
        return url[len("sqlite:") :]
    raise StoreError(f"not a SQLite URL: {url!r}; use sqlite:///relative.db or sqlite:////abs.db")


class SqliteStore:
    """A store in one SQLite file. URL: ``sqlite:///relative/path.db`` or ``sqlite:////abs.db``."""

    def __init__(self, url: str, *, busy_timeout: float = 10.0) -> None:
        self.url = url
        self.path = _path_from_url(url)
        if self.path != ":memory:" and Path(self.path).is_dir():
            raise StoreError(f"{self.path} is a directory, not a SQLite file")
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

    def _prepare(self, busy_timeout: float) -> None:
        # Check what the file is before changing anything in it (WAL rewrites the header).
        try:
            tables = {
                row[0]
                for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self.path} is not a SQLite database ({error})") from None
        if tables and META_TABLE not in tables:
            raise StoreError(
                f"{self.path} is a SQLite database but not a pipeline_core store "
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
                    f"{self.path} has schema version {version}, newer than this pipeline_core "
                    f"understands ({SCHEMA_VERSION}); upgrade pipeline_core to open it"
                )
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute("PRAGMA foreign_keys = ON")
        # 64 MB of page cache (SQLite's default is 2 MB): a million customers' indexes
        # (search terms, contact keys) stay in memory while a bulk import writes them.
        self._db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        for name, (arity, function) in SQL_FUNCTIONS.items():
            self._db.create_function(name, arity, function, deterministic=True)
        self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        if version < LATEST:
            self._migrate(version)

    def _migrate(self, current: int) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute(
                f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            for version in range(current + 1, LATEST + 1):
                for statement in MIGRATIONS[version]:
                    self._db.execute(statement)
            if 0 < current < CONTACT_KEYS_SINCE <= LATEST:
                SqliteTransaction(self._db).rebuild_contact_keys()
            if current < SEARCH_VERSION:
                SqliteTransaction(self._db)._backfill_terms()
            self._db.execute(
                f"INSERT INTO {META_TABLE} (key, value) VALUES ('schema_version', ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(LATEST),),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    @contextmanager
    def transaction(self) -> Iterator[SqliteTransaction]:
        """BEGIN IMMEDIATE so that writers queue on the busy timeout instead of failing late."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                version = self._db.execute("PRAGMA data_version").fetchone()[0]
            except sqlite3.Error as error:
                raise StoreError(f"cannot begin a transaction on {self.path}: {error}") from None
            if version != self._cache_version:
                self._cache.clear()
                self._cache_version = version
            try:
                yield SqliteTransaction(self._db, self._cache)
            except sqlite3.Error as error:
                self._db.execute("ROLLBACK")
                self._cache.clear()
                raise StoreError(f"SQLite error on {self.path}: {error}") from error
            except BaseException:
                self._db.execute("ROLLBACK")
                self._cache.clear()  # it may hold what the rolled-back work wrote
                raise
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error as error:
                self._db.execute("ROLLBACK")
                self._cache.clear()
                raise StoreError(f"cannot commit to {self.path}: {error}") from None

    def close(self) -> None:
        """Close the connection."""
        self._db.close()


def open_sqlite_store(url: str) -> SqliteStore:
    """Open (creating or migrating if needed) the SQLite store a ``sqlite:`` URL names."""
    return SqliteStore(url)
