"""Use cases of the work done on customers: tasks with checklists, working time, workers."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

import attrs

from pipeline_core.customer import Customer
from pipeline_core.domain.activity import (
    Priority,
    Step,
    Task,
    TimeEntry,
    minutes_by_customer,
    minutes_by_worker,
)
from pipeline_core.domain.events import EventKind
from pipeline_core.domain.view import TimeSummary
from pipeline_core.errors import InvalidValue
from pipeline_core.workspace.definitions import today
from pipeline_core.workspace.permissions import shown, shown_all
from pipeline_core.workspace.session import Session

# tasks ------------------------------------------------------------------------------------


def add_task(
    s: Session,
    customer_id: int,
    title: str,
    *,
    description: str = "",
    due: date | None = None,
    worker: str | None = None,
    priority: Priority = "normal",
    steps: Iterable[str | Step] = (),
) -> Task:
    """Create a task on the customer, with an optional checklist of steps."""
    task = Task(
        customer_id=customer_id,
        title=title,
        description=description,
        due=due,
        worker=worker,
        priority=priority,
        steps=steps,
        created_at=s.now(),
    )
    return add_task_in(s, task)


def add_task_in(s: Session, task: Task) -> Task:
    """Store a new task and record it on its customer's timeline."""
    stored = s.insert_task(task)
    s.append_events(
        [
            s.event(
                stored.customer_id,
                EventKind.TASK_CREATED,
                task=stored.id,
                title=stored.title,
                due=None if stored.due is None else stored.due.isoformat(),
                worker=stored.worker,
                priority=stored.priority,
            )
        ]
    )
    return stored


def get_task(s: Session, task_id: int) -> Task:
    """The task with that id."""
    return s.get_task(task_id)


def set_task_done(s: Session, task_id: int, *, done: bool) -> Task:
    """Mark a task done (now), or open it again; done tasks are no longer open or overdue."""
    task = s.get_task(task_id)
    if task.done == done:
        return task
    updated = s.update_task(attrs.evolve(task, done_at=s.now() if done else None))
    kind = EventKind.TASK_DONE if done else EventKind.TASK_REOPENED
    s.append_events([s.event(task.customer_id, kind, task=task.id, title=task.title)])
    return updated


def tick_step(s: Session, task_id: int, step: int, done: bool = True) -> Task:
    """Tick off (or un-tick) checklist step number ``step`` (counted from 1) of a task."""
    task = s.get_task(task_id)
    ticked = task.tick(step - 1, done)
    if ticked == task:
        return task
    updated = s.update_task(ticked)
    s.append_events(
        [
            s.event(
                task.customer_id,
                EventKind.TASK_UPDATED,
                task=task.id,
                step=step,
                text=ticked.steps[step - 1].text,
                done=done,
            )
        ]
    )
    return updated


def tasks(
    s: Session,
    *,
    customer_id: int | None = None,
    worker: str | None = None,
    open_only: bool = False,
) -> list[Task]:
    """Tasks of a customer and/or a worker (both None: every task), by due date."""
    if customer_id is not None:
        s.get_customer(customer_id)
    return s.find_tasks(customer_id=customer_id, worker=worker, open_only=open_only)


def overdue_tasks(
    s: Session, *, customer_id: int | None = None, worker: str | None = None
) -> list[Task]:
    """Open tasks due before today (in the workspace's zone)."""
    found = tasks(s, customer_id=customer_id, worker=worker, open_only=True)
    day = today(s)
    return [task for task in found if task.overdue(day)]


# working time -------------------------------------------------------------------------------


def log_time(
    s: Session,
    customer_id: int,
    worker: str,
    minutes: int,
    *,
    at: datetime | None = None,
    note: str = "",
) -> TimeEntry:
    """Record working time spent on the customer (default moment: now)."""
    entry = TimeEntry(
        customer_id=customer_id,
        worker=worker,
        minutes=minutes,
        at=s.now() if at is None else at,
        note=note.strip(),
    )
    stored = s.insert_time_entry(entry)
    s.append_events(
        [
            s.event(
                stored.customer_id,
                EventKind.TIME_LOGGED,
                entry=stored.id,
                worker=stored.worker,
                minutes=stored.minutes,
                at=stored.at.isoformat(),
                note=stored.note,
            )
        ]
    )
    return stored


def time_entries(
    s: Session, *, customer_id: int | None = None, worker: str | None = None
) -> list[TimeEntry]:
    """Time entries of a customer and/or a worker, oldest first."""
    if customer_id is not None:
        s.get_customer(customer_id)
    return s.time_entries(customer_id=customer_id, worker=worker)


def time_summary(
    s: Session, *, customer_id: int | None = None, worker: str | None = None
) -> TimeSummary:
    """Minutes in total, per worker and per customer, for a customer and/or worker."""
    return summary(time_entries(s, customer_id=customer_id, worker=worker))


def summary(entries: list[TimeEntry]) -> TimeSummary:
    """Minutes in total, per worker and per customer, of ``entries``."""
    return TimeSummary(
        total_minutes=sum(entry.minutes for entry in entries),
        by_worker=minutes_by_worker(entries),
        by_customer=minutes_by_customer(entries),
    )


# workers ------------------------------------------------------------------------------------


def set_worker(s: Session, customer_id: int, worker: str, *, assigned: bool) -> Customer:
    """Assign a worker to the customer (twice changes nothing), or take them off (refused if
    not assigned)."""
    if not isinstance(worker, str) or not worker.strip():
        raise InvalidValue("a worker name must not be blank")
    name = worker.strip()
    before = s.lock_customer(customer_id)
    if (name in before.workers) == assigned:
        if assigned:
            return shown(s, before)
        raise InvalidValue(f"{name!r} is not assigned to customer {customer_id}")
    workers = (*before.workers, name) if assigned else tuple(w for w in before.workers if w != name)
    stored = s.update_customer(attrs.evolve(before, workers=workers, updated_at=s.now()))
    kind = EventKind.WORKER_ASSIGNED if assigned else EventKind.WORKER_UNASSIGNED
    s.append_events([s.event(before.id, kind, worker=name)])
    return shown(s, stored)


def customers_of(s: Session, worker: str) -> list[Customer]:
    """The customers a worker is assigned to (that the actor may see), oldest first."""
    return shown_all(s, s.customers_of_worker(worker.strip()))
