"""Events: the append-only timeline of everything that happened to a customer."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime

import attrs

JSONValue = str | int | float | bool | None | list["JSONValue"] | dict[str, "JSONValue"]


class EventKind(enum.StrEnum):
    """What happened."""

    CREATED = "created"
    EDITED = "edited"
    STATUS_CHANGED = "status_changed"
    FOLDER_CHANGED = "folder_changed"
    TAGS_CHANGED = "tags_changed"
    HIDDEN_FROM_FLOW = "hidden_from_flow"
    SHOWN_IN_FLOW = "shown_in_flow"
    NOTE = "note"
    CONTACT_LOGGED = "contact_logged"
    FOLLOW_UP_SCHEDULED = "follow_up_scheduled"
    FOLLOW_UP_DONE = "follow_up_done"
    TASK_CREATED = "task_created"
    TASK_UPDATED = "task_updated"
    TASK_DONE = "task_done"
    TASK_REOPENED = "task_reopened"
    TIME_LOGGED = "time_logged"
    CONVERTED = "converted"
    WORKER_ASSIGNED = "worker_assigned"
    WORKER_UNASSIGNED = "worker_unassigned"
    EXTERNAL = "external"
    AUTOMATION_RAN = "automation_ran"
    MERGED = "merged"
    REMINDER_DUE = "reminder_due"
    TASK_DUE = "task_due"
    RECORD_ADDED = "record_added"
    RECORD_CHANGED = "record_changed"


def _kind(value: str) -> EventKind:
    # Most events are built with an EventKind already: skip the enum look-up for them.
    return value if isinstance(value, EventKind) else EventKind(value)


@attrs.frozen(kw_only=True)
class Event:
    """One entry of a customer's timeline. ``data`` holds JSON values (before/after and so on)."""

    customer_id: int
    kind: EventKind = attrs.field(converter=_kind)
    at: datetime
    actor: str
    data: Mapping[str, JSONValue] = attrs.field(factory=dict)
    id: int = 0


def with_id(event: Event, event_id: int) -> Event:
    """``event`` as a store keeps it, under the id the store gave it."""
    # The constructor, not attrs.evolve: half the cost, and a bulk import stores thousands.
    return Event(
        customer_id=event.customer_id,
        kind=event.kind,
        at=event.at,
        actor=event.actor,
        data=event.data,
        id=event_id,
    )
