"""Follow-up reminders: a follow-up date falls due at a fixed local hour in the workspace's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import attrs


def reminder_moment(day: date, hour: int, zone: ZoneInfo) -> datetime:
    """The UTC moment ``hour``:00 local time on ``day``.

    A local time skipped by a daylight-saving jump is read with the offset in force
    before the jump (fold 0), a repeated one as its first occurrence: that way the
    moment always exists and later days never fall due earlier.
    """
    return datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC)


def last_due_day(at: datetime, hour: int, zone: ZoneInfo) -> date:
    """The latest follow-up date whose reminder moment is at or before ``at``.

    Reminder moments never decrease from one day to the next, so the dates due at
    ``at`` are exactly those on or before this one.
    """
    day = at.astimezone(zone).date() + timedelta(days=1)
    while reminder_moment(day, hour, zone) > at:
        day -= timedelta(days=1)
    return day


@attrs.frozen(kw_only=True)
class Reminder:
    """A follow-up that is due: the customer, the date, and the moment it fell due."""

    customer_id: int
    name: str
    due_on: date
    due_at: datetime
    workers: tuple[str, ...] = ()
    notes: str = ""
