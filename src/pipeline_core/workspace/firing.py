"""Firing reminders and overdue tasks: a ``reminder_due`` or ``task_due`` event, exactly once.

Each reminder has a key (the customer and the follow-up day; the task and its due
day) that the store records in the same transaction as the event, and refuses to
record twice: of two runners that overlap, one fires it; a runner killed
half-way committed nothing, and the next run fires it.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from pipeline_core.domain.activity import Task
from pipeline_core.domain.events import Event, EventKind
from pipeline_core.domain.outbox import local_iso
from pipeline_core.domain.reminders import Reminder
from pipeline_core.errors import InvalidValue
from pipeline_core.workspace.definitions import lifecycle
from pipeline_core.workspace.life import due_reminders
from pipeline_core.workspace.permissions import require_admin
from pipeline_core.workspace.session import Session


@attrs.frozen(kw_only=True)
class Fired:
    """What one run fired: the reminders and the overdue tasks, and their events."""

    reminders: tuple[Reminder, ...] = ()
    tasks: tuple[Task, ...] = ()
    events: tuple[Event, ...] = ()


def reminder_key(reminder: Reminder) -> str:
    """The fired-marker of a follow-up reminder: a new follow-up day fires again."""
    return f"reminder:{reminder.customer_id}:{reminder.due_on.isoformat()}"


def task_key(task: Task) -> str:
    """The fired-marker of an overdue task: a new due day fires again."""
    assert task.due is not None
    return f"task:{task.id}:{task.due.isoformat()}"


def fire(s: Session, at: datetime | None = None) -> Fired:
    """Fire every reminder due at ``at`` (default: now) and every task overdue then, once each.

    A follow-up on day D fires at the reminder hour of D in the workspace's zone;
    a task due on day D fires when D is over there (``tasks overdue``).
    """
    require_admin(s, "fire reminders")
    if at is not None and at.tzinfo is None:
        raise InvalidValue(f"--at {at.isoformat()} needs a time zone offset")
    moment = s.now() if at is None else at
    zone = lifecycle(s).zone
    reminders = due_reminders(s, moment)
    day = moment.astimezone(zone).date()
    tasks = [t for t in s.find_tasks(open_only=True) if t.overdue(day)]
    fired_keys = set(s.mark_fired([*map(reminder_key, reminders), *map(task_key, tasks)], s.now()))
    new_reminders = tuple(r for r in reminders if reminder_key(r) in fired_keys)
    new_tasks = tuple(t for t in tasks if task_key(t) in fired_keys)
    events = [
        s.event(
            r.customer_id,
            EventKind.REMINDER_DUE,
            due_on=r.due_on.isoformat(),
            due_at=local_iso(r.due_at, zone),
            message=f"Follow up with {r.name} (due {local_iso(r.due_at, zone)})",
        )
        for r in new_reminders
    ]
    events += [
        s.event(
            t.customer_id,
            EventKind.TASK_DUE,
            task=t.id,
            title=t.title,
            due_on=t.due.isoformat() if t.due else None,
            message=f"Task #{t.id} {t.title!r} is overdue (due {t.due})",
        )
        for t in new_tasks
    ]
    stored = s.append_events(events)
    return Fired(reminders=new_reminders, tasks=new_tasks, events=tuple(stored))
