"""A customer's life in the SQL backends: sub-customers, follow-ups, tasks, time and events."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import attrs

from pipeline_core.customer import Customer
from pipeline_core.domain.activity import Task, TimeEntry
from pipeline_core.domain.events import Event
from pipeline_core.domain.serialization import converter
from pipeline_core.errors import NotFound
from pipeline_core.rules.ast import MATCH_ALL, Rule
from pipeline_core.storage.sql.base import SqlBackend


class LifeQueries(SqlBackend):
    """The SQL of sub-customers, custom-field holders, follow-ups, tasks, time entries, events."""

    # customers found by a side fact ------------------------------------------------

    def children(self, parent_id: int, *, scope: Rule = MATCH_ALL) -> list[Customer]:
        return self._scoped_customers("c.parent_id = ?", (parent_id,), scope)

    def customers_with_field(self, key: str, *, scope: Rule = MATCH_ALL) -> list[Customer]:
        return self._scoped_customers(
            "c.id IN (SELECT customer_id FROM customer_fields WHERE key = ?)", (key,), scope
        )

    def follow_ups_until(self, last_day: date, *, scope: Rule = MATCH_ALL) -> list[Customer]:
        return self._scoped_customers(
            "c.next_follow_up IS NOT NULL AND c.next_follow_up <= ?",
            (self._day_out(last_day),),
            scope,
            order="c.next_follow_up, c.id",
        )

    # tasks -----------------------------------------------------------------------

    def _task(self, row: Sequence[Any]) -> Task:
        # The body is the task's JSON; its id and customer live in the row (the row is
        # what merges move and finds filter on; bodies written before merges rewrote
        # them may still name the retired customer).
        body = converter.structure(self._json_in(row[2]), Task)
        return attrs.evolve(body, id=row[0], customer_id=row[1])

    def _task_values(self, task: Task) -> list[Any]:
        return [
            task.customer_id,
            task.worker,
            self._day_out(task.due),
            self._moment_out(task.done_at),
            self._json_out(converter.unstructure(task)),
        ]

    def insert_task(self, task: Task) -> Task:
        self.get_customer(task.customer_id)
        task_id = self._insert_id(
            "INSERT INTO tasks (customer_id, worker, due, done_at, body) VALUES (?, ?, ?, ?, ?)",
            self._task_values(task),
        )
        return attrs.evolve(task, id=task_id)

    def get_task(self, task_id: int) -> Task:
        row = self._one("SELECT id, customer_id, body FROM tasks WHERE id = ?", (task_id,))
        if row is None:
            raise NotFound(f"no task with id {task_id}")
        return self._task(row)

    def update_task(self, task: Task) -> Task:
        changed = self._db.execute(
            self._sql(
                "UPDATE tasks SET customer_id = ?, worker = ?, due = ?, done_at = ?, body = ?"
                " WHERE id = ?"
            ),
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
        where, params = self._equal(customer_id=customer_id, worker=worker)
        if open_only:
            where += " AND done_at IS NULL"
        visible, scope_params = self._customer_ids_in(scope)
        rows = self._db.execute(
            f"{self._sql(f'SELECT id, customer_id, body FROM tasks WHERE {where}')}{visible}"
            " ORDER BY due IS NULL, due, id",
            [*params, *scope_params],
        )
        return [self._task(row) for row in rows]

    # time entries ----------------------------------------------------------------

    def insert_time_entry(self, entry: TimeEntry) -> TimeEntry:
        self.get_customer(entry.customer_id)
        entry_id = self._insert_id(
            "INSERT INTO time_entries (customer_id, worker, at, minutes, note)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                entry.customer_id,
                entry.worker,
                self._moment_out(entry.at),
                entry.minutes,
                entry.note,
            ),
        )
        return attrs.evolve(entry, id=entry_id)

    def time_entries(
        self,
        *,
        customer_id: int | None = None,
        worker: str | None = None,
        scope: Rule = MATCH_ALL,
    ) -> list[TimeEntry]:
        where, params = self._equal(customer_id=customer_id, worker=worker)
        visible, scope_params = self._customer_ids_in(scope)
        select = "SELECT id, customer_id, worker, at, minutes, note FROM time_entries"
        rows = self._db.execute(
            f"{self._sql(f'{select} WHERE {where}')}{visible} ORDER BY at, id",
            [*params, *scope_params],
        )
        return [
            TimeEntry(
                id=row[0],
                customer_id=row[1],
                worker=row[2],
                at=self._moment_in(row[3]),
                minutes=row[4],
                note=row[5],
            )
            for row in rows
        ]

    # events ----------------------------------------------------------------------

    def events(self, customer_id: int) -> list[Event]:
        rows = self._db.execute(
            self._sql(
                "SELECT id, customer_id, at, actor, kind, data FROM events"
                " WHERE customer_id = ? ORDER BY id"
            ),
            (customer_id,),
        )
        return self._events_of(rows)

    def latest_events(self, customer_id: int, limit: int) -> tuple[list[Event], int]:
        rows = self._rows(
            "SELECT id, customer_id, at, actor, kind, data FROM events"
            " WHERE customer_id = ? ORDER BY id DESC LIMIT ?",
            [customer_id, max(0, limit)],
        )
        count = self._scalar("SELECT count(*) FROM events WHERE customer_id = ?", [customer_id])
        return self._events_of(reversed(rows)), int(count)

    def _events_of(self, rows: Iterable[Sequence[Any]]) -> list[Event]:
        return [
            Event(
                id=row[0],
                customer_id=row[1],
                at=self._moment_in(row[2]),
                actor=row[3],
                kind=row[4],
                data=self._json_in(row[5]),
            )
            for row in rows
        ]
