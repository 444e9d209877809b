"""Workspace use cases of the customer's life: notes, contacts, follow-ups, tasks, time, deals.

Each public method is one use case in one transaction, recorded on the timeline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs

from pipeline_core.customer import Customer
from pipeline_core.domain.activity import (
    Priority,
    Step,
    Task,
    TimeEntry,
    minutes_by_customer,
    minutes_by_worker,
    prepend_note,
)
from pipeline_core.domain.events import Event, EventKind, JSONValue
from pipeline_core.domain.reminders import Reminder, last_due_day, reminder_moment
from pipeline_core.domain.serialization import converter
from pipeline_core.domain.settings import SETTINGS_KEY as LIFECYCLE_KEY
from pipeline_core.domain.settings import LifecycleSettings
from pipeline_core.domain.view import CustomerTree, CustomerView, TimeSummary
from pipeline_core.errors import AlreadyConverted, InvalidValue, NotFound
from pipeline_core.storage import Transaction
from pipeline_core.workspace.base import ScopedTransaction, WorkspaceBase

RECENT_EVENTS = 10


class LifeMixin(WorkspaceBase):
    """Notes, contacts, follow-ups and reminders, tasks, time, deals, orders, families, workers."""

    # settings -----------------------------------------------------------------------

    def lifecycle_settings(self) -> LifecycleSettings:
        """The time zone, reminder hour and lost reasons in force."""
        with self._tx() as tx:
            return self._lifecycle(tx)

    def configure(
        self,
        *,
        time_zone: str | None = None,
        reminder_hour: int | None = None,
        lost_reasons: Iterable[str] | None = None,
    ) -> LifecycleSettings:
        """Change some of the lifecycle settings; the others stay."""
        with self._tx() as tx:
            self._require_admin(tx, "change workspace settings")
            current = self._lifecycle(tx)
            changes: dict[str, Any] = {}
            if time_zone is not None:
                changes["time_zone"] = time_zone
            if reminder_hour is not None:
                changes["reminder_hour"] = reminder_hour
            if lost_reasons is not None:
                changes["lost_reasons"] = tuple(lost_reasons)
            updated = attrs.evolve(current, **changes)
            tx.put_setting(LIFECYCLE_KEY, converter.unstructure(updated))
            return updated

    def today(self) -> date:
        """Today's date in the workspace's time zone, by the workspace's clock."""
        return self.clock.now().astimezone(self.lifecycle_settings().zone).date()

    def _today(self, tx: Transaction) -> date:
        return self.clock.now().astimezone(self._lifecycle(tx).zone).date()

    # notes, contacts, follow-ups ------------------------------------------------------

    def add_note(self, customer_id: int, text: str) -> Event:
        """Add a note to the customer's timeline."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidValue("a note must not be blank")
        with self._tx() as tx:
            tx.get_customer(customer_id)
            event = self._event(customer_id, EventKind.NOTE, text=text.strip())
            tx.append_events([event])
            return event

    def notes(self, customer_id: int) -> list[Event]:
        """The customer's notes, oldest first."""
        return self._timeline_of(customer_id, EventKind.NOTE)

    def _timeline_of(self, customer_id: int, kind: EventKind) -> list[Event]:
        with self._tx() as tx:
            customer_id = tx.get_customer(customer_id).id  # a merged customer's old id: its primary
            return [event for event in tx.events(customer_id) if event.kind is kind]

    def log_contact(
        self, customer_id: int, notes: str | None = None, *, channel: str | None = None
    ) -> Customer:
        """Record that someone contacted the customer now; notes go on top of the lead notes."""
        with self._tx() as tx:
            current = tx.lock_customer(customer_id)
            now = self.clock.now()
            stored = self._noted_change(
                tx, current, notes, now, {"last_contacted_at": now}, EventKind.CONTACT_LOGGED,
                channel=channel,
            )  # fmt: skip
            return self._shown(tx, stored)

    def _noted_change(
        self,
        tx: Transaction,
        current: Customer,
        notes: str | None,
        now: datetime,
        changes: dict[str, Any],
        kind: EventKind,
        **data: JSONValue,
    ) -> Customer:
        """Apply ``changes`` at ``now``, notes on top of the lead notes, and record a ``kind`` event."""
        updated = attrs.evolve(
            current,
            updated_at=now,
            lead_notes=prepend_note(current.lead_notes, notes, now),
            **changes,
        )
        stored = tx.update_customer(updated)
        tx.append_events([self._event(current.id, kind, notes=_text(notes), **data)])
        return stored

    def schedule_follow_up(self, customer_id: int, on: date, notes: str | None = None) -> Customer:
        """Set the customer's next follow-up date; its reminder falls due that day at the hour."""
        with self._tx() as tx:
            return self._shown(tx, self._schedule_in(tx, tx.lock_customer(customer_id), on, notes))

    def _schedule_in(
        self, tx: Transaction, current: Customer, on: date, notes: str | None
    ) -> Customer:
        if isinstance(on, datetime) or not isinstance(on, date):
            raise InvalidValue(f"a follow-up is a date, not {on!r}")
        previous = None if current.next_follow_up is None else current.next_follow_up.isoformat()
        return self._noted_change(
            tx, current, notes, self.clock.now(), {"next_follow_up": on},
            EventKind.FOLLOW_UP_SCHEDULED,
            on=on.isoformat(), previous=previous,
        )  # fmt: skip

    def complete_follow_up(self, customer_id: int, notes: str | None = None) -> Customer:
        """Mark the customer's follow-up done: its reminder is no longer due."""
        with self._tx() as tx:
            current = tx.lock_customer(customer_id)
            if current.next_follow_up is None:
                raise InvalidValue(f"customer {customer_id} has no follow-up scheduled")
            stored = self._noted_change(
                tx, current, notes, self.clock.now(), {"next_follow_up": None},
                EventKind.FOLLOW_UP_DONE,
                on=current.next_follow_up.isoformat(),
            )  # fmt: skip
            return self._shown(tx, stored)

    def due_reminders(self, at: datetime | None = None) -> list[Reminder]:
        """Follow-ups due at ``at`` (default: now) and not done, earliest first.

        A follow-up on day D falls due at the reminder hour on D in the workspace's zone.
        """
        if at is not None and at.tzinfo is None:
            raise InvalidValue(f"--at {at.isoformat()} needs a time zone offset")
        moment = self.clock.now() if at is None else at
        with self._tx() as tx:
            settings = self._lifecycle(tx)
            last = last_due_day(moment, settings.reminder_hour, settings.zone)
            due = tx.follow_ups_until(last)
        reminders = []
        for customer in due:
            assert customer.next_follow_up is not None
            reminders.append(
                Reminder(
                    customer_id=customer.id,
                    name=customer.name,
                    due_on=customer.next_follow_up,
                    due_at=reminder_moment(
                        customer.next_follow_up, settings.reminder_hour, settings.zone
                    ),
                    workers=customer.workers,
                    notes=customer.lead_notes.partition("\n")[0],
                )
            )
        return reminders

    # tasks --------------------------------------------------------------------------

    def add_task(
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
        task = Task(
            customer_id=customer_id,
            title=title,
            description=description,
            due=due,
            worker=worker,
            priority=priority,
            steps=steps,
            created_at=self.clock.now(),
        )
        with self._tx() as tx:
            return self._add_task_in(tx, task)

    def _add_task_in(self, tx: Transaction, task: Task) -> Task:
        stored = tx.insert_task(task)
        tx.append_events(
            [
                self._event(
                    task.customer_id,
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

    def get_task(self, task_id: int) -> Task:
        """The task with that id."""
        with self._tx() as tx:
            return tx.get_task(task_id)

    def complete_task(self, task_id: int) -> Task:
        """Mark a task done (now); done tasks are no longer open or overdue."""
        return self._set_task_done(task_id, done=True)

    def reopen_task(self, task_id: int) -> Task:
        """Open a done task again."""
        return self._set_task_done(task_id, done=False)

    def _set_task_done(self, task_id: int, *, done: bool) -> Task:
        with self._tx() as tx:
            task = tx.get_task(task_id)
            if task.done == done:
                return task
            updated = tx.update_task(attrs.evolve(task, done_at=self.clock.now() if done else None))
            kind = EventKind.TASK_DONE if done else EventKind.TASK_REOPENED
            tx.append_events([self._event(task.customer_id, kind, task=task.id, title=task.title)])
            return updated

    def tick_step(self, task_id: int, step: int, done: bool = True) -> Task:
        """Tick off (or un-tick) checklist step number ``step`` (counted from 1) of a task."""
        with self._tx() as tx:
            task = tx.get_task(task_id)
            ticked = task.tick(step - 1, done)
            if ticked == task:
                return task
            updated = tx.update_task(ticked)
            tx.append_events(
                [
                    self._event(
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
        self,
        *,
        customer_id: int | None = None,
        worker: str | None = None,
        open_only: bool = False,
    ) -> list[Task]:
        """Tasks of a customer and/or a worker (both None: every task), by due date."""
        with self._tx() as tx:
            if customer_id is not None:
                tx.get_customer(customer_id)
            return tx.find_tasks(customer_id=customer_id, worker=worker, open_only=open_only)

    def overdue_tasks(
        self, *, customer_id: int | None = None, worker: str | None = None
    ) -> list[Task]:
        """Open tasks due before today (in the workspace's zone)."""
        with self._tx() as tx:
            if customer_id is not None:
                tx.get_customer(customer_id)
            today = self._today(tx)
            found = tx.find_tasks(customer_id=customer_id, worker=worker, open_only=True)
        return [task for task in found if task.overdue(today)]

    # working time -------------------------------------------------------------------

    def log_time(
        self,
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
            at=self.clock.now() if at is None else at,
            note=note.strip(),
        )
        with self._tx() as tx:
            stored = tx.insert_time_entry(entry)
            tx.append_events(
                [
                    self._event(
                        customer_id,
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
        self, *, customer_id: int | None = None, worker: str | None = None
    ) -> list[TimeEntry]:
        """Time entries of a customer and/or a worker, oldest first."""
        with self._tx() as tx:
            if customer_id is not None:
                tx.get_customer(customer_id)
            return tx.time_entries(customer_id=customer_id, worker=worker)

    def time_summary(
        self, *, customer_id: int | None = None, worker: str | None = None
    ) -> TimeSummary:
        """Minutes in total, per worker and per customer, for a customer and/or worker."""
        entries = self.time_entries(customer_id=customer_id, worker=worker)
        return _summary(entries)

    # deal, outcome, order -------------------------------------------------------------

    def set_deal(
        self,
        customer_id: int,
        value: Decimal | int | str | None,
        currency: str | None = None,
        *,
        expected_version: int | None = None,
    ) -> Customer:
        """Set the deal value (a decimal) and its currency; a value needs a currency."""
        current = self.get_customer(customer_id)
        changes: dict[str, object] = {"value": value}
        if currency is not None:
            changes["currency"] = currency
        if value not in (None, "") and currency is None and current.currency is None:
            raise InvalidValue("a deal value needs a currency (an ISO 4217 code such as EUR)")
        version = current.version if expected_version is None else expected_version
        return self.edit_customer(customer_id, expected_version=version, **changes)

    def convert_to_order(self, customer_id: int, order_id: str, *, force: bool = False) -> Customer:
        """Record the order the customer became; stamps ``converted_at`` the first time.

        Converting again is refused with ``AlreadyConverted`` unless ``force``; even
        then ``converted_at`` keeps its first value.
        """
        if not isinstance(order_id, str) or not order_id.strip():
            raise InvalidValue("an order id must not be blank")
        with self._tx() as tx:
            current = tx.lock_customer(customer_id)
            if current.order_id is not None and not force:
                raise AlreadyConverted(
                    f"customer {customer_id} was already converted to order "
                    f"{current.order_id!r}; force it to record another order"
                )
            now = self.clock.now()
            updated = attrs.evolve(
                current,
                order_id=order_id,
                converted_at=current.converted_at or now,
                updated_at=now,
            )
            stored = tx.update_customer(updated)
            tx.append_events(
                [
                    self._event(
                        customer_id,
                        EventKind.CONVERTED,
                        order_id=stored.order_id,
                        previous=current.order_id,
                        forced=force and current.order_id is not None,
                    )
                ]
            )
            return self._shown(tx, stored)

    # families -----------------------------------------------------------------------

    def set_parent(self, customer_id: int, parent_id: int | None) -> Customer:
        """Make ``parent_id`` the customer's parent (None: none); a cycle is refused."""
        current = self.get_customer(customer_id)
        return self.edit_customer(
            customer_id, expected_version=current.version, parent_id=parent_id
        )

    def children(self, customer_id: int) -> list[Customer]:
        """The customer's direct sub-customers, oldest first."""
        with self._tx() as tx:
            tx.get_customer(customer_id)
            return self._shown_all(tx, tx.children(customer_id))

    def tree(self, customer_id: int, *, from_root: bool = False) -> CustomerTree:
        """The customer and all its sub-customers; ``from_root``: its topmost ancestor's tree.

        Only customers the actor may see: the root is the topmost visible ancestor,
        and invisible sub-customers are left out with everything below them.
        """
        with self._tx() as tx:
            top = tx.get_customer(customer_id)
            while from_root and top.parent_id is not None:
                parent = self._visible_or_none(tx, top.parent_id)
                if parent is None:
                    break
                top = parent
            return self._subtree(tx, top, set())

    def _visible_or_none(self, tx: ScopedTransaction, customer_id: int) -> Customer | None:
        try:
            return tx.get_customer(customer_id)
        except NotFound:
            return None

    def _subtree(self, tx: ScopedTransaction, customer: Customer, seen: set[int]) -> CustomerTree:
        seen.add(customer.id)
        kids = [child for child in tx.children(customer.id) if child.id not in seen]
        return CustomerTree(
            customer=self._shown(tx, customer),
            children=tuple(self._subtree(tx, kid, seen) for kid in kids),
        )

    # workers ------------------------------------------------------------------------

    def assign(self, customer_id: int, worker: str) -> Customer:
        """Assign a worker (team member) to the customer; assigning twice changes nothing."""
        return self._set_worker(customer_id, worker, assigned=True)

    def unassign(self, customer_id: int, worker: str) -> Customer:
        """Take a worker off the customer; refused if not assigned."""
        return self._set_worker(customer_id, worker, assigned=False)

    def _set_worker(self, customer_id: int, worker: str, *, assigned: bool) -> Customer:
        if not isinstance(worker, str) or not worker.strip():
            raise InvalidValue("a worker name must not be blank")
        name = worker.strip()
        with self._tx() as tx:
            current = tx.lock_customer(customer_id)
            if (name in current.workers) == assigned:
                if assigned:
                    return current
                raise InvalidValue(f"{name!r} is not assigned to customer {customer_id}")
            workers = (
                (*current.workers, name)
                if assigned
                else tuple(w for w in current.workers if w != name)
            )
            stored = tx.update_customer(
                attrs.evolve(current, workers=workers, updated_at=self.clock.now())
            )
            kind = EventKind.WORKER_ASSIGNED if assigned else EventKind.WORKER_UNASSIGNED
            tx.append_events([self._event(customer_id, kind, worker=name)])
            return self._shown(tx, stored)

    def customers_of(self, worker: str) -> list[Customer]:
        """The customers a worker is assigned to (that the actor may see), oldest first."""
        with self._tx() as tx:
            return self._shown_all(tx, tx.customers_of_worker(worker.strip()))

    # external activity ----------------------------------------------------------------

    def record_activity(
        self,
        customer_id: int,
        kind: str,
        summary: str,
        *,
        at: datetime | None = None,
        ref: str | None = None,
        data: Mapping[str, JSONValue] | None = None,
    ) -> Event:
        """Put something the host application did on the customer's timeline.

        ``kind`` names it (``email_sent``, ``order_paid``...), ``at`` is when it
        happened (default: now), ``ref`` an id or link into the host's system.
        Automations can wait for it (``on: external``, ``activity: KIND``).
        """
        if not isinstance(kind, str) or not kind.strip():
            raise InvalidValue("an external activity needs a kind, such as 'email_sent'")
        if not isinstance(summary, str) or not summary.strip():
            raise InvalidValue("an external activity needs a summary")
        if at is not None and at.tzinfo is None:
            raise InvalidValue(f"activity time {at.isoformat()} needs a time zone offset")
        happened = self.clock.now() if at is None else at
        with self._tx() as tx:
            tx.get_customer(customer_id)
            event = self._event(
                customer_id,
                EventKind.EXTERNAL,
                activity=kind.strip(),
                summary=summary.strip(),
                occurred_at=happened.isoformat(),
                ref=ref,
                details=dict(data or {}),
            )
            tx.append_events([event])
            return event

    # the 360-degree view ------------------------------------------------------------

    def customer_view(self, customer_id: int, *, recent: int = RECENT_EVENTS) -> CustomerView:
        """Everything about one customer: profile, family, tasks, follow-up, time, latest events."""
        with self._tx() as tx:
            customer = tx.get_customer(customer_id)
            customer_id = customer.id  # a merged customer's old id shows its primary
            settings = self._lifecycle(tx)
            today = self.clock.now().astimezone(settings.zone).date()
            parent = (
                None
                if customer.parent_id is None
                else self._visible_or_none(tx, customer.parent_id)
            )
            open_tasks = tx.find_tasks(customer_id=customer_id, open_only=True)
            events = self._shown_events(tx, tx.events(customer_id))
            entries = tx.time_entries(customer_id=customer_id)
            follow_up = customer.next_follow_up
            return CustomerView(
                customer=self._shown(tx, customer),
                parent=None if parent is None else self._shown(tx, parent),
                children=tuple(self._shown_all(tx, tx.children(customer_id))),
                open_tasks=tuple(open_tasks),
                overdue_tasks=tuple(t.id for t in open_tasks if t.overdue(today)),
                follow_up_due_at=None
                if follow_up is None
                else reminder_moment(follow_up, settings.reminder_hour, settings.zone),
                time=_summary(entries),
                recent_events=tuple(events[-recent:] if recent > 0 else ()),
                event_count=len(events),
            )


def _summary(entries: list[TimeEntry]) -> TimeSummary:
    return TimeSummary(
        total_minutes=sum(entry.minutes for entry in entries),
        by_worker=minutes_by_worker(entries),
        by_customer=minutes_by_customer(entries),
    )


def _text(notes: str | None) -> str | None:
    return None if notes is None or not notes.strip() else notes.strip()


def days_after(day: date, days: int) -> date:
    """``day`` plus ``days`` days."""
    return day + timedelta(days=days)
