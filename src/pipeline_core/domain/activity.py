"""What people do with a customer: tasks with checklists, working time, and timestamped notes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Literal

import attrs

from pipeline_core.customer import EPOCH, checked_text
from pipeline_core.errors import InvalidValue

Priority = Literal["low", "normal", "high", "urgent"]
PRIORITIES: tuple[Priority, ...] = ("low", "normal", "high", "urgent")


def _text(what: str) -> Callable[[str], str]:
    def convert(value: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise InvalidValue(f"{what} must not be blank")
        return checked_text(value).strip()

    return convert


def _step_text(value: str) -> str:
    return _text("a checklist step")(value)


def _title(value: str) -> str:
    return _text("a task title")(value)


def _worker(value: str) -> str:
    return _text("the worker of a time entry")(value)


def _optional(value: str | None) -> str | None:
    if value is None:
        return None
    return checked_text(value).strip() or None


def _aware(value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidValue(f"timestamp {value!r} must be a datetime with a time zone")
    return value


def _optional_aware(value: datetime | None) -> datetime | None:
    return None if value is None else _aware(value)


def _priority(value: str) -> Priority:
    for priority in PRIORITIES:
        if value == priority:
            return priority
    raise InvalidValue(f"priority must be one of {', '.join(PRIORITIES)}, not {value!r}")


def _due(value: date | None) -> date | None:
    if value is not None and (isinstance(value, datetime) or not isinstance(value, date)):
        raise InvalidValue(f"a due date must be a date, not {value!r}")
    return value


@attrs.frozen
class Step:
    """One checklist step of a task, ticked off on its own."""

    text: str = attrs.field(converter=_step_text)
    done: bool = False


def _steps(values: Iterable[Step | str]) -> tuple[Step, ...]:
    return tuple(value if isinstance(value, Step) else Step(value) for value in values)


@attrs.frozen(kw_only=True)
class Task:
    """Something to do for a customer: who, by when, how urgent, and an optional checklist."""

    id: int = 0
    customer_id: int
    title: str = attrs.field(converter=_title)
    description: str = ""
    due: date | None = attrs.field(default=None, converter=_due)
    worker: str | None = attrs.field(default=None, converter=_optional)
    priority: Priority = attrs.field(default="normal", converter=_priority)
    steps: tuple[Step, ...] = attrs.field(default=(), converter=_steps)
    created_at: datetime = attrs.field(default=EPOCH, converter=_aware)
    done_at: datetime | None = attrs.field(default=None, converter=_optional_aware)

    @property
    def done(self) -> bool:
        """Whether the task is finished."""
        return self.done_at is not None

    def overdue(self, today: date) -> bool:
        """Open and due before ``today``."""
        return not self.done and self.due is not None and self.due < today

    def tick(self, index: int, done: bool = True) -> Task:
        """The task with checklist step ``index`` (0-based) ticked off or on again."""
        if not 0 <= index < len(self.steps):
            raise InvalidValue(
                f"task {self.id} has {len(self.steps)} checklist step(s); no step {index + 1}"
            )
        steps = list(self.steps)
        steps[index] = attrs.evolve(steps[index], done=done)
        return attrs.evolve(self, steps=steps)


def _minutes(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidValue(f"minutes must be a whole number above zero, not {value!r}")
    return value


@attrs.frozen(kw_only=True)
class TimeEntry:
    """Working time spent on a customer: who, when, how many minutes, and what for."""

    id: int = 0
    customer_id: int
    worker: str = attrs.field(converter=_worker)
    at: datetime = attrs.field(converter=_aware)
    minutes: int = attrs.field(converter=_minutes)
    note: str = ""


def minutes_by_worker(entries: Iterable[TimeEntry]) -> dict[str, int]:
    """Total minutes per worker, workers sorted by name."""
    totals: dict[str, int] = {}
    for entry in entries:
        totals[entry.worker] = totals.get(entry.worker, 0) + entry.minutes
    return dict(sorted(totals.items()))


def minutes_by_customer(entries: Iterable[TimeEntry]) -> dict[int, int]:
    """Total minutes per customer id, ids ascending."""
    totals: dict[int, int] = {}
    for entry in entries:
        totals[entry.customer_id] = totals.get(entry.customer_id, 0) + entry.minutes
    return dict(sorted(totals.items()))


def prepend_note(notes: str, text: str | None, at: datetime) -> str:
    """``notes`` with ``text`` on top, stamped with the moment; blank text changes nothing."""
    if text is None or not text.strip():
        return notes
    entry = f"[{at.isoformat(timespec='minutes')}] {text.strip()}"
    return f"{entry}\n{notes}" if notes else entry
