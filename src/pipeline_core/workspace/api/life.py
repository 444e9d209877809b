"""``ws.notes``, ``ws.tasks``, ``ws.time``, ``ws.workers``, ``ws.reminders``: the work on customers."""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Iterable
from datetime import date, datetime

from pipeline_core.customer import Customer
from pipeline_core.domain.activity import Priority, Step, Task, TimeEntry
from pipeline_core.domain.events import Event
from pipeline_core.domain.reminders import Reminder
from pipeline_core.domain.view import TimeSummary
from pipeline_core.workspace import firing, life, runner, work
from pipeline_core.workspace.firing import Fired
from pipeline_core.workspace.runner import RunReport
from pipeline_core.workspace.session import SessionOpener


class Notes:
    """Notes on a customer's timeline."""

    def __init__(self, opener: SessionOpener) -> None:
        self._opener = opener

    def add(self, customer_id: int, text: str) -> Event:
        """Add a note to the customer's timeline; the stored event (with its id)."""
        return self._opener.write(None, life.add_note, customer_id, text)

    def list(self, customer_id: int) -> builtins.list[Event]:
        """The customer's notes, oldest first."""
        return self._opener.run(life.notes, customer_id)


class Tasks:
    """Tasks on customers, with checklists of steps."""

    def __init__(self, opener: SessionOpener) -> None:
        self._opener = opener

    def add(
        self,
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
        return self._opener.write(
            None,
            work.add_task,
            customer_id,
            title,
            description=description,
            due=due,
            worker=worker,
            priority=priority,
            steps=steps,
        )

    def get(self, task_id: int) -> Task:
        """The task with that id."""
        return self._opener.run(work.get_task, task_id)

    def done(self, task_id: int) -> Task:
        """Mark a task done (now); done tasks are no longer open or overdue."""
        return self._opener.write(None, work.set_task_done, task_id, done=True)

    def reopen(self, task_id: int) -> Task:
        """Open a done task again."""
        return self._opener.write(None, work.set_task_done, task_id, done=False)

    def tick(self, task_id: int, step: int, done: bool = True) -> Task:
        """Tick off (or un-tick) checklist step number ``step`` (counted from 1) of a task."""
        return self._opener.write(None, work.tick_step, task_id, step, done)

    def list(
        self,
        *,
        customer_id: int | None = None,
        worker: str | None = None,
        open_only: bool = False,
    ) -> builtins.list[Task]:
        """Tasks of a customer and/or a worker (both None: every task), by due date."""
        return self._opener.run(
            work.tasks, customer_id=customer_id, worker=worker, open_only=open_only
        )

    def overdue(
        self, *, customer_id: int | None = None, worker: str | None = None
    ) -> builtins.list[Task]:
        """Open tasks due before today (in the workspace's zone)."""
        return self._opener.run(work.overdue_tasks, customer_id=customer_id, worker=worker)


class Time:
    """Working time spent on customers."""

    def __init__(self, opener: SessionOpener) -> None:
        self._opener = opener

    def log(
        self,
        customer_id: int,
        worker: str,
        minutes: int,
        *,
        at: datetime | None = None,
        note: str = "",
    ) -> TimeEntry:
        """Record working time spent on the customer (default moment: now)."""
        return self._opener.write(
            None, work.log_time, customer_id, worker, minutes, at=at, note=note
        )

    def list(
        self, *, customer_id: int | None = None, worker: str | None = None
    ) -> builtins.list[TimeEntry]:
        """Time entries of a customer and/or a worker, oldest first."""
        return self._opener.run(work.time_entries, customer_id=customer_id, worker=worker)

    def summary(self, *, customer_id: int | None = None, worker: str | None = None) -> TimeSummary:
        """Minutes in total, per worker and per customer, for a customer and/or worker."""
        return self._opener.run(work.time_summary, customer_id=customer_id, worker=worker)


class Workers:
    """Workers (team members) assigned to customers."""

    def __init__(self, opener: SessionOpener) -> None:
        self._opener = opener

    def assign(self, customer_id: int, worker: str) -> Customer:
        """Assign a worker to the customer; assigning twice changes nothing."""
        return self._opener.write(None, work.set_worker, customer_id, worker, assigned=True)

    def unassign(self, customer_id: int, worker: str) -> Customer:
        """Take a worker off the customer; refused if not assigned."""
        return self._opener.write(None, work.set_worker, customer_id, worker, assigned=False)

    def customers(self, worker: str) -> builtins.list[Customer]:
        """The customers a worker is assigned to (that the actor may see), oldest first."""
        return self._opener.run(work.customers_of, worker)


class Reminders:
    """Follow-up reminders: due at the reminder hour of the follow-up day."""

    def __init__(self, opener: SessionOpener) -> None:
        self._opener = opener

    def due(self, at: datetime | None = None) -> builtins.list[Reminder]:
        """Follow-ups due at ``at`` (default: now) and not done, earliest first."""
        return self._opener.run(life.due_reminders, at)

    def run(self, at: datetime | None = None) -> Fired:
        """Fire every reminder due and task overdue at ``at`` (default: now), each exactly once.

        Each gets a ``reminder_due`` or ``task_due`` event, which triggers automations.
        """
        return self._opener.run(firing.fire, at)

    def watch(
        self,
        *,
        interval: float = 60.0,
        stop: threading.Event,
        on_round: Callable[[Fired, RunReport], object] = lambda fired, report: None,
    ) -> int:
        """Fire reminders and run deliveries every ``interval`` seconds until ``stop`` is set."""
        return runner.watch(self._opener, interval=interval, stop=stop, on_round=on_round)
